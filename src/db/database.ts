import path from 'node:path';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { sqlitePath, type Config } from '../config.js';
import type { Database } from './schema.js';
import { startCheckpointer } from './checkpointer.js';
import { openSqlite, withStatementCache } from './sqlite.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
}

/** Builds the Kysely instance the dialect of `DATABASE_URL` calls for. */
export async function createDb(config: Pick<Config, 'databaseUrl' | 'sqliteSynchronous'>): Promise<Db> {
  const url = config.databaseUrl;
  if (url.startsWith('postgres')) {
    // Loaded only when used: most servers run on SQLite, and start-up time counts.
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    return { kysely: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), dialect: 'postgres' };
  }
  const file = sqlitePath(url);
  if (file === null) {
    const connection = openSqlite(':memory:', config.sqliteSynchronous, false);
    return { kysely: new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(connection) }) }), dialect: 'sqlite' };
  }
  const connection = openSqlite(path.resolve(file), config.sqliteSynchronous, true);
  const stopCheckpointer = startCheckpointer(path.resolve(file));
  const database = withStatementCache(connection, stopCheckpointer);
  return { kysely: new Kysely<Database>({ dialect: new SqliteDialect({ database }) }), dialect: 'sqlite' };
}
