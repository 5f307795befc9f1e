import type { FastifyBaseLogger } from 'fastify';
import type { FileQueries } from './queries.js';
import type { FileStore } from './storage.js';

/** Uploads looked at per query: each statement stays short, and SQLite's one connection is not held for long. */
const PAGE = 500;
/** The longest wait between sweeps: an unattached upload outlives its TTL by at most this much. */
const MAX_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Deletes uploads that no message references once they are older than the TTL: the row, then the
 * bytes. A file whose messages are all deleted counts as unreferenced (nobody but its uploader can
 * reach it any more), so deleting messages gives back quota. Every process may sweep at once: a row
 * is deleted by one of them, which alone removes its bytes.
 */
export class UploadSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly files: FileQueries,
    private readonly store: FileStore,
    private readonly ttlSeconds: number,
    private readonly log: Pick<FastifyBaseLogger, 'error'>,
  ) {}

  /** Sweeps every TTL (at most an hour apart), one sweep at a time, until `stop`. */
  start(): void {
    this.timer = setTimeout(() => {
      this.running = this.sweep()
        .catch((err: unknown) => this.log.error({ err }, 'the sweep of unattached uploads failed'))
        .then(() => {
          if (this.timer !== undefined) this.start();
        });
    }, Math.min(this.ttlSeconds * 1000, MAX_INTERVAL_MS));
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep under way: the database closes next. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Deletes the unreferenced uploads made more than the TTL before `now`; answers how many. */
  async sweep(now = Date.now()): Promise<number> {
    const cutoff = new Date(now - this.ttlSeconds * 1000).toISOString();
    let removed = 0;
    for (let after = 0; ; ) {
      const page = await this.files.uploadedBefore(cutoff, after, PAGE);
      const unattached = page.filter((file) => !file.attached).map((file) => file.id);
      const names = unattached.length > 0 ? await this.files.removeUnattached(unattached) : [];
      // A crash here leaves bytes without a row: wasted space, never a row without bytes.
      for (const name of names) await this.store.remove(name);
      removed += names.length;
      if (page.length < PAGE) return removed;
      after = page[page.length - 1]!.id;
    }
  }
}
