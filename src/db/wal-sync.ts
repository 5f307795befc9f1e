import fs from 'node:fs';

/**
 * What `synchronous=FULL` does for a WAL database, made explicit so that one commit can be flushed
 * off the event loop: the connection runs with `synchronous=NORMAL` (its commits write the WAL but
 * do not flush it) and this flushes the WAL after every write transaction.
 *
 * Ordinary commits are flushed at once, on the calling thread, exactly as FULL would. The message
 * writer's commits are deferred instead: it calls `flush()`, which runs `fdatasync` on libuv's
 * thread pool while the event loop goes on parsing frames, and confirms the batch once it resolves.
 */
export class WalSync {
  private fd: number | null = null;
  private deferred = false;

  constructor(private readonly walPath: string) {}

  /** The next commit of the connection is left for `flush()`. Call it inside the transaction. */
  deferCommit(): void {
    this.deferred = true;
  }

  /** A write transaction has just ended on the connection. */
  committed(): void {
    if (this.deferred) this.deferred = false;
    else fs.fdatasyncSync(this.walFd());
  }

  /** A transaction ended without a write: a deferral asked for inside it lapses. */
  ended(): void {
    this.deferred = false;
  }

  /** Resolves once everything committed so far is on disk. */
  flush(): Promise<void> {
    // No WAL yet: nothing was ever written through this connection.
    if (this.fd === null && !fs.existsSync(this.walPath)) return Promise.resolve();
    const fd = this.walFd();
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /**
   * SQLite creates the WAL at the first write and deletes it only when its last connection closes,
   * which the server's own connection is not while it runs: one descriptor serves throughout.
   */
  private walFd(): number {
    this.fd ??= fs.openSync(this.walPath, 'r+');
    return this.fd;
  }
}
