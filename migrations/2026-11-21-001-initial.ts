import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const id = postgres ? ('serial' as const) : ('integer' as const);
  // AUTOINCREMENT on SQLite: ids never reused, so message ids only ever grow.
  const primary = (col: ColumnDefinitionBuilder) => (postgres ? col.primaryKey() : col.primaryKey().autoIncrement());

  await db.schema
    .createTable('users')
    .addColumn('id', id, primary)
    .addColumn('username', 'text', (col) => col.notNull())
    .addColumn('username_key', 'text', (col) => col.notNull().unique())
    .addColumn('password_hash', 'text')
    .addColumn('display_name', 'text')
    .addColumn('bio', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('last_seen_at', 'text')
    .execute();

  await db.schema
    .createTable('chats')
    .addColumn('id', id, primary)
    .addColumn('chat_type', 'text', (col) => col.notNull())
    .addColumn('name', 'text')
    .addColumn('owner_id', 'integer', (col) => col.references('users.id'))
    .addColumn('direct_key', 'text', (col) => col.unique())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('last_message_id', 'integer')
    .addColumn('last_activity_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('chat_members')
    .addColumn('chat_id', 'integer', (col) => col.notNull().references('chats.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (col) => col.notNull().references('users.id'))
    .addColumn('joined_at', 'text', (col) => col.notNull())
    .addColumn('last_read_message_id', 'integer', (col) => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('chat_members_pk', ['chat_id', 'user_id'])
    .execute();
  // "Which chats is this user in": the primary key serves "who is in this chat".
  await db.schema.createIndex('chat_members_user_idx').on('chat_members').columns(['user_id', 'chat_id']).execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', id, primary)
    .addColumn('chat_id', 'integer', (col) => col.notNull().references('chats.id').onDelete('cascade'))
    .addColumn('sender_id', 'integer', (col) => col.notNull().references('users.id'))
    .addColumn('content', 'text')
    .addColumn('client_id', 'text')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('edited_at', 'text')
    .addColumn('deleted_at', 'text')
    .execute();
  // History pages, unread counts and resume all walk one chat's messages by id.
  await db.schema.createIndex('messages_chat_id_idx').on('messages').columns(['chat_id', 'id']).execute();
  // Idempotent sends: one message per (sender, client_id); NULLs are distinct in both dialects.
  await db.schema
    .createIndex('messages_sender_client_id_idx')
    .on('messages')
    .columns(['sender_id', 'client_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('messages').execute();
  await db.schema.dropTable('chat_members').execute();
  await db.schema.dropTable('chats').execute();
  await db.schema.dropTable('users').execute();
}
