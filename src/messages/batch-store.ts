import { sql, type Insertable, type Transaction } from 'kysely';
import type { Db, DialectName } from '../db/database.js';
import type { Database, FileRow, MessageFilesTable, MessagesTable } from '../db/schema.js';
import { chatNotFound, type AppError } from '../errors.js';
import { fileNotYours, type FileQueries } from '../files/queries.js';
import type { Message } from '../http/schemas.js';
import { toMessage, type MessageWithSender } from './model.js';

export interface SendRequest {
  chatId: number;
  senderId: number;
  sender: string;
  content: string;
  clientId: string | null;
  /** Uploads to attach, in order (each must be the sender's). */
  fileIds: readonly number[];
}

export type SendOutcome =
  | { ok: true; message: Message; duplicate: boolean; members: number[] }
  | { ok: false; error: AppError };

// Any constant: the key of the advisory lock that orders message commits on PostgreSQL.
const MESSAGE_COMMIT_LOCK = 7_340_101;
const INSERT_CHUNK = 500;

/**
 * Commits a batch of sends in one transaction and returns one outcome per request, in order. The
 * commit may not be on disk yet: the caller awaits `db.durability.flush()` before confirming.
 *
 * Ids increase in commit order: SQLite has one writer, and on PostgreSQL every batch takes the
 * same transaction-scoped advisory lock before it draws ids, so no batch can draw ids while
 * another that drew smaller ones is still uncommitted.
 */
