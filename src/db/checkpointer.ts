import { Worker } from 'node:worker_threads';
import { serverFiles } from '../runtime/files.js';

const INTERVAL_MS = 200;
/** 64 MiB of 4 KiB pages: the WAL is started over once it holds this much. */
const RESTART_FRAMES = 16_384;

export interface CheckpointerData {
  file: string;
  intervalMs: number;
  restartFrames: number;
}
export type ToCheckpointer = { type: 'finish' };
export type FromCheckpointer = { type: 'restart-wanted' } | { type: 'finished' } | { type: 'failed'; error: string };

export interface CheckpointerHooks {
  /** Runs `copyRest` while no statement runs on the server's connection. */
  quiesce: (copyRest: () => Promise<void>) => Promise<void>;
  onError: (err: Error) => void;
}

/**
 * SQLite's automatic checkpoint runs inside whichever commit crosses the WAL threshold, on the
 * thread that commits: the server's event loop. The server's connection turns it off
 * (`wal_autocheckpoint = 0`) and a thread of its own checkpoints instead (PASSIVE, every 200 ms).
 *
 * Under steady writes that thread never reaches the WAL's end, since commits land while it copies,
 * and SQLite starts the WAL over from its beginning only once every frame is copied back: the WAL
 * would grow for as long as the writes go on, and each commit's flush would grow the file. So once
 * the WAL is large, the server holds its connection (the event loop runs on; statements wait)
 * while the thread copies the few frames left. Returns a function that stops the thread.
 */
export function startCheckpointer(file: string, { quiesce, onError }: CheckpointerHooks): () => void {
  const data: CheckpointerData = { file, intervalMs: INTERVAL_MS, restartFrames: RESTART_FRAMES };
  const worker = new Worker(serverFiles.worker('checkpoint-worker'), { workerData: data });
  let stopped = false;
  let finished: (() => void) | null = null;
  const settle = () => {
    if (!finished) return;
    finished();
    finished = null;
    worker.unref();
  };
  const copyRest = () =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      finished = resolve;
      // Statements wait on the answer: until it comes, the thread keeps the process alive.
      worker.ref();
      worker.postMessage({ type: 'finish' } satisfies ToCheckpointer);
    });

  worker.on('message', (message: FromCheckpointer) => {
    if (message.type === 'restart-wanted') {
      if (stopped) return;
      quiesce(copyRest).catch((err: Error) => {
        onError(err);
        // The thread waits for an answer before it asks again.
        worker.postMessage({ type: 'finish' } satisfies ToCheckpointer);
      });
      return;
    }
    settle();
    if (message.type === 'failed') onError(new Error(`WAL checkpoint failed: ${message.error}`));
  });
  worker.on('error', (err) => {
    settle();
    onError(err);
  });
  // Otherwise it never keeps the process alive: the server's own connection is what matters.
  worker.unref();
  return () => {
    stopped = true;
    settle();
    void worker.terminate();
  };
}
