import { sql, type Insertable, type Transaction } from 'kysely';
import type { Db, DialectName } from '../db/database.js';
import type { Database, FileRow, MessageFilesTable } from '../db/schema.js';
import { chatNotFound, type AppError } from '../errors.js';
import { fileNotYours, type FileQueries } from '../files/queries.js';
import type { Message } from '../http/schemas.js';
import { openLog } from '../log/append.js';
import { toMessage, type MessageWithSender } from './model.js';

export interface SendRequest {
  chatId: number;
  senderId: number;
  sender: string;
  /** Null for a message of files only. */
  content: string | null;
  clientId: string | null;
  /** Uploads to attach, in order (each must be the sender's). */
  fileIds: readonly number[];
}

export type SendOutcome =
  | { ok: true; message: Message; duplicate: boolean; members: number[] }
  | { ok: false; error: AppError };

/**
 * Commits a batch of sends in one transaction and returns one outcome per request, in order. The
 * commit may not be on disk yet: the caller awaits `db.durability.flush()` before confirming.
 *
 * Ids increase in commit order: SQLite has one writer, and on PostgreSQL every batch opens the log
 * (`openLog`) before it draws ids.
 *
 * Every statement passes its rows as one parameter (a JSON array on SQLite, arrays on PostgreSQL):
 * its text is the same whatever the size of the batch, so it is prepared once and reused.
 */
export function commitBatch(db: Db, files: FileQueries, requests: readonly SendRequest[]): Promise<SendOutcome[]> {
  return db.kysely.transaction().execute(async (trx) => {
    // The writer flushes after the commit, off the event loop, and confirms nothing before that.
    db.durability.deferCommit();
    await openLog(trx, db.dialect);
    const now = new Date().toISOString();
    const members = await membersOf(trx, db.dialect, requests);
    // Only a batch in which some send attaches files pays for this query.
    const withFiles = requests.some((r) => r.fileIds.length > 0);
    const uploads = withFiles ? await files.byIds(requests.flatMap((r) => r.fileIds), trx) : new Map<number, FileRow>();

    const outcomes: (SendOutcome | undefined)[] = new Array(requests.length);
    const toInsert: number[] = [];
    const firstOfKey = new Map<string, number>();
    const duplicatesInBatch: [index: number, of: number][] = [];

    requests.forEach((req, index) => {
      const chatMembers = members.get(req.chatId);
      if (!chatMembers?.includes(req.senderId)) {
        outcomes[index] = { ok: false, error: chatNotFound() };
        return;
      }
      const notYours = req.fileIds.find((id) => uploads.get(id)?.uploader_id !== req.senderId);
      if (notYours !== undefined) {
        outcomes[index] = { ok: false, error: fileNotYours(notYours) };
        return;
      }
      if (req.clientId !== null) {
        const key = sendKey(req.senderId, req.clientId);
        const first = firstOfKey.get(key);
        if (first !== undefined) {
          duplicatesInBatch.push([index, first]);
          return;
        }
        firstOfKey.set(key, index);
      }
      toInsert.push(index);
    });

    // A client_id stored before (by an earlier batch) inserts nothing: those sends get the stored message.
    const ids = await insertMessages(trx, db.dialect, toInsert.map((i) => requests[i]!), now);
    const repeated = toInsert.filter((_, position) => ids[position] === undefined);
    const earlier = repeated.length > 0 ? await storedSends(trx, db.dialect, files, repeated.map((i) => requests[i]!)) : new Map<string, Message>();

    const attachments: Insertable<MessageFilesTable>[] = [];
    const stored: Message[] = [];
    toInsert.forEach((index, i) => {
      const req = requests[index]!;
      const id = ids[i];
      if (id === undefined) {
        const message = earlier.get(sendKey(req.senderId, req.clientId!))!;
        outcomes[index] = { ok: true, message, duplicate: true, members: members.get(message.chat_id) ?? [] };
        return;
      }
      req.fileIds.forEach((file_id, position) => attachments.push({ message_id: id, file_id, position }));
      const message: Message = {
        id,
        chat_id: req.chatId,
        sender_id: req.senderId,
        sender: req.sender,
        content: req.content,
        timestamp: now,
        client_id: req.clientId,
        edited_at: null,
        deleted_at: null,
        // For the sender, whom the send answers: the hub signs them again for each member.
        files: req.fileIds.map((fileId) => files.links.toFileObject(uploads.get(fileId)!, req.senderId)),
      };
      outcomes[index] = { ok: true, message, duplicate: false, members: members.get(req.chatId)! };
      stored.push(message);
    });
    if (attachments.length > 0) await files.attach(attachments, trx);
    for (const [index, of] of duplicatesInBatch) {
      const first = outcomes[of]!;
      outcomes[index] = first.ok ? { ...first, duplicate: true } : first;
    }

    await recordActivity(trx, db.dialect, stored, now);
    return outcomes as SendOutcome[];
  });
}

