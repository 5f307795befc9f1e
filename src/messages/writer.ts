import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import type { FileQueries } from '../files/queries.js';
import { commitBatch, type SendOutcome, type SendRequest } from './batch-store.js';

type Deliver = (outcome: Extract<SendOutcome, { ok: true }>) => void;

interface Pending {
  request: SendRequest;
  resolve: (outcome: SendOutcome) => void;
}

/**
 * Group commit: sends that arrive in the same event-loop turn are committed in one transaction,
 * so a durable commit (fsync) is paid once per turn rather than once per message. The flush runs
 * off the event loop, which meanwhile takes in the sends of the next batch. Batches run one at a
 * time, in arrival order; nothing is delivered or confirmed before its batch is on disk.
 */
export class MessageWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private running: Promise<void> | null = null;
  private last: Promise<unknown> = Promise.resolve();

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
      this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.running = this.commit(batch).finally(() => {
      this.running = null;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    let outcomes: SendOutcome[];
    try {
      outcomes = await commitBatch(
        this.db,
        this.files,
        batch.map((p) => p.request),
      );
      await this.db.durability.flush();
    } catch (err) {
      this.log.error({ err, size: batch.length }, 'message batch failed to commit or reach the disk');
      const error = new AppError(503, 'STORE_UNAVAILABLE', 'The message could not be stored; send it again');
      for (const p of batch) p.resolve({ ok: false, error });
      return;
    }
    // Delivery in id order, which is the batch's order for new messages.
    outcomes.forEach((outcome, i) => {
      if (outcome.ok && !outcome.duplicate) this.deliver(outcome);
      batch[i]!.resolve(outcome);
    });
  }
}
