import type { Transaction } from 'kysely';
import type { Principal } from '../auth/plugin.js';
import type { ChatQueries } from '../chats/queries.js';
import type { Db } from '../db/database.js';
import type { ChatType, Database } from '../db/schema.js';
import { AppError, badRequest, chatNotFound, forbidden, messageNotFound } from '../errors.js';
import type { FileQueries } from '../files/queries.js';
import type { Message } from '../http/schemas.js';
import type { LogWriter } from '../log/writer.js';
import type { Realtime } from '../realtime/realtime.js';
import type { TokenBuckets } from '../rate-limit-store.js';
import { toMessage } from './model.js';

export interface SendResult {
  message: Message;
  /** The send repeated a `client_id`: this is the message stored the first time. */
  duplicate: boolean;
}

export interface HistoryQuery {
  limit: number;
  before?: number;
  after?: number;
}

export class MessageService {
  /** Sends that are taking their token: a read marker waits for them (see `markRead`). */
  private taking: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly chats: ChatQueries,
    private readonly realtime: Realtime,
    private readonly files: FileQueries,
    private readonly writer: LogWriter,
    /** `send`: per user; `typing`: one typing event per user and chat per throttle period. */
    private readonly limits: { send: TokenBuckets<number>; typing: TokenBuckets<string> },
  ) {}

  /**
   * Stores and delivers a message, with the sender's uploads `fileIds` attached; resolves once it
   * is committed and on its way to every member. `content` is null only for a message of files
   * (the shindensen surface sends those).
   */
  async send(
    sender: Principal,
    chatId: number,
    content: string | null,
    clientId: string | null,
    fileIds: readonly number[] = [],
  ): Promise<SendResult> {
    const taking = this.takeSend(sender);
    // Waited for by `drain`, which a refused send must not fail.
    this.taking = taking.catch(() => {});
    await taking;
    const outcome = await this.writer.submit({ chatId, senderId: sender.id, sender: sender.username, content, clientId, fileIds });
    if (!outcome.ok) throw outcome.error;
    return { message: outcome.message, duplicate: outcome.duplicate };
  }

  /** Resolves once every send accepted so far is committed and delivered. */
  async drain(): Promise<void> {
    await this.taking;
    await this.writer.drain();
  }

  stop(): void {
    this.limits.send.stop();
    this.limits.typing.stop();
  }

  async history(user: Principal, chatId: number, query: HistoryQuery): Promise<Message[]> {
    if (query.before !== undefined && query.after !== undefined) {
      throw badRequest('VALIDATION_ERROR', 'before and after cannot be used together', { field: 'before' });
    }
    await this.requireMember(chatId, user.id);
    let q = this.withSender().where('m.chat_id', '=', chatId).limit(query.limit);
    if (query.after !== undefined) {
      q = q.where('m.id', '>', query.after).orderBy('m.id', 'asc');
      return this.files.withFiles((await q.execute()).map(toMessage), user.id);
    }
    if (query.before !== undefined) q = q.where('m.id', '<', query.before);
    const newestFirst = await q.orderBy('m.id', 'desc').execute();
    return this.files.withFiles(newestFirst.reverse().map(toMessage), user.id);
  }

  /** The newest `limit` messages of a public room that are not deleted, oldest first: anyone may read them. */
  async roomTail(chatId: number, limit: number): Promise<Message[]> {
    const newestFirst = await this.withSender()
      .where('m.chat_id', '=', chatId)
      .where('m.deleted_at', 'is', null)
      .orderBy('m.id', 'desc')
      .limit(limit)
      .execute();
    // Its one caller, the rooms surface, shows capability urls (`toApiMessage`), not these.
    return this.files.withFiles(newestFirst.reverse().map(toMessage), 'sender');
  }

  /** An edit goes to every member as a send does, and counts as one. */
  async edit(user: Principal, chatId: number, messageId: number, content: string): Promise<Message> {
    await this.takeSend(user);
    const row = await this.ownMessage(user, chatId, messageId);
    const [current] = await this.files.withFiles([toMessage(row)], user.id);
    return this.writer.write(async (trx, append) => {
      const editedAt = new Date().toISOString();
      // Checked again in the write: a delete may have come in between.
      const { numUpdatedRows } = await trx
        .updateTable('messages')
        .set({ content, edited_at: editedAt })
        .where('id', '=', messageId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (numUpdatedRows === 0n) throw new AppError(409, 'MESSAGE_DELETED', 'A deleted message cannot be edited');
      const seq = await append({ chatId, kind: 'edit', messageId });
      const message: Message = { ...current!, content, edited_at: editedAt };
      return { result: message, deliveries: [{ to: await memberIds(trx, chatId), event: { type: 'message_updated', message }, seq }] };
    });
  }

  /** Only the sender deletes a message (see `deleteMessage`). */
  async remove(user: Principal, chatId: number, messageId: number): Promise<void> {
    await this.ownMessage(user, chatId, messageId);
    await deleteMessage(this.writer, chatId, messageId);
  }

  /**
   * Moves the caller's read marker forward (never back) and tells the chat's other members, except
   * in a room: there every member reading every message would be a frame to every other member.
   */
  async markRead(user: Principal, chatId: number, messageId: number): Promise<void> {
    const type = await this.requireMember(chatId, user.id);
    // A send on this socket just before may still be taking its token, or in its batch.
    await this.drain();
    const message = await this.db.kysely
      .selectFrom('messages')
      .select('id')
      .where('id', '=', messageId)
      .where('chat_id', '=', chatId)
      .executeTakeFirst();
    if (!message) throw messageNotFound();
    await this.writer.write(async (trx, append) => {
      const { numUpdatedRows } = await trx
        .updateTable('chat_members')
        .set({ last_read_message_id: messageId })
        .where('chat_id', '=', chatId)
        .where('user_id', '=', user.id)
        .where('last_read_message_id', '<', messageId)
        .executeTakeFirst();
      if (numUpdatedRows === 0n || type === 'room') return { result: undefined, deliveries: [] };
      const seq = await append({ chatId, kind: 'read', messageId, userId: user.id });
      const others = (await memberIds(trx, chatId)).filter((id) => id !== user.id);
      const event = { type: 'read', chat_id: chatId, user_id: user.id, message_id: messageId } as const;
      return { result: undefined, deliveries: [{ to: others, event, seq }] };
    });
  }

  /** Tells the chat's other members that the user is typing, at most once per throttle period. */
  async typing(user: Principal, chatId: number): Promise<void> {
    if ((await this.limits.typing.take(`${user.id}:${chatId}`)) > 0) return;
    const members = await this.chats.memberIds(chatId);
    if (!members.includes(user.id)) throw chatNotFound();
    const others = members.filter((id) => id !== user.id);
    this.realtime.publish(others, { type: 'typing', chat_id: chatId, user_id: user.id, username: user.username });
  }

  /** Counts one message (a send or an edit) against the user's send limit. */
  private async takeSend(user: Principal): Promise<void> {
    const wait = await this.limits.send.take(user.id);
    if (wait > 0) {
      throw new AppError(429, 'RATE_LIMITED', `Too many messages: try again in ${Math.ceil(wait / 1000)} s`, {
        retry_after_ms: wait,
      });
    }
  }

  private withSender() {
    return this.db.kysely
      .selectFrom('messages as m')
      .innerJoin('users as u', 'u.id', 'm.sender_id')
      .selectAll('m')
      .select('u.username as sender');
  }

  /** The chat's type, when `userId` is in it. */
  private async requireMember(chatId: number, userId: number): Promise<ChatType> {
    const type = await this.chats.typeFor(chatId, userId);
    if (type === undefined) throw chatNotFound();
    return type;
  }

  private async ownMessage(user: Principal, chatId: number, messageId: number) {
    await this.requireMember(chatId, user.id);
    const row = await this.withSender().where('m.id', '=', messageId).where('m.chat_id', '=', chatId).executeTakeFirst();
    if (!row) throw messageNotFound();
    if (row.sender_id !== user.id) throw forbidden('NOT_SENDER', 'Only the sender may change or delete a message');
    return row;
  }
}

/**
 * Keeps a tombstone: the message stays in history with no content, and every member is told. False
 * when it was deleted already (deleting twice is a no-op). Whoever asks has been checked: the sender
 * (the API), or the operator deleting an account (`users delete`).
 */
export function deleteMessage(writer: LogWriter, chatId: number, messageId: number): Promise<boolean> {
  return writer.write(async (trx, append) => {
    const { numUpdatedRows } = await trx
      .updateTable('messages')
      .set({ content: null, deleted_at: new Date().toISOString() })
      .where('id', '=', messageId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (numUpdatedRows === 0n) return { result: false, deliveries: [] };
    const seq = await append({ chatId, kind: 'delete', messageId });
    const event = { type: 'message_deleted', chat_id: chatId, id: messageId } as const;
    return { result: true, deliveries: [{ to: await memberIds(trx, chatId), event, seq }] };
  });
}

function memberIds(trx: Transaction<Database>, chatId: number): Promise<number[]> {
  return trx
    .selectFrom('chat_members')
    .select('user_id')
    .where('chat_id', '=', chatId)
    .execute()
    .then((rows) => rows.map((r) => r.user_id));
}
