import { Migrator, PostgresAdapter, sql, type Kysely, type MigrationProvider } from 'kysely';
import { migrations } from '../../migrations/index.js';

export class MigrationError extends Error {}

// Migrations see the schema as it was when they were written, not as the application types it now.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };

/** Brings the schema up to date, unless a newer version of the server migrated it (`pendingMigrations`). */
export async function migrateToLatest(db: AnyDb): Promise<void> {
  await pendingMigrations(db);
  const { error } = await (await migratorFor(db)).migrateToLatest();
  if (error) throw new MigrationError(`Migration failed: ${(error as Error).message ?? String(error)}`);
}

/**
 * The migrations this build has that the database lacks. A database that has migrations this build
 * does not know was written by a newer version of the server: refuse it rather than run against a
 * schema we cannot read.
 */
export async function pendingMigrations(db: AnyDb): Promise<string[]> {
  const known = Object.keys(await migrationProvider.getMigrations());
  const applied = await appliedMigrationNames(db, await currentSchema(db));
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new MigrationError(
      `The database was migrated by a newer version of this server (unknown migrations: ${unknown.join(', ')}). ` +
        'Upgrade the server, or point DATABASE_URL at another database.',
    );
  }
  return known.filter((name) => !applied.includes(name));
}

/**
 * The migrator, with its tables in the schema the connection works in: PostgreSQL's introspection
 * lists every schema's tables, and another schema's `kysely_migration` would be taken for ours.
 */
export async function migratorFor(db: AnyDb): Promise<Migrator> {
  return new Migrator({ db, provider: migrationProvider, migrationTableSchema: await currentSchema(db) });
}

async function currentSchema(db: AnyDb): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]!.schema;
}

async function appliedMigrationNames(db: AnyDb, schema: string | undefined): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((t) => t.name === 'kysely_migration' && (schema === undefined || t.schema === schema))) return [];
  const anyDb = db as Kysely<{ kysely_migration: { name: string } }>;
  const rows = await anyDb.selectFrom('kysely_migration').select('name').execute();
  return rows.map((r) => r.name);
}
