import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { SqliteSynchronous } from '../config.js';
import { serverFiles } from '../runtime/files.js';
import type { WalSync } from './wal-sync.js';

const STATEMENT_CACHE_SIZE = 500;

/**
 * Opens the SQLite file for the server: WAL so readers never block the writer, foreign keys, a
 * busy timeout for other processes (backups, the sqlite3 shell) holding the lock, and temporary
 * storage in memory. `synchronous` is the connection's own setting: with a `WalSync`, FULL is
 * NORMAL plus an explicit flush per commit.
 */
export function openSqlite(file: string, synchronous: SqliteSynchronous, checkpointElsewhere: boolean): SQLite.Database {
  // Every message is in it: readable by its owner only. SQLite gives the -wal and -shm files the
  // database file's mode, so making it first, 0600, covers them too (the umask would give 0644).
  if (file !== ':memory:') restrictMode(file);
  const db = new SQLite(file, serverFiles.sqliteOptions());
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A statement over many rows inside a transaction keeps a journal of the pages it changes, to undo
  // itself alone; past 64 KiB SQLite moves it to a new temporary file (created, written, deleted).
  // A batch of sends across a dozen chats gets there (a page of each index per chat): in memory it
  // costs no system calls, and no commit depends on a writable temporary folder.
  db.pragma('temp_store = MEMORY');
  // A file database is checkpointed by a thread of its own (checkpointer.ts), not inside commits.
  if (checkpointElsewhere) db.pragma('wal_autocheckpoint = 0');
  return db;
}

export interface ConnectionOptions {
  /** Flushes the WAL after each write transaction; absent, commits are as durable as `synchronous` makes them. */
  walSync?: WalSync;
  onClose?: () => void;
}

/**
 * The connection as Kysely's SQLite dialect sees it. Kysely's driver prepares every query anew; the
 * server runs the same few dozen SQL texts over and over, so this keeps their prepared statements
 * (bounded, least recently used first out). With a `WalSync`, every statement that ends a write
 * transaction (a COMMIT, or a write outside any transaction) hands the flush to it.
 */
export function kyselyConnection(db: SQLite.Database, { walSync, onClose }: ConnectionOptions = {}): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  let wrote = false;
  const ended = () => {
    if (db.inTransaction) return;
    if (wrote) walSync!.committed();
    else walSync!.ended();
    wrote = false;
  };
  const prepare = (sql: string): SqliteStatement => {
    const statement = db.prepare(sql);
    if (!walSync) return statement as unknown as SqliteStatement;
    const writes = !statement.readonly;
    return {
      reader: statement.reader,
      all(parameters) {
        const rows = statement.all(parameters as unknown[]);
        wrote ||= writes;
        ended();
        return rows;
      },
      run(parameters) {
        const result = statement.run(parameters as unknown[]);
        wrote ||= writes;
        ended();
        return result;
      },
      iterate: (parameters) => statement.iterate(parameters as unknown[]),
    };
  };
  return {
    close: () => {
      onClose?.();
      db.close();
      walSync?.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = prepare(sql);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}

/**
 * Creates the file 0600, or makes an existing one so, with its -wal and -shm (a version before
 * this made them 0644); a file this process may not change is left as it is.
 */
function restrictMode(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
    } catch {
      // Not there, or not ours: SQLite says so when it opens the database, if it matters.
    }
  }
}
