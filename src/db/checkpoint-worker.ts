import { workerData } from 'node:worker_threads';
import SQLite from 'better-sqlite3';

/**
 * Copies the WAL back into the database file from a connection of its own, on its own thread:
 * PASSIVE never waits for (or blocks) the server's writes, and its fsync stops no event loop.
 */
const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new SQLite(file);
db.pragma('busy_timeout = 5000');
setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), intervalMs);
