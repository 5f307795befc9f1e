import { sql, type Expression, type Kysely } from 'kysely';
import type { ChatQueries } from '../chats/queries.js';
import type { Database, EventRow } from '../db/schema.js';
import type { FileQueries } from '../files/queries.js';
import type { Chat } from '../http/schemas.js';
import { toMessage, type MessageWithSender } from '../messages/model.js';
import type { ServerEvent } from '../realtime/events.js';

/** An entry of the log as some of its recipients see it (a chat change is seen differently by each). */
export interface LogEntry {
  seq: number;
  to: number[];
  event: ServerEvent;
}

/** A page of the log: its entries, in order, and how far it reached. */
export interface LogPage {
  entries: LogEntry[];
  /** The newest id the page covers (`after` when it is empty). */
  last: number;
  /** False when the log had no more than this to give. */
  full: boolean;
}

/**
 * Reads the log, messages and events merged in id order: for a process's sockets (the tailer on
 * PostgreSQL) and for one user's `resume`. Events are shown as things are now: a replayed edit
 * carries the message as it reads today, a chat change the chat as its recipient sees it today.
 */
export class LogReader {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly files: FileQueries,
    private readonly chats: ChatQueries,
  ) {}

  /** The newest id in the log: where a process that starts now begins delivering. */
  async head(): Promise<number> {
    const [messages, events] = await Promise.all([
      this.db.selectFrom('messages').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst(),
      this.db.selectFrom('events').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst(),
    ]);
    return Math.max(Number(messages?.id ?? 0), Number(events?.id ?? 0));
  }

  /**
   * Up to `limit` entries after `after`, each for all its recipients: also those with no socket
   * here yet, since one may attach before the entries are handed over, expecting them live.
   */
  async since(after: number, limit: number): Promise<LogPage> {
    const [messages, events] = await Promise.all([
      this.messages().where('m.id', '>', after).orderBy('m.id').limit(limit).execute(),
      this.db.selectFrom('events').selectAll().where('id', '>', after).orderBy('id').limit(limit).execute(),
    ]);
    const page = merge(messages, events, limit, after);
    const chatIds = [...new Set([...page.messages.map((m) => m.chat_id), ...page.events.flatMap((e) => (e.kind === 'chat' ? [] : [e.chat_id]))])];
    const chatEvents = page.events.flatMap((e) => (e.kind === 'chat' ? [e.id] : []));
    const [memberRows, recipientRows] = await Promise.all([
      chatIds.length === 0 ? [] : this.db.selectFrom('chat_members').select(['chat_id', 'user_id']).where('chat_id', 'in', chatIds).execute(),
      chatEvents.length === 0 ? [] : this.db.selectFrom('event_recipients').selectAll().where('event_id', 'in', chatEvents).execute(),
    ]);
    const members = groupBy(memberRows, (r) => r.chat_id, (r) => r.user_id);
    const recipients = groupBy(recipientRows, (r) => r.event_id, (r) => r.user_id);
    // File urls are signed for each message's sender here, and for each recipient by the hub.
    return this.assemble(page, 'sender', (e) => recipients.get(e.id) ?? [], (chatId, reader) => {
      const chatMembers = members.get(chatId) ?? [];
      return reader === undefined ? chatMembers : chatMembers.filter((id) => id !== reader);
    });
  }

  /** Up to `limit` entries with `after < id <= upTo` that `userId` is shown: what a `resume` replays. */
  async forUser(userId: number, after: number, upTo: number, limit: number): Promise<LogPage> {
    if (upTo <= after) return { entries: [], last: after, full: false };
    // Shown only in chats the user is in now. Messages by a join, so that the planner walks each of
    // the user's chats by its index from `after`, not every chat's messages (a page of 200 among
    // 250 chats: 0.8 ms, against 4.6 ms for a check on each row); events, far fewer, by a check.
    const member = (chatId: Expression<number>) =>
      sql<boolean>`${chatId} in (select cm.chat_id from chat_members cm where cm.user_id = ${userId})`;
    const [messages, events] = await Promise.all([
      this.messages()
        .innerJoin('chat_members as cm', (join) => join.onRef('cm.chat_id', '=', 'm.chat_id').on('cm.user_id', '=', userId))
        .where('m.id', '>', after)
        .where('m.id', '<=', upTo)
        .orderBy('m.id')
        .limit(limit)
        .execute(),
      this.db
        .selectFrom('events as e')
        .selectAll('e')
        .where('e.id', '>', after)
        .where('e.id', '<=', upTo)
        .where((eb) =>
          eb.or([
            eb.and([eb('e.kind', 'in', ['edit', 'delete']), member(sql.ref('e.chat_id'))]),
            eb.and([eb('e.kind', '=', 'read'), eb('e.user_id', '<>', userId), member(sql.ref('e.chat_id'))]),
            eb.and([
              eb('e.kind', '=', 'chat'),
              eb.exists(eb.selectFrom('event_recipients as r').select('r.user_id').whereRef('r.event_id', '=', 'e.id').where('r.user_id', '=', userId)),
            ]),
          ]),
        )
        .orderBy('e.id')
        .limit(limit)
        .execute(),
    ]);
    return this.assemble(merge(messages, events, limit, after), userId, () => [userId], () => [userId]);
  }

  /**
   * The page's entries in id order, each with what it shows and to whom: a chat change to each of
   * `viewersOf` (its own view), anything else to `audience` of its chat (less the reader of a read marker).
   * `signFor`: whom messages' file urls are signed for (see `withFiles`).
   */
  private async assemble(
    page: ReturnType<typeof merge<MessageWithSender>>,
    signFor: number | 'sender',
    viewersOf: (event: EventRow) => number[],
    audience: (chatId: number, reader?: number) => number[],
  ): Promise<LogPage> {
    const messages = await this.files.withFiles(page.messages.map(toMessage), signFor);
    const rendered = await this.render(page.events, signFor, viewersOf);
    const entries = page.order.flatMap(([kind, index]): LogEntry[] => {
      if (kind === 'message') {
        const message = messages[index]!;
        return [{ seq: message.id, to: audience(message.chat_id), event: { type: 'message', message } }];
      }
      const event = page.events[index]!;
      const reader = event.kind === 'read' ? event.user_id! : undefined;
      return rendered(event).map(({ viewer, event: shown }) => ({
        seq: event.id,
        to: viewer !== null ? [viewer] : audience(event.chat_id, reader),
        event: shown,
      }));
    });
    return { entries, last: page.last, full: page.full };
  }

  private messages() {
    return this.db.selectFrom('messages as m').innerJoin('users as u', 'u.id', 'm.sender_id').selectAll('m').select('u.username as sender');
  }

  /**
   * What each event shows: `viewer` is null where every recipient sees the same (edits, deletes,
   * read markers), and names the viewer of a chat change.
   */
  private async render(events: EventRow[], signFor: number | 'sender', viewersOf: (event: EventRow) => number[]) {
    const edited = [...new Set(events.flatMap((e) => (e.kind === 'edit' ? [e.message_id!] : [])))];
    const chatViews = new Map<number, Map<number, Chat>>();
    const [editedMessages] = await Promise.all([
      edited.length === 0 ? [] : this.messages().where('m.id', 'in', edited).execute(),
      ...events
        .filter((e) => e.kind === 'chat')
        .map(async (e) => {
          const viewers = viewersOf(e);
          if (viewers.length > 0) chatViews.set(e.id, await this.chats.viewsFor(e.chat_id, viewers));
        }),
    ]);
    const byId = new Map((await this.files.withFiles(editedMessages.map(toMessage), signFor)).map((m) => [m.id, m]));
    return (event: EventRow): { viewer: number | null; event: ServerEvent }[] => {
      switch (event.kind) {
        case 'edit': {
          const message = byId.get(event.message_id!);
          return message ? [{ viewer: null, event: { type: 'message_updated', message } }] : [];
        }
        case 'delete':
          return [{ viewer: null, event: { type: 'message_deleted', chat_id: event.chat_id, id: event.message_id! } }];
        case 'read':
          return [{ viewer: null, event: { type: 'read', chat_id: event.chat_id, user_id: event.user_id!, message_id: event.message_id! } }];
        case 'chat':
          return [...(chatViews.get(event.id) ?? [])].map(([viewer, chat]) => ({ viewer, event: { type: 'chat', chat } }));
      }
    };
  }
}

