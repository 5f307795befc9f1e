import type { Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

/**
 * When an operator deleted the account (`dm-server users delete`): its row stays, so that the
 * messages and chats that name it still hold, but nobody finds it, or starts a chat with it, again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('deleted_at', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('deleted_at').execute();
}
