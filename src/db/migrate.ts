import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, Migrator, type Kysely } from 'kysely';

// src/db → migrations/, both from the sources (tests) and from dist/ (the build).
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

export class MigrationError extends Error {}

// Migrations see the schema as it was when they were written, not as the application types it now.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

/**
 * Brings the schema up to date. A database that has migrations this build does not know was
 * written by a newer version of the server: refuse it rather than run against a schema we cannot read.
 */
export async function migrateToLatest(db: AnyDb): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
  });
  const known = new Set((await migrator.getMigrations()).map((m) => m.name));
  const applied = await appliedMigrationNames(db);
  const unknown = applied.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new MigrationError(
      `The database was migrated by a newer version of this server (unknown migrations: ${unknown.join(', ')}). ` +
        'Upgrade the server, or point DATABASE_URL at another database.',
    );
  }
  const { error } = await migrator.migrateToLatest();
  if (error) throw new MigrationError(`Migration failed: ${(error as Error).message ?? String(error)}`);
}

async function appliedMigrationNames(db: AnyDb): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration')) return [];
  const anyDb = db as Kysely<{ kysely_migration: { name: string } }>;
  const rows = await anyDb.selectFrom('kysely_migration').select('name').execute();
  return rows.map((r) => r.name);
}