/**
 * Takes back messages that were committed but refused (their flush failed): no one was given them,
 * so they go, and each chat's last message and activity time are its newest remaining message's
 * (its creation time when none is left). Sent again, each is stored as a new message, with a new
 * id, and delivered in order.
 */
export async function discardMessages(db: Db, messages: readonly Message[]): Promise<void> {
  const chatIds = [...new Set(messages.map((m) => m.chat_id))];
  await db.kysely.transaction().execute(async (trx) => {
    // Their attachments go with them (ON DELETE CASCADE).
    await trx.deleteFrom('messages').where('id', 'in', messages.map((m) => m.id)).execute();
    await trx
      .updateTable('chats')
      .set({
        last_message_id: sql<number | null>`(select max(id) from messages where messages.chat_id = chats.id)`,
        last_activity_at: sql<string>`coalesce((
          select created_at from messages where messages.chat_id = chats.id order by id desc limit 1), chats.created_at)`,
      })
      .where('id', 'in', chatIds)
      .execute();
  });
}

const sendKey = (senderId: number, clientId: string) => `${senderId}\u0000${clientId}`;

type Column = 'integer' | 'text';

/**
 * Rows as one parameter, to select from: `jsonb_each(?)` on SQLite, `unnest(?, …)` on PostgreSQL.
 * (`jsonb_each` hands each row over as JSONB, which `->>` reads as it is; `json_each` would write
 * it out as text for `->>` to parse again, which costs thousands of instructions per row.)
 * `column(i)` reads the i-th value of a row; `position` orders the rows as given.
 */
function rowsParam(dialect: DialectName, columns: readonly Column[], rows: readonly (readonly unknown[])[]) {
  if (dialect === 'postgres') {
    const arrays = columns.map((type, i) => sql`${rows.map((row) => row[i])}::${sql.raw(type)}[]`);
    const names = columns.map((_, i) => sql.raw(`c${i}`));
    return {
      from: sql`unnest(${sql.join(arrays)}) with ordinality as r(${sql.join(names)}, n)`,
      column: (i: number) => sql.raw(`r.c${i}`),
      position: sql.raw('r.n'),
    };
  }
  return {
    from: sql`jsonb_each(${JSON.stringify(rows)}) as r`,
    column: (i: number) => sql.raw(`r.value ->> ${i}`),
    position: sql.raw('r.key'),
  };
}

/** Every member of every chat in the batch: both the membership check and the delivery list. */
async function membersOf(trx: Transaction<Database>, dialect: DialectName, requests: readonly SendRequest[]) {
  const chats = rowsParam(dialect, ['integer'], [...new Set(requests.map((r) => r.chatId))].map((id) => [id]));
  const { rows } = await sql<{ chat_id: number; user_id: number }>`
    select cm.chat_id, cm.user_id from ${chats.from} join chat_members cm on cm.chat_id = ${chats.column(0)}`.execute(trx);
  const members = new Map<number, number[]>();
  for (const { chat_id, user_id } of rows) {
    const list = members.get(chat_id);
    if (list) list.push(user_id);
    else members.set(chat_id, [user_id]);
  }
  return members;
}

/**
 * Inserts the sends in the order given and returns their ids, in the same order; `undefined` for
 * a send whose (sender, client_id) is stored already. One statement draws its ids in the order of
 * its rows, under the lock.
 */