export function commitBatch(db: Db, files: FileQueries, requests: readonly SendRequest[]): Promise<SendOutcome[]> {
  return db.kysely.transaction().execute(async (trx) => {
    // The writer flushes after the commit, off the event loop, and confirms nothing before that.
    db.durability.deferCommit();
    if (db.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${MESSAGE_COMMIT_LOCK})`.execute(trx);
    const now = new Date().toISOString();
    const members = await membersOf(trx, requests);
    const earlier = await earlierSends(trx, db.dialect, files, requests);
    // Only a batch in which some send attaches files pays for this query.
    const withFiles = requests.some((r) => r.fileIds.length > 0);
    const uploads = withFiles ? await files.byIds(requests.flatMap((r) => r.fileIds), trx) : new Map<number, FileRow>();

    const outcomes: (SendOutcome | undefined)[] = new Array(requests.length);
    const toInsert: { index: number; row: Insertable<MessagesTable> }[] = [];
    const firstOfKey = new Map<string, number>();
    const duplicatesInBatch: [index: number, of: number][] = [];

    requests.forEach((req, index) => {
      const chatMembers = members.get(req.chatId);
      if (!chatMembers?.includes(req.senderId)) {
        outcomes[index] = { ok: false, error: chatNotFound() };
        return;
      }
      const key = req.clientId === null ? null : sendKey(req.senderId, req.clientId);
      const stored = key === null ? undefined : earlier.get(key);
      if (stored) {
        outcomes[index] = { ok: true, message: stored, duplicate: true, members: members.get(stored.chat_id) ?? [] };
        return;
      }
      const notYours = req.fileIds.find((id) => uploads.get(id)?.uploader_id !== req.senderId);
      if (notYours !== undefined) {
        outcomes[index] = { ok: false, error: fileNotYours(notYours) };
        return;
      }
      if (key !== null) {
        const first = firstOfKey.get(key);
        if (first !== undefined) {
          duplicatesInBatch.push([index, first]);
          return;
        }
        firstOfKey.set(key, index);
      }
      toInsert.push({
        index,
        row: { chat_id: req.chatId, sender_id: req.senderId, content: req.content, client_id: req.clientId, created_at: now },
      });
    });

    const attachments: Insertable<MessageFilesTable>[] = [];
    for (let start = 0; start < toInsert.length; start += INSERT_CHUNK) {
      const chunk = toInsert.slice(start, start + INSERT_CHUNK);
      const ids = await trx
        .insertInto('messages')
        .values(chunk.map((c) => c.row))
        .returning('id')
        .execute();
      // One statement draws its ids in the order of its rows, under the lock: sorted, they pair up.
      const sorted = ids.map((r) => r.id).sort((a, b) => a - b);
      chunk.forEach(({ index }, i) => {
        const req = requests[index]!;
        const id = sorted[i]!;
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
          files: req.fileIds.map((fileId) => files.links.toFileObject(uploads.get(fileId)!)),
        };
        outcomes[index] = { ok: true, message, duplicate: false, members: members.get(req.chatId)! };
      });
    }
    if (attachments.length > 0) await files.attach(attachments, trx);
    for (const [index, of] of duplicatesInBatch) {
      const first = outcomes[of]!;
      outcomes[index] = first.ok ? { ...first, duplicate: true } : first;
    }

    await recordActivity(trx, toInsert.map(({ index }) => outcomes[index]!), now);
    return outcomes as SendOutcome[];
  });
}

const sendKey = (senderId: number, clientId: string) => `${senderId}\u0000${clientId}`;

/** Every member of every chat in the batch: both the membership check and the delivery list. */
async function membersOf(trx: Transaction<Database>, requests: readonly SendRequest[]) {
  const chatIds = [...new Set(requests.map((r) => r.chatId))];
  const rows = await trx.selectFrom('chat_members').select(['chat_id', 'user_id']).where('chat_id', 'in', chatIds).execute();
  const members = new Map<number, number[]>();
  for (const { chat_id, user_id } of rows) {
    const list = members.get(chat_id);
    if (list) list.push(user_id);
    else members.set(chat_id, [user_id]);
  }
  return members;
}

/**
 * Messages already stored under the batch's (sender, client_id) keys: one index probe per key, in
 * one statement whose text does not change with the batch (so it is prepared once).
 */
async function earlierSends(trx: Transaction<Database>, dialect: DialectName, files: FileQueries, requests: readonly SendRequest[]) {
  const keyed = requests.filter((r) => r.clientId !== null);
  const found = new Map<string, Message>();
  if (keyed.length === 0) return found;
  const keys =
    dialect === 'postgres'
      ? sql`unnest(${keyed.map((r) => r.senderId)}::integer[], ${keyed.map((r) => r.clientId)}::text[]) as k(sender_id, client_id)
            join messages m on m.sender_id = k.sender_id and m.client_id = k.client_id`
      : sql`json_each(${JSON.stringify(keyed.map((r) => [r.senderId, r.clientId]))}) as k
            join messages m on m.sender_id = k.value ->> 0 and m.client_id = k.value ->> 1`;
  const { rows } = await sql<MessageWithSender>`
    select distinct m.*, u.username as sender from ${keys} join users u on u.id = m.sender_id`.execute(trx);
  const messages = rows.map(toMessage);
  if (messages.length > 0) await files.withFiles(messages, trx);
  for (const message of messages) found.set(sendKey(message.sender_id, message.client_id!), message);
  return found;
}

/**
 * Each chat's newest message and activity time; each sender has read up to its own message.
 * Two statements per batch, however many chats and senders it holds.
 */
async function recordActivity(trx: Transaction<Database>, stored: SendOutcome[], now: string) {
  const lastByChat = new Map<number, number>();
  const lastBySender = new Map<string, [chatId: number, senderId: number, id: number]>();
  for (const outcome of stored) {
    if (!outcome.ok) continue;
    const { id, chat_id, sender_id } = outcome.message;
    lastByChat.set(chat_id, id);
    lastBySender.set(`${chat_id}:${sender_id}`, [chat_id, sender_id, id]);
  }
  if (lastByChat.size === 0) return;
  await sql`
    with v(chat_id, id) as (values ${rowsOf([...lastByChat])})
    update chats set last_message_id = v.id, last_activity_at = ${now}
    from v where chats.id = v.chat_id`.execute(trx);
  await sql`
    with v(chat_id, user_id, id) as (values ${rowsOf([...lastBySender.values()])})
    update chat_members set last_read_message_id = v.id
    from v
    where chat_members.chat_id = v.chat_id and chat_members.user_id = v.user_id
      and chat_members.last_read_message_id < v.id`.execute(trx);
}

/** `(cast(? as integer), …), …`: typed, since PostgreSQL cannot infer the type of a bare parameter. */
function rowsOf(rows: number[][]) {
  return sql.join(rows.map((row) => sql`(${sql.join(row.map((value) => sql`cast(${value} as integer)`))})`));
}
