import type { Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

/** "The bytes this user's uploads take", summed on every upload for the quota, from the index alone. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('files_uploader_idx').on('files').columns(['uploader_id', 'size_bytes']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('files_uploader_idx').execute();
}
