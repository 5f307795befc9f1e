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

    async insert(row: Insertable<FilesTable>, executor: Executor = db): Promise<FileRow> {
      return executor.insertInto('files').values(row).returningAll().executeTakeFirstOrThrow();
    },

    /** The bytes of the user's uploads that still exist. */
    async storedBytes(userId: number, executor: Executor = db): Promise<number> {
      const row = await executor
        .selectFrom('files')
        .select((eb) => eb.fn.coalesce(eb.fn.sum<number | string>('size_bytes'), eb.lit(0)).as('bytes'))
        .where('uploader_id', '=', userId)
        .executeTakeFirstOrThrow();
      // A bigint, which PostgreSQL's driver gives as a string.
      return Number(row.bytes);
    },

    /**
     * The next `limit` uploads by id after `after`, of those made before `cutoff`, with whether a
     * message that is not deleted references each.
     */
    async uploadedBefore(cutoff: string, after: number, limit: number): Promise<{ id: number; attached: boolean }[]> {
      const rows = await db
        .selectFrom('files as f')
        .select((eb) => [
          'f.id',
          eb
            .exists(
              eb
                .selectFrom('message_files as mf')
                .innerJoin('messages as m', 'm.id', 'mf.message_id')
                .select('mf.file_id')
                .whereRef('mf.file_id', '=', 'f.id')
                .where('m.deleted_at', 'is', null),
            )
            .as('attached'),
        ])
        .where('f.id', '>', after)
        .where('f.created_at', '<', cutoff)
        .orderBy('f.id')
        .limit(limit)
        .execute();
      // SQLite answers 0 or 1, PostgreSQL a boolean.
      return rows.map((row) => ({ id: row.id, attached: Boolean(row.attached) }));
    },

    /**
     * Deletes those of these uploads that no message references, once the references of deleted
     * messages are gone (nothing shows those), and answers their stored names. An upload attached
     * meanwhile is kept: the last statement checks again, and the foreign key backs it up. On
     * PostgreSQL that key may fail this sweep (the next one keeps the file), or a send that read
     * the file just before this commit: only an upload past its TTL, attached at that moment.
     */
    async removeUnattached(ids: readonly number[]): Promise<string[]> {
      return db.transaction().execute(async (trx) => {
        await trx
          .deleteFrom('message_files')
          .where('file_id', 'in', ids)
          .where(({ exists, selectFrom }) =>
            exists(selectFrom('messages').select('id').whereRef('messages.id', '=', 'message_files.message_id').where('deleted_at', 'is not', null)),
          )
          .execute();
        const rows = await trx
          .deleteFrom('files')
          .where('id', 'in', ids)
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('message_files').select('file_id').whereRef('message_files.file_id', '=', 'files.id'))),
          )
          .returning('stored_name')
          .execute();
        return rows.map((row) => row.stored_name);
      });
    },

    find(id: number): Promise<FileRow | undefined> {
      return db.selectFrom('files').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** True when the user uploaded the file, or may see it in a chat (`sharedWith`). */
    async visibleTo(fileId: number, userId: number): Promise<boolean> {
      const row = await db.selectFrom('files').select('uploader_id').where('id', '=', fileId).executeTakeFirst();
      return row !== undefined && (row.uploader_id === userId || (await this.sharedWith(fileId, userId)));
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
     * Fills each message's `files` in one query for the lot: history pages, replays, last messages.
     * Their urls are signed for `viewer`, or with `sender` for each message's sender (the hub signs
     * them again for each recipient: see `Hub.deliver`). A deleted message keeps no files.
     */
    async withFiles<T extends Message>(messages: T[], viewer: number | 'sender', executor: Executor = db): Promise<T[]> {
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
        for (const row of rows) {
          const message = byId.get(row.message_id)!;
          message.files.push(links.toFileObject(row, viewer === 'sender' ? message.sender_id : viewer, now));
        }
      }
      return messages;
    },
  };
}

export type FileQueries = ReturnType<typeof fileQueries>;
