import { existsSync } from 'node:fs';
import type { Config } from '../config.js';
import { createDb, type Db } from '../db/database.js';
import { migrateToLatest, pendingMigrations } from '../db/migrate.js';
import { databaseFile, describeDatabase } from '../locations.js';
import { failed, type Outcome } from './outcome.js';

/**
 * Runs `command` on the server's database. A command that writes brings the schema up to date
 * first, as the server does at start. One that only reads changes nothing: it may run beside a
 * server of an older version, which a migration would leave with a schema it cannot read; it
 * refuses a database that lacks migrations, and a missing SQLite file, rather than make one.
 * Either refuses a database migrated by a newer version.
 */
export async function withDatabase(config: Config, access: 'read' | 'write', command: (db: Db) => Promise<Outcome>): Promise<Outcome> {
  const file = databaseFile(config);
  if (access === 'read' && file !== null && !existsSync(file)) {
    return failed(`There is no database at ${file} (DATABASE_URL=${config.databaseUrl}, from the folder ${process.cwd()}).`);
  }
  const db = await createDb(config, { error: (...args: unknown[]) => console.error(...args) });
  try {
    if (access === 'write') {
      await migrateToLatest(db.kysely);
    } else {
      const pending = await pendingMigrations(db.kysely);
      if (pending.length > 0) {
        return failed(
          `The database ${describeDatabase(config)} is of an older version of the server (it lacks ${pending.join(', ')}): ` +
            'start this version of the server once, which brings it up to date, then run this again.',
        );
      }
    }
    return await command(db);
  } finally {
    await db.kysely.destroy();
  }
}