/**
 * The first `limit` of two id-ordered lists, each read with that limit: where one of them was cut
 * short, nothing past its last id is known yet, so the page ends there.
 */
function merge<M extends { id: number }>(messages: M[], events: EventRow[], limit: number, after: number) {
  const cut = Math.min(
    messages.length === limit ? messages.at(-1)!.id : Infinity,
    events.length === limit ? events.at(-1)!.id : Infinity,
  );
  const keptMessages = messages.filter((m) => m.id <= cut);
  const keptEvents = events.filter((e) => e.id <= cut);
  const order: ['message' | 'event', number][] = [];
  let i = 0;
  let j = 0;
  while (i < keptMessages.length || j < keptEvents.length) {
    if (j >= keptEvents.length || (i < keptMessages.length && keptMessages[i]!.id < keptEvents[j]!.id)) order.push(['message', i++]);
    else order.push(['event', j++]);
  }
  const last = Math.max(after, keptMessages.at(-1)?.id ?? 0, keptEvents.at(-1)?.id ?? 0);
  return { messages: keptMessages, events: keptEvents, order, last, full: cut !== Infinity };
}

function groupBy<R, K, V>(rows: readonly R[], key: (row: R) => K, value: (row: R) => V): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const row of rows) {
    const list = groups.get(key(row));
    if (list) list.push(value(row));
    else groups.set(key(row), [value(row)]);
  }
  return groups;
}
