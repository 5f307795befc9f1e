import { parentPort, workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';
import { serverFiles } from '../runtime/files.js';
import type { CheckpointerData, FromCheckpointer, ToCheckpointer } from './checkpointer.js';

/**
 * Copies the WAL back into the database file from a connection of its own, on its own thread:
 * PASSIVE never waits for (or blocks) the server's writes, and its fsync stops no event loop.
 */
const { file, intervalMs, restartFrames } = workerData as CheckpointerData;
const db = new SQLite(file, serverFiles.sqliteOptions());
db.pragma('busy_timeout = 5000');
const report = (message: FromCheckpointer) => parentPort!.postMessage(message);
let restarting = false;

function checkpoint(): { log: number; checkpointed: number } {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
  return result!;
}

function attempt(step: () => void): void {
  try {
    step();
  } catch (err) {
    // A full disk, say: the server's own connection hears of it too, at its next commit.
    restarting = false;
    report({ type: 'failed', error: err instanceof Error ? err.message : String(err) });
  }
}

setInterval(() => {
  attempt(() => {
    if (checkpoint().log < restartFrames || restarting) return;
    restarting = true;
    report({ type: 'restart-wanted' });
  });
}, intervalMs);

parentPort!.on('message', (message: ToCheckpointer) => {
  if (message.type !== 'finish') return;
  attempt(() => {
    // The server holds its connection meanwhile: this copies every frame, and its next write
    // starts the WAL over from the beginning.
    checkpoint();
    restarting = false;
    report({ type: 'finished' });
  });
});
