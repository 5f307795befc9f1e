import { Worker } from 'node:worker_threads';

// Beside this file: .ts when run from the sources (tests), .js from dist/.
const WORKER_URL = new URL(`./checkpoint-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
const INTERVAL_MS = 200;

/**
 * SQLite's automatic checkpoint runs inside whichever commit crosses the WAL threshold, on the
 * thread that commits: the server's event loop. The server's connection turns it off
 * (`wal_autocheckpoint = 0`) and this thread checkpoints instead. Returns a function that stops it.
 */
export function startCheckpointer(file: string): () => void {
  const worker = new Worker(WORKER_URL, { workerData: { file, intervalMs: INTERVAL_MS } });
  // It never keeps the process alive: the server's own connection is what matters.
  worker.unref();
  return () => void worker.terminate();
}
