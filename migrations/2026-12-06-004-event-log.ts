import { PostgresAdapter, sql, type Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

/**
 * The event log: edits, deletes, read markers and chat changes, under ids drawn from the same
 * sequence as message ids, so that messages and events have one order, which live delivery and
 * `resume` both follow.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  await db.schema
    .createTable('events')
    .addColumn('id', 'integer', (col) =>
      // SQLite: the writer draws the id from the messages' AUTOINCREMENT counter itself.
      postgres ? col.primaryKey().defaultTo(sql`nextval('messages_id_seq')`) : col.primaryKey(),
    )
    .addColumn('chat_id', 'integer', (col) => col.notNull().references('chats.id').onDelete('cascade'))
    // 'edit' | 'delete' | 'read' | 'chat'
    .addColumn('kind', 'text', (col) => col.notNull())
    .addColumn('message_id', 'integer')
    // 'read': the reader.
    .addColumn('user_id', 'integer')
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();
  // A resume walks the log of each of the user's chats from where it left off.
  await db.schema.createIndex('events_chat_id_idx').on('events').columns(['chat_id', 'id']).execute();
  // Who a 'chat' event is for: it differs per change (a leaver, a joiner, every member).
  await db.schema
    .createTable('event_recipients')
    .addColumn('event_id', 'integer', (col) => col.notNull().references('events.id').onDelete('cascade'))
    .addColumn('user_id', 'integer', (col) => col.notNull())
    .addPrimaryKeyConstraint('event_recipients_pk', ['event_id', 'user_id'])
    .execute();
  if (!postgres) {
    // The counter that message and event ids share: SQLite only makes its row at the first message.
    await sql`insert into sqlite_sequence (name, seq)
      select 'messages', coalesce((select max(id) from messages), 0)
      where not exists (select 1 from sqlite_sequence where name = 'messages')`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('event_recipients').execute();
  await db.schema.dropTable('events').execute();
}
