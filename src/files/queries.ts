import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, FileRow, FilesTable, MessageFilesTable } from '../db/schema.js';
import { badRequest } from '../errors.js';
import type { Message } from '../http/schemas.js';
import type { FileLinks } from './links.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** Ids per `in (…)` list: well under the bound on parameters of SQLite (32766) and PostgreSQL (65535). */
const IDS_PER_QUERY = 5000;
const ROWS_PER_INSERT = 1000;

/** A send named a file that does not exist or that the sender did not upload: the same answer for both. */
export const fileNotYours = (id: number) =>
  badRequest('FILE_NOT_FOUND', `files: file ${id} is not one of your uploads`, { field: 'files' });

export function fileQueries(db: Kysely<Database>, links: FileLinks) {
  return {
    links,

    async insert(row: Insertable<FilesTable>): Promise<FileRow> {
      return db.insertInto('files').values(row).returningAll().executeTakeFirstOrThrow();
    },

    find(id: number): Promise<FileRow | undefined> {
      return db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** True when the file is attached to a message (not deleted) in a chat the user is in. */
    async sharedWith(fileId: number, userId: number): Promise<boolean> {
      const row = await db
        .selectFrom('message_files as mf')
        .innerJoin('messages as m', 'm.id', 'mf.message_id')
        .innerJoin('chat_members as cm', (join) => join.onRef('cm.chat_id', '=', 'm.chat_id').on('cm.user_id', '=', userId))
        .select('mf.file_id')
        .where('mf.file_id', '=', fileId)
        .where('m.deleted_at', 'is', null)
        .limit(1)
        .executeTakeFirst();
      return row !== undefined;
    },

    /** The files with these ids (those that exist), by id. */
    async byIds(ids: readonly number[], executor: Executor = db): Promise<Map<number, FileRow>> {
      const found = new Map<number, FileRow>();
      const unique = [...new Set(ids)];
      for (let start = 0; start < unique.length; start += IDS_PER_QUERY) {
        const rows = await executor
          .selectFrom('files')
          .selectAll()
          .where('id', 'in', unique.slice(start, start + IDS_PER_QUERY))
          .execute();
        for (const row of rows) found.set(row.id, row);
      }
      return found;
    },

    async attach(rows: Insertable<MessageFilesTable>[], executor: Executor = db): Promise<void> {
      for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
        await executor
          .insertInto('message_files')
          .values(rows.slice(start, start + ROWS_PER_INSERT))
          .execute();
      }
    },

    /**
     * Fills each message's `files` (signed urls) in one query for the lot: history pages, replays,
     * last messages. A deleted message keeps no files.
     */
    async withFiles<T extends Message>(messages: T[], executor: Executor = db): Promise<T[]> {
      const live = messages.filter((m) => m.deleted_at === null);
      for (const m of live) m.files = [];
      const byId = new Map(live.map((m) => [m.id, m]));
      const ids = [...byId.keys()];
      const now = Date.now();
      for (let start = 0; start < ids.length; start += IDS_PER_QUERY) {
        const rows = await executor
          .selectFrom('message_files as mf')
          .innerJoin('files as f', 'f.id', 'mf.file_id')
          .select(['mf.message_id', 'f.id', 'f.filename', 'f.mime_type', 'f.size_bytes', 'f.created_at'])
          .where('mf.message_id', 'in', ids.slice(start, start + IDS_PER_QUERY))
          .orderBy('mf.message_id')
          .orderBy('mf.position')
          .execute();
        for (const row of rows) byId.get(row.message_id)!.files.push(links.toFileObject(row, now));
      }
      return messages;
    },
  };
}

export type FileQueries = ReturnType<typeof fileQueries>;
