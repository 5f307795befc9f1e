import SQLite from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { SqliteSynchronous } from '../config.js';

const STATEMENT_CACHE_SIZE = 500;

/**
 * Opens the SQLite file for the server: WAL so readers never block the writer, the chosen
 * `synchronous` level (FULL: a committed message survives power loss), foreign keys, and a busy
 * timeout for other processes (backups, the sqlite3 shell) holding the lock.
 */
export function openSqlite(file: string, synchronous: SqliteSynchronous, checkpointElsewhere: boolean): SQLite.Database {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // A file database is checkpointed by a thread of its own (checkpointer.ts), not inside commits.
  if (checkpointElsewhere) db.pragma('wal_autocheckpoint = 0');
  return db;
}

/**
 * Kysely's SQLite driver prepares every query anew; the server runs the same few dozen SQL texts
 * over and over, so this keeps their prepared statements (bounded, least recently used first out).
 */
export function withStatementCache(db: SQLite.Database, onClose: () => void = () => {}): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => {
      onClose();
      db.close();
    },
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement) {
        cache.delete(sql);
      } else {
        statement = db.prepare(sql) as unknown as SqliteStatement;
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, statement);
      return statement;
    },
  };
}
