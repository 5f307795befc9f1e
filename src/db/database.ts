import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { sqlitePath, type Config } from '../config.js';
import type { Database } from './schema.js';
import { startCheckpointer } from './checkpointer.js';
import { kyselyConnection, openSqlite } from './sqlite.js';
import { WalSync } from './wal-sync.js';

export type DialectName = 'sqlite' | 'postgres';

/**
 * How a transaction may leave its flush to disk for later: the message writer commits a batch
 * without blocking the event loop on `fsync`, and confirms the batch once `flush()` resolves.
 */
export interface Durability {
  /** The current transaction's commit need not be flushed at once. Call it inside the transaction. */
  deferCommit(): void;
  /** Resolves once every commit so far is as durable as the configuration promises. */
  flush(): Promise<void>;
}

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
  durability: Durability;
}

/** PostgreSQL commits durably by itself, and so does SQLite at the level it was opened with. */
const durableAtCommit: Durability = { deferCommit: () => {}, flush: () => Promise.resolve() };

/** Builds the Kysely instance the dialect of `DATABASE_URL` calls for. */
export async function createDb(config: Pick<Config, 'databaseUrl' | 'sqliteSynchronous'>, log: Pick<FastifyBaseLogger, 'error'>): Promise<Db> {
  const url = config.databaseUrl;
  if (url.startsWith('postgres')) {
    // Loaded only when used: most servers run on SQLite, and start-up time counts.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // A connection that the server drops (a restart, a failover, an administrator) is only taken
    // out of the pool: unheard, its error would end the process. The pool hears its idle
    // connections; one that is checked out, between the statements of a transaction, is heard here.
    pool.on('connect', (client) => client.on('error', (err) => log.error({ err }, 'a PostgreSQL connection was lost')));
    pool.on('error', () => {});
    return { kysely: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres', durability: durableAtCommit };
  }
  const file = sqlitePath(url);
  if (file === null) {
    const database = kyselyConnection(openSqlite(':memory:', config.sqliteSynchronous, false));
    return { kysely: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), dialect: 'sqlite', durability: durableAtCommit };
  }
  const resolved = path.resolve(file);
  // FULL is kept by flushing the WAL ourselves, which lets the message writer flush off the event loop.
  const walSync = config.sqliteSynchronous === 'FULL' ? new WalSync(`${resolved}-wal`) : undefined;
  const connection = openSqlite(resolved, walSync ? 'NORMAL' : config.sqliteSynchronous, true);
  const stopCheckpointer = startCheckpointer(resolved, {
    quiesce: (copyRest) => kysely.connection().execute(copyRest),
    onError: (err) => log.error({ err }, 'WAL checkpoint failed'),
  });
  const kysely: Kysely<Database> = new Kysely<Database>({
    dialect: new SqliteDialect({ database: kyselyConnection(connection, { walSync, onClose: stopCheckpointer }) }),
  });
  return { kysely, dialect: 'sqlite', durability: walSync ?? durableAtCommit };
}
