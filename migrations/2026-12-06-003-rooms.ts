import type { Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

/** The rooms the rooms server shipped with, under the ids its clients know (COMPAT.md). */
const SEEDED = [
  { name: 'general', room_uuid: '00000000-0000-0000-0000-000000000001' },
  { name: 'random', room_uuid: '00000000-0000-0000-0000-000000000002' },
];

export async function up(db: Kysely<any>): Promise<void> {
  // Public chats (chat_type 'room'). SQLite cannot add a UNIQUE column: the indexes make them unique.
  await db.schema.alterTable('chats').addColumn('room_uuid', 'text').execute();
  await db.schema.alterTable('chats').addColumn('room_key', 'text').execute();
  // The /api surface names rooms by UUID.
  await db.schema.createIndex('chats_room_uuid_idx').on('chats').column('room_uuid').unique().execute();
  // Room names are unique without regard to case, and the directory lists rooms in this order.
  await db.schema.createIndex('chats_room_key_idx').on('chats').column('room_key').unique().execute();

  const now = new Date().toISOString();
  await db
    .insertInto('chats')
    .values(
      SEEDED.map(({ name, room_uuid }) => ({
        chat_type: 'room',
        name,
        owner_id: null,
        direct_key: null,
        created_at: now,
        last_message_id: null,
        last_activity_at: now,
        room_uuid,
        room_key: name,
      })),
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('chats').where('chat_type', '=', 'room').execute();
  await db.schema.dropIndex('chats_room_key_idx').execute();
  await db.schema.dropIndex('chats_room_uuid_idx').execute();
  await db.schema.alterTable('chats').dropColumn('room_key').execute();
  await db.schema.alterTable('chats').dropColumn('room_uuid').execute();
}
