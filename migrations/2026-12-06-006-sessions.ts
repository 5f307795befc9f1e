import type { Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

/**
 * Sessions: every token names one, and is good only while its row is here, so that logging out,
 * a password change or a new database ends tokens at once. Invites: one-time codes for
 * REGISTRATION=invite, kept as their SHA-256 so that a copy of the database gives none away.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .execute();
  // "Log out everywhere" and a password change end every session of one user.
  await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();
  await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('invites')
    .addColumn('code_hash', 'text', (col) => col.primaryKey())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('used_at', 'text')
    .addColumn('used_by', 'integer', (col) => col.references('users.id').onDelete('set null'))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('invites').execute();
  await db.schema.dropTable('sessions').execute();
}
