import { sql, type Transaction } from 'kysely';
import type { DialectName } from '../db/database.js';
import type { Database, EventKind } from '../db/schema.js';

// Any constant: the key of the advisory lock that orders log commits on PostgreSQL.
const LOG_COMMIT_LOCK = 7_340_101;

const RECIPIENTS_PER_INSERT = 1000;

/** The channel on which PostgreSQL commits wake every process's tailer (see `LogTailer`). */
export const LOG_CHANNEL = 'dm_log';

/**
 * Starts a transaction's part of the log: on PostgreSQL it takes the lock that every log write
 * takes before it draws ids, so that no transaction can draw ids while another that drew smaller
 * ones is still uncommitted: once an id is visible, every smaller one that will ever be is too.
 * It also asks for a wake-up of every tailer, which PostgreSQL sends at commit (once per
 * transaction, however many are asked for).
 */
export async function openLog(trx: Transaction<Database>, dialect: DialectName): Promise<void> {
  if (dialect !== 'postgres') return;
  await sql`select pg_advisory_xact_lock(${LOG_COMMIT_LOCK}), pg_notify(${LOG_CHANNEL}, '')`.execute(trx);
}

export interface EventInput {
  chatId: number;
  kind: EventKind;
  messageId?: number;
  userId?: number;
  /** A 'chat' event's recipients. */
  recipients?: readonly number[];
}

/** Appends an event to the log (after `openLog` in the same transaction) and returns its id. */
export async function appendEvent(trx: Transaction<Database>, dialect: DialectName, event: EventInput): Promise<number> {
  const row = {
    chat_id: event.chatId,
    kind: event.kind,
    message_id: event.messageId ?? null,
    user_id: event.userId ?? null,
    created_at: new Date().toISOString(),
  };
  let id: number;
  if (dialect === 'postgres') {
    // The id's default is the messages' sequence.
    ({ id } = await trx
      .insertInto('events')
      .values(row)
      .returning('id')
      .executeTakeFirstOrThrow());
  } else {
    // AUTOINCREMENT gives the next message an id above this counter: drawing from it shares it.
    const drawn = await sql<{ seq: number }>`
      update sqlite_sequence set seq = seq + 1 where name = 'messages' returning seq`.execute(trx);
    id = drawn.rows[0]!.seq;
    await trx.insertInto('events').values({ id, ...row }).execute();
  }
  // In inserts of a bounded size: a room's rename is for every member, and one insert of more than
  // 16,383 rows (two parameters each) would pass SQLite's limit on a statement's (32,766).
  const recipients = event.recipients ?? [];
  for (let start = 0; start < recipients.length; start += RECIPIENTS_PER_INSERT) {
    await trx
      .insertInto('event_recipients')
      .values(recipients.slice(start, start + RECIPIENTS_PER_INSERT).map((user_id) => ({ event_id: id, user_id })))
      .execute();
  }
  return id;
}
