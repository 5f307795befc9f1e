import type { Kysely } from 'kysely';
import type { ChatRow, ChatType, Database } from '../db/schema.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import type { FileQueries } from '../files/queries.js';
import type { Chat, Member } from '../http/schemas.js';
import { toMessage } from '../messages/model.js';
import { roomKey } from '../rooms/queries.js';
import { toMember, type IsOnline } from '../users/model.js';

/** Viewers whose chat objects one set of queries reads (each is a parameter of two of them). */
const VIEWERS_PER_QUERY = 5000;

export const directKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);

export function chatQueries(db: Kysely<Database>, isOnline: IsOnline, files: FileQueries) {
  /**
   * Chat objects for `chatRows` as `viewers` see them, in a fixed number of queries. A room's
   * object does not grow with the room: its members are counted, and listed only as far as the
   * viewer itself (the rest are paged with `membersPage`).
   */
  async function assemble(chatRows: ChatRow[], viewers: number[]): Promise<Map<number, Chat[]>> {
    const chatIds = chatRows.map((c) => c.id);
    const roomIds = chatRows.flatMap((c) => (c.chat_type === 'room' ? [c.id] : []));
    const listedIds = chatRows.flatMap((c) => (c.chat_type === 'room' ? [] : [c.id]));
    const lastIds = chatRows.flatMap((c) => (c.last_message_id === null ? [] : [c.last_message_id]));
    const [members, roomCounts, lastMessages, unread] = await Promise.all([
      chatIds.length === 0
        ? []
        : db
            .selectFrom('chat_members as cm')
            .innerJoin('users as u', 'u.id', 'cm.user_id')
            .select(['cm.chat_id', 'cm.last_read_message_id', 'u.id', 'u.username', 'u.display_name', 'u.last_seen_at'])
            .where((eb) =>
              eb.or([
                ...(listedIds.length > 0 ? [eb('cm.chat_id', 'in', listedIds)] : []),
                ...(roomIds.length > 0 && viewers.length > 0 ? [eb.and([eb('cm.chat_id', 'in', roomIds), eb('cm.user_id', 'in', viewers)])] : []),
              ]),
            )
            .orderBy('cm.joined_at')
            .orderBy('u.id')
            .execute(),
      roomIds.length === 0 ? [] : memberCounts(roomIds),
      lastIds.length === 0
        ? []
        : db
            .selectFrom('messages as m')
            .innerJoin('users as u', 'u.id', 'm.sender_id')
            .selectAll('m')
            .select('u.username as sender')
            .where('m.id', 'in', lastIds)
            .execute(),
      chatIds.length === 0 || viewers.length === 0
        ? []
        : db
            .selectFrom('chat_members as cm')
            .innerJoin('messages as m', (join) =>
              join
                .onRef('m.chat_id', '=', 'cm.chat_id')
                .onRef('m.id', '>', 'cm.last_read_message_id')
                .onRef('m.sender_id', '<>', 'cm.user_id')
                .on('m.deleted_at', 'is', null),
            )
            .select(['cm.chat_id', 'cm.user_id', (eb) => eb.fn.countAll<number | string>().as('n')])
            .where('cm.chat_id', 'in', chatIds)
            .where('cm.user_id', 'in', viewers)
            .groupBy(['cm.chat_id', 'cm.user_id'])
            .execute(),
    ]);

    const membersByChat = new Map<number, typeof members>();
    // A room's rows are its viewers' own: looked up by viewer, not searched for each (quadratic in a big room).
    const roomMember = new Map<string, (typeof members)[number]>();
    const isRoom = new Set(roomIds);
    for (const m of members) {
      if (isRoom.has(m.chat_id)) {
        roomMember.set(`${m.chat_id}:${m.id}`, m);
        continue;
      }
      const list = membersByChat.get(m.chat_id) ?? [];
      list.push(m);
      membersByChat.set(m.chat_id, list);
    }
    const lastById = new Map((await files.withFiles(lastMessages.map(toMessage), 'sender')).map((m) => [m.id, m]));
    const unreadByKey = new Map(unread.map((u) => [`${u.chat_id}:${u.user_id}`, Number(u.n)]));
    const countByRoom = new Map(roomCounts.map((r) => [r.chat_id, Number(r.n)]));

    const result = new Map<number, Chat[]>();
    const now = Date.now();
    for (const viewer of viewers) {
      result.set(
        viewer,
        chatRows.map((c) => {
          const all = membersByChat.get(c.id) ?? [];
          const room = c.chat_type === 'room';
          const own = room ? roomMember.get(`${c.id}:${viewer}`) : undefined;
          const chatMembers = room ? (own ? [own] : []) : all;
          const last = c.last_message_id === null ? undefined : lastById.get(c.last_message_id);
          return {
            id: c.id,
            name: c.name,
            chat_type: c.chat_type,
            created_at: c.created_at,
            owner_id: c.owner_id,
            participants: chatMembers.map((m) => m.id),
            members: chatMembers.map((m) => toMember(m, isOnline)),
            member_count: room ? (countByRoom.get(c.id) ?? 0) : all.length,
            last_message: last === undefined ? null : files.links.signedFor(last, viewer, now),
            unread_count: unreadByKey.get(`${c.id}:${viewer}`) ?? 0,
          };
        }),
      );
    }
    return result;
  }

  function memberCounts(chatIds: number[]) {
    return db
      .selectFrom('chat_members')
      .select(['chat_id', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('chat_id', 'in', chatIds)
      .groupBy('chat_id')
      .execute();
  }

  return {
    /** The caller's chats, most recent activity first. */
    async listFor(userId: number): Promise<Chat[]> {
      const rows = await db
        .selectFrom('chats as c')
        .innerJoin('chat_members as cm', 'cm.chat_id', 'c.id')
        .selectAll('c')
        .where('cm.user_id', '=', userId)
        .orderBy('c.last_activity_at', 'desc')
        .orderBy('c.id', 'desc')
        .execute();
      return (await assemble(rows, [userId])).get(userId)!;
    },

    /**
     * The user's chats (or the one with `chatId`) with their members' ids only, most recent activity
     * first: what a client that shows no more than that needs, in two queries.
     */
    async summariesFor(userId: number, chatId?: number): Promise<{ chat: ChatRow; participants: number[] }[]> {
      let chats = db
        .selectFrom('chats as c')
        .innerJoin('chat_members as cm', 'cm.chat_id', 'c.id')
        .selectAll('c')
        .where('cm.user_id', '=', userId);
      let members = db
        .selectFrom('chat_members as mine')
        .innerJoin('chat_members as cm', 'cm.chat_id', 'mine.chat_id')
        .select(['cm.chat_id', 'cm.user_id'])
        .where('mine.user_id', '=', userId);
      if (chatId !== undefined) {
        chats = chats.where('c.id', '=', chatId);
        members = members.where('mine.chat_id', '=', chatId);
      }
      const [rows, memberRows] = await Promise.all([
        chats.orderBy('c.last_activity_at', 'desc').orderBy('c.id', 'desc').execute(),
        members.orderBy('cm.joined_at').orderBy('cm.user_id').execute(),
      ]);
      const participants = new Map<number, number[]>(rows.map((row) => [row.id, []]));
      for (const m of memberRows) participants.get(m.chat_id)?.push(m.user_id);
      return rows.map((chat) => ({ chat, participants: participants.get(chat.id)! }));
    },

    /** The chat as `userId` sees it, or undefined when it does not exist or `userId` is not in it. */
    async getFor(chatId: number, userId: number): Promise<Chat | undefined> {
      const row = await db
        .selectFrom('chats as c')
        .innerJoin('chat_members as cm', 'cm.chat_id', 'c.id')
        .selectAll('c')
        .where('c.id', '=', chatId)
        .where('cm.user_id', '=', userId)
        .executeTakeFirst();
      return row ? (await assemble([row], [userId])).get(userId)![0] : undefined;
    },

    /**
     * The chat as each of `viewers` sees it (their unread counts differ), read for so many viewers
     * at a time: every member of a big room is a viewer of its rename.
     */
    async viewsFor(chatId: number, viewers: number[]): Promise<Map<number, Chat>> {
      const row = await db.selectFrom('chats').selectAll().where('id', '=', chatId).executeTakeFirstOrThrow();
      const views = new Map<number, Chat>();
      for (let start = 0; start < viewers.length; start += VIEWERS_PER_QUERY) {
        for (const [viewer, chats] of await assemble([row], viewers.slice(start, start + VIEWERS_PER_QUERY))) views.set(viewer, chats[0]!);
      }
      return views;
    },

    /** The chat's type, or undefined when it does not exist or `userId` is not in it. */
    async typeFor(chatId: number, userId: number): Promise<ChatType | undefined> {
      const row = await db
        .selectFrom('chat_members as cm')
        .innerJoin('chats as c', 'c.id', 'cm.chat_id')
        .select('c.chat_type')
        .where('cm.chat_id', '=', chatId)
        .where('cm.user_id', '=', userId)
        .executeTakeFirst();
      return row?.chat_type;
    },

    /** Up to `limit` members of the chat with an id above `after`, by id. */
    async membersPage(chatId: number, after: number, limit: number): Promise<Member[]> {
      const rows = await db
        .selectFrom('chat_members as cm')
        .innerJoin('users as u', 'u.id', 'cm.user_id')
        .select(['cm.last_read_message_id', 'u.id', 'u.username', 'u.display_name', 'u.last_seen_at'])
        .where('cm.chat_id', '=', chatId)
        .where('cm.user_id', '>', after)
        .orderBy('cm.user_id')
        .limit(limit)
        .execute();
      return rows.map((row) => toMember(row, isOnline));
    },

    async memberIds(chatId: number): Promise<number[]> {
      const rows = await db.selectFrom('chat_members').select('user_id').where('chat_id', '=', chatId).execute();
      return rows.map((r) => r.user_id);
    },

    /** Users who share a direct or group chat with `userId`: sharing a room is not knowing someone. */
    async coMembers(userId: number): Promise<number[]> {
      const rows = await db
        .selectFrom('chat_members as mine')
        .innerJoin('chats as c', 'c.id', 'mine.chat_id')
        .innerJoin('chat_members as other', 'other.chat_id', 'mine.chat_id')
        .select('other.user_id')
        .distinct()
        .where('mine.user_id', '=', userId)
        .where('c.chat_type', '<>', 'room')
        .where('other.user_id', '<>', userId)
        .execute();
      return rows.map((r) => r.user_id);
    },

    /** Creates the pair's direct chat unless one exists; null when it already did (even under a race). */
    async createDirect(a: number, b: number, now: string): Promise<number | null> {
      return db.transaction().execute(async (trx) => {
        const created = await trx
          .insertInto('chats')
          .values({ chat_type: 'direct', name: null, owner_id: null, direct_key: directKey(a, b), created_at: now, last_activity_at: now })
          .onConflict((oc) => oc.column('direct_key').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!created) return null;
        await trx
          .insertInto('chat_members')
          .values([a, b].map((user_id) => ({ chat_id: created.id, user_id, joined_at: now })))
          .execute();
        return created.id;
      });
    },

    async directChatId(a: number, b: number): Promise<number | undefined> {
      const row = await db.selectFrom('chats').select('id').where('direct_key', '=', directKey(a, b)).executeTakeFirst();
      return row?.id;
    },

    async createGroup(name: string, ownerId: number, memberIds: number[], now: string): Promise<number> {
      return db.transaction().execute(async (trx) => {
        const { id } = await trx
          .insertInto('chats')
          .values({ chat_type: 'group', name, owner_id: ownerId, direct_key: null, created_at: now, last_activity_at: now })
          .returning('id')
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('chat_members')
          .values(memberIds.map((user_id) => ({ chat_id: id, user_id, joined_at: now })))
          .execute();
        return id;
      });
    },

    /**
     * Renames a group, or a room with its key; false when another room has the name without regard
     * to case (the unique key decides, so also when two renames or a create race for it).
     */
    async rename(chatId: number, chatType: 'group' | 'room', name: string): Promise<boolean> {
      try {
        await db
          .updateTable('chats')
          .set(chatType === 'room' ? { name, room_key: roomKey(name) } : { name })
          .where('id', '=', chatId)
          .where('chat_type', '=', chatType)
          .execute();
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },

    /** False when the user was a member already. */
    async addMember(chatId: number, userId: number, now: string): Promise<boolean> {
      const added = await db
        .insertInto('chat_members')
        .values({ chat_id: chatId, user_id: userId, joined_at: now })
        .onConflict((oc) => oc.columns(['chat_id', 'user_id']).doNothing())
        .returning('user_id')
        .executeTakeFirst();
      return added !== undefined;
    },

    /** Removes a member; an owner who leaves hands the group to its longest-standing member. */
    async removeMember(chatId: number, userId: number): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('chat_members').where('chat_id', '=', chatId).where('user_id', '=', userId).execute();
        const chat = await trx.selectFrom('chats').select('owner_id').where('id', '=', chatId).executeTakeFirstOrThrow();
        if (chat.owner_id !== userId) return;
        const heir = await trx
          .selectFrom('chat_members')
          .select('user_id')
          .where('chat_id', '=', chatId)
          .orderBy('joined_at')
          .orderBy('user_id')
          .executeTakeFirst();
        await trx
          .updateTable('chats')
          .set({ owner_id: heir?.user_id ?? null })
          .where('id', '=', chatId)
          .execute();
      });
    },

    /** Moves a read marker forward only; true when it moved. */
    async markRead(chatId: number, userId: number, messageId: number): Promise<boolean> {
      const result = await db
        .updateTable('chat_members')
        .set({ last_read_message_id: messageId })
        .where('chat_id', '=', chatId)
        .where('user_id', '=', userId)
        .where('last_read_message_id', '<', messageId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
  };
}

export type ChatQueries = ReturnType<typeof chatQueries>;