async function insertMessages(trx: Transaction<Database>, dialect: DialectName, sends: readonly SendRequest[], now: string) {
  if (sends.length === 0) return [];
  const rows = rowsParam(
    dialect,
    ['integer', 'integer', 'text', 'text'],
    sends.map((s) => [s.chatId, s.senderId, s.content, s.clientId]),
  );
  const insert = sql`
    insert into messages (chat_id, sender_id, content, client_id, created_at)
    select ${rows.column(0)}, ${rows.column(1)}, ${rows.column(2)}, ${rows.column(3)}, ${now}
    from ${rows.from} where true order by ${rows.position}
    on conflict (sender_id, client_id) do nothing`;
  if (dialect === 'postgres') {
    const { rows: inserted } = await sql<KeyedId>`${insert} returning id, sender_id, client_id`.execute(trx);
    return idsOf(sends, inserted);
  }
  // SQLite without RETURNING, which costs a fifth of the insert or more (measured). Every row it
  // inserted has a larger id than any row before it (AUTOINCREMENT), and nothing else writes
  // meanwhile: with none skipped, those ids are consecutive and in the order of the rows.
  const { numAffectedRows, insertId } = await insert.execute(trx);
  const inserted = Number(numAffectedRows);
  const last = Number(insertId);
  if (inserted === sends.length) return sends.map((_, i) => last - inserted + 1 + i);
  if (inserted === 0) return sends.map(() => undefined);
  // Some keys were stored before (a skipped row may still use up an id): the newest rows are these.
  const { rows: newest } = await sql<KeyedId>`
    select id, sender_id, client_id from messages where id <= ${last} order by id desc limit ${inserted}`.execute(trx);
  return idsOf(sends, newest);
}

type KeyedId = { id: number; sender_id: number; client_id: string | null };

/**
 * Each send's id among the rows just inserted, by its (sender, client_id); the rows without a
 * client_id, sorted, pair up in order with the sends without one.
 */
function idsOf(sends: readonly SendRequest[], inserted: readonly KeyedId[]) {
  const byKey = new Map<string, number>();
  const withoutKey: number[] = [];
  for (const row of inserted) {
    if (row.client_id === null) withoutKey.push(row.id);
    else byKey.set(sendKey(row.sender_id, row.client_id), row.id);
  }
  withoutKey.sort((a, b) => a - b);
  let next = 0;
  return sends.map((s) => (s.clientId === null ? withoutKey[next++] : byKey.get(sendKey(s.senderId, s.clientId))));
}

/** The messages stored under these sends' (sender, client_id) keys. */
async function storedSends(trx: Transaction<Database>, dialect: DialectName, files: FileQueries, sends: readonly SendRequest[]) {
  const keys = rowsParam(dialect, ['integer', 'text'], sends.map((s) => [s.senderId, s.clientId]));
  const { rows } = await sql<MessageWithSender>`
    select m.*, u.username as sender from ${keys.from}
    join messages m on m.sender_id = ${keys.column(0)} and m.client_id = ${keys.column(1)}
    join users u on u.id = m.sender_id`.execute(trx);
  const messages = await files.withFiles(rows.map(toMessage), 'sender', trx);
  return new Map(messages.map((message) => [sendKey(message.sender_id, message.client_id!), message]));
}

/**
 * Each chat's newest message and activity time; each sender has read up to its own message.
 * Two statements per batch, however many chats and senders it holds.
 */
async function recordActivity(trx: Transaction<Database>, dialect: DialectName, stored: readonly Message[], now: string) {
  const lastByChat = new Map<number, number>();
  const lastBySender = new Map<string, [chatId: number, senderId: number, id: number]>();
  for (const { id, chat_id, sender_id } of stored) {
    lastByChat.set(chat_id, id);
    lastBySender.set(`${chat_id}:${sender_id}`, [chat_id, sender_id, id]);
  }
  if (lastByChat.size === 0) return;
  const chats = rowsParam(dialect, ['integer', 'integer'], [...lastByChat]);
  await sql`
    update chats set last_message_id = ${chats.column(1)}, last_activity_at = ${now}
    from ${chats.from} where chats.id = ${chats.column(0)}`.execute(trx);
  const readers = rowsParam(dialect, ['integer', 'integer', 'integer'], [...lastBySender.values()]);
  await sql`
    update chat_members set last_read_message_id = ${readers.column(2)}
    from ${readers.from}
    where chat_members.chat_id = ${readers.column(0)} and chat_members.user_id = ${readers.column(1)}
      and chat_members.last_read_message_id < ${readers.column(2)}`.execute(trx);
}
