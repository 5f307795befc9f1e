import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

// Frozen in time: written against Kysely<any>, never against the application's table types.

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const id = postgres ? ('serial' as const) : ('integer' as const);
  // AUTOINCREMENT on SQLite: a deleted file's id is never handed to another upload.
  const primary = (col: ColumnDefinitionBuilder) => (postgres ? col.primaryKey() : col.primaryKey().autoIncrement());

  await db.schema
    .createTable('files')
    .addColumn('id', id, primary)
    .addColumn('uploader_id', 'integer', (col) => col.notNull().references('users.id'))
    // The server's own name in DATA_DIR/uploads/, never the client's.
    .addColumn('stored_name', 'text', (col) => col.notNull().unique())
    // The client's name, sanitized: for display and Content-Disposition only.
    .addColumn('filename', 'text', (col) => col.notNull())
    // Detected from the bytes, not taken from the client.
    .addColumn('mime_type', 'text', (col) => col.notNull())
    .addColumn('size_bytes', 'integer', (col) => col.notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('message_files')
    .addColumn('message_id', 'integer', (col) => col.notNull().references('messages.id').onDelete('cascade'))
    .addColumn('file_id', 'integer', (col) => col.notNull().references('files.id'))
    .addColumn('position', 'integer', (col) => col.notNull())
    // "The files of these messages, in order".
    .addPrimaryKeyConstraint('message_files_pk', ['message_id', 'position'])
    .execute();
  // "Is this file attached in a chat this user is in" (downloads); a file appears once per message.
  await db.schema
    .createIndex('message_files_file_idx')
    .on('message_files')
    .columns(['file_id', 'message_id'])
    .unique()
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('message_files').execute();
  await db.schema.dropTable('files').execute();
}
