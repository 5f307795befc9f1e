import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import type { FileQueries } from '../files/queries.js';
import type { Message } from '../http/schemas.js';
import { commitBatch, discardMessages, type SendOutcome, type SendRequest } from './batch-store.js';

type Deliver = (outcome: Extract<SendOutcome, { ok: true }>) => void;

interface Pending {
  request: SendRequest;
  resolve: (outcome: SendOutcome) => void;
}

interface Committed {
  batch: Pending[];
  outcomes: SendOutcome[];
}

/**
 * How long a flush may take before the sends waiting behind it are committed while it runs. A
 * flush usually takes a fraction of a millisecond; when the disk stalls for several, the sends of
 * the stall would otherwise all be committed after it, in one long transaction, before a flush of
 * their own could even start.
 */
const COMMIT_DURING_FLUSH_AFTER_MS = 1;

/**
 * Group commit: sends that arrive in the same event-loop turn are committed in one transaction,
 * so a durable commit (fsync) is paid once per turn rather than once per message. The flush runs
 * off the event loop, which meanwhile takes in the sends of the next batch. Commits run one at a
 * time, in arrival order, and so do flushes; nothing is delivered or confirmed before a flush that
 * started after its commit has ended.
 */
export class MessageWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  private last: Promise<unknown> = Promise.resolve();
  /** Committed batches that no flush has covered yet, oldest first. */
  private unflushed: Committed[] = [];
  /** The latest commit: the next one starts after it. */
  private committing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly files: FileQueries,
    private readonly deliver: Deliver,
    private readonly log: FastifyBaseLogger,
  ) {}

  submit(request: SendRequest): Promise<SendOutcome> {
    const outcome = new Promise<SendOutcome>((resolve) => {
      this.queue.push({ request, resolve });
      this.schedule();
    });
    this.last = outcome;
    return outcome;
  }

  /** Resolves once every send submitted so far has been committed (or refused), later ones aside. */
  async drain(): Promise<void> {
    // Batches commit in submission order: when the latest send is settled, so is every earlier one.
    await this.last;
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running = this.cycle().finally(() => {
        this.running = null;
        if (this.queue.length > 0 || this.unflushed.length > 0) this.schedule();
      });
    });
  }

  /** Commits what is queued, then flushes every commit so far and confirms it. */
  private async cycle(): Promise<void> {
    await this.commitQueued();
    const covered = this.unflushed;
    this.unflushed = [];
    const commitMeanwhile = setInterval(() => void this.commitQueued(), COMMIT_DURING_FLUSH_AFTER_MS);
    let flushed = true;
    try {
      await this.db.durability.flush();
    } catch (err) {
      flushed = false;
      this.log.error({ err, messages: count(covered) + count(this.unflushed) }, 'message batches failed to reach the disk');
    }
    clearInterval(commitMeanwhile);
    // A commit started meanwhile ends before this cycle does: the next one flushes it.
    await this.committing;
    if (!flushed) {
      // After a failed fsync, a later one may succeed without the pages written before the
      // failure: those were all committed by now, and none of them can be confirmed.
      const refused = [...covered, ...this.unflushed];
      this.unflushed = [];
      // Taken back before any send is answered, so that one sent again is stored anew: kept, it
      // would be answered as a repeat of a message that no other member was ever given.
      await this.discard(refused.flatMap(({ outcomes }) => outcomes.flatMap((o) => (o.ok && !o.duplicate ? [o.message] : []))));
      for (const { batch } of refused) for (const p of batch) p.resolve(storeUnavailable());
      return;
    }
    // Delivery in id order, which is the order of the batches and, for new messages, within each.
    for (const { batch, outcomes } of covered) {
      outcomes.forEach((outcome, i) => {
        if (outcome.ok && !outcome.duplicate) this.deliver(outcome);
        batch[i]!.resolve(outcome);
      });
    }
  }

  private discard(messages: Message[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    this.committing = this.committing.then(() =>
      discardMessages(this.db, messages).catch((err: unknown) => {
        // Kept, they are answered as repeats when sent again: stored, but delivered to no one else.
        this.log.error({ err, messages: messages.length }, 'refused messages could not be taken back');
      }),
    );
    return this.committing;
  }

  private commitQueued(): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      try {
        const outcomes = await commitBatch(
          this.db,
          this.files,
          batch.map((p) => p.request),
        );
        this.unflushed.push({ batch, outcomes });
      } catch (err) {
        this.log.error({ err, size: batch.length }, 'message batch failed to commit');
        // Answered in its turn, after the batches before it: `drain()` relies on that order.
        this.unflushed.push({ batch, outcomes: batch.map(storeUnavailable) });
      }
    });
    return this.committing;
  }
}

const count = (committed: readonly Committed[]) => committed.reduce((n, c) => n + c.batch.length, 0);

const storeUnavailable = (): SendOutcome => ({
  ok: false,
  error: new AppError(503, 'STORE_UNAVAILABLE', 'The message could not be stored; send it again'),
});
