import path from 'node:path';
import { sqlitePath, type Config } from './config.js';

// Where the data is, as the operator is shown it. Relative paths in the configuration are relative to
// the working directory, by design: shown absolute, a server started from another folder (which
// would make a new, empty database there) is seen at once.

/** The SQLite file as an absolute path; null for PostgreSQL or an in-memory database. */
export function databaseFile(config: Pick<Config, 'databaseUrl'>): string | null {
  const file = sqlitePath(config.databaseUrl);
  return file === null ? null : path.resolve(file);
}

export const isPostgres = (config: Pick<Config, 'databaseUrl'>) => config.databaseUrl.startsWith('postgres');

/** A PostgreSQL URL with its password left out, fit to print. */
export function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

/** The database in a few words: its file, or the PostgreSQL server and database (never the password). */
export function describeDatabase(config: Pick<Config, 'databaseUrl'>): string {
  if (isPostgres(config)) {
    const url = new URL(config.databaseUrl);
    return `PostgreSQL ${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  }
  return databaseFile(config) ?? 'in memory (gone when the process ends)';
}
