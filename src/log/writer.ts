import type { FastifyBaseLogger } from 'fastify';
import type { Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { FileQueries } from '../files/queries.js';
import type { Message } from '../http/schemas.js';
import { commitBatch, discardMessages, type SendOutcome, type SendRequest } from '../messages/batch-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Delivery } from '../realtime/broker.js';
import { appendEvent, openLog, type EventInput } from './append.js';

/** What a write to the log changed: its answer, and the events to deliver once it is durable. */
export interface Logged<T> {
  result: T;
  deliveries: Delivery[];
}

/** A change written in a transaction of its own, in its turn among the sends; `append` adds its events to the log. */
export type LogWrite<T> = (trx: Transaction<Database>, append: (event: EventInput) => Promise<number>) => Promise<Logged<T>>;

type Job =
  | { kind: 'send'; request: SendRequest; resolve: (outcome: SendOutcome) => void }
  | { kind: 'write'; write: LogWrite<unknown>; resolve: (result: unknown) => void; reject: (err: unknown) => void };

/** A commit that waits for its flush: then it is delivered and answered, or refused. */
interface Committed {
  size: number;
  confirm(): void;
  /** Answers STORE_UNAVAILABLE, once `taken` (its messages, which no one was given) are taken back. */
  refuse(): void;
  taken: Message[];
}

/**
 * How long a flush may take before the sends waiting behind it are committed while it runs. A
 * flush usually takes a fraction of a millisecond; when the disk stalls for several, the sends of
 * the stall would otherwise all be committed after it, in one long transaction, before a flush of
 * their own could even start.
 */
const COMMIT_DURING_FLUSH_AFTER_MS = 1;

/**
 * Writes the log: messages, and the events (edits, deletes, read markers, chat changes) that share
 * their ids. Group commit: sends that arrive in the same event-loop turn are committed in one
 * transaction, so a durable commit (fsync) is paid once per turn rather than once per message; an
 * event is written in a transaction of its own, in its turn. The flush runs off the event loop,
 * which meanwhile takes in the next batch. Commits run one at a time, in arrival order (so ids
 * follow it), and so do flushes; nothing is delivered or answered before a flush that started
 * after its commit has ended, and deliveries go out in id order.
 */
export class LogWriter {
  private queue: Job[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  private last: Promise<unknown> = Promise.resolve();
  /** Commits that no flush has covered yet, oldest first. */
  private unflushed: Committed[] = [];
  /** The latest commit: the next one starts after it. */
  private committing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly files: FileQueries,
    /** Hands a committed event to the sockets; null where every process reads them from the database instead. */
    private readonly deliver: ((delivery: Delivery) => void) | null,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
    private readonly metrics: Pick<Metrics, 'commitSeconds' | 'flushSeconds' | 'messagesStored'> | null = null,
  ) {}

  /** Sends and changes waiting for their commit. */
  get queued(): number {
    return this.queue.length;
  }

  submit(request: SendRequest): Promise<SendOutcome> {
    return this.enqueue<SendOutcome>((resolve) => ({ kind: 'send', request, resolve }));
  }

  /** Runs `write` in its turn and answers its result once it is durable and delivered. */
  write<T>(write: LogWrite<T>): Promise<T> {
    return this.enqueue<T>((resolve, reject) => ({ kind: 'write', write, resolve: resolve as (r: unknown) => void, reject }));
  }

  /** Resolves once everything submitted so far has been committed (or refused), later ones aside. */
  async drain(): Promise<void> {
    // Jobs are answered in submission order: when the latest is settled, so is every earlier one.
    await this.last.catch(() => {});
  }

  private enqueue<T>(job: (resolve: (value: T) => void, reject: (err: unknown) => void) => Job): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      this.queue.push(job(resolve, reject));
      this.schedule();
    });
    this.last = answer;
    return answer;
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
    const flushTimer = this.metrics?.flushSeconds.startTimer();
    try {
      await this.db.durability.flush();
    } catch (err) {
      flushed = false;
      this.log.error({ err, writes: count(covered) + count(this.unflushed) }, 'log writes failed to reach the disk');
    }
    flushTimer?.();
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
      await this.discard(refused.flatMap((c) => c.taken));
      for (const commit of refused) commit.refuse();
      return;
    }
    for (const commit of covered) commit.confirm();
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
      const jobs = this.queue;
      this.queue = [];
      // Runs of sends commit together; each write between them in a transaction of its own.
      for (let i = 0; i < jobs.length; ) {
        const job = jobs[i]!;
        if (job.kind === 'write') {
          this.unflushed.push(await this.commitWrite(job));
          i++;
          continue;
        }
        let end = i;
        while (end < jobs.length && jobs[end]!.kind === 'send') end++;
        this.unflushed.push(await this.commitSends(jobs.slice(i, end) as Extract<Job, { kind: 'send' }>[]));
        i = end;
      }
    });
    return this.committing;
  }

  private async commitSends(batch: Extract<Job, { kind: 'send' }>[]): Promise<Committed> {
    let outcomes: SendOutcome[];
    const commitTimer = this.metrics?.commitSeconds.startTimer();
    try {
      outcomes = await commitBatch(this.db, this.files, batch.map((job) => job.request));
      commitTimer?.();
    } catch (err) {
      this.log.error({ err, size: batch.length }, 'message batch failed to commit');
      // Answered in its turn, after the commits before it: `drain()` relies on that order.
      outcomes = batch.map(storeUnavailable);
    }
    const taken = outcomes.flatMap((o) => (o.ok && !o.duplicate ? [o.message] : []));
    return {
      size: batch.length,
      taken,
      confirm: () => {
        // Stored once it is flushed: a batch refused after its commit is taken back.
        this.metrics?.messagesStored.inc(taken.length);
        // Delivery in id order, which is the order of the batches and, for new messages, within each.
        outcomes.forEach((outcome, i) => {
          if (outcome.ok && !outcome.duplicate) {
            this.deliver?.({ to: outcome.members, event: { type: 'message', message: outcome.message }, seq: outcome.message.id });
          }
          batch[i]!.resolve(outcome);
        });
      },
      refuse: () => batch.forEach((job) => job.resolve(storeUnavailable())),
    };
  }

  private async commitWrite(job: Extract<Job, { kind: 'write' }>): Promise<Committed> {
    const refuse = () => job.reject(changeUnavailable());
    const commitTimer = this.metrics?.commitSeconds.startTimer();
    try {
      const { result, deliveries } = await this.db.kysely.transaction().execute(async (trx) => {
        this.db.durability.deferCommit();
        await openLog(trx, this.db.dialect);
        return job.write(trx, (event) => appendEvent(trx, this.db.dialect, event));
      });
      commitTimer?.();
      return {
        size: 1,
        taken: [],
        confirm: () => {
          if (this.deliver) for (const delivery of deliveries) this.deliver(delivery);
          job.resolve(result);
        },
        refuse,
      };
    } catch (err) {
      if (!(err instanceof AppError)) this.log.error({ err }, 'a log write failed to commit');
      const answer = err instanceof AppError ? () => job.reject(err) : refuse;
      return { size: 1, taken: [], confirm: answer, refuse: answer };
    }
  }
}

const count = (commits: readonly Committed[]) => commits.reduce((n, c) => n + c.size, 0);

const storeUnavailable = (): Extract<SendOutcome, { ok: false }> => ({
  ok: false,
  error: new AppError(503, 'STORE_UNAVAILABLE', 'The message could not be stored; send it again'),
});

const changeUnavailable = () => new AppError(503, 'STORE_UNAVAILABLE', 'The change could not be stored; try again');
