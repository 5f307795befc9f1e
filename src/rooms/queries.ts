import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { ChatRow, Database } from '../db/schema.js';
import { usernameKey } from '../users/queries.js';

/** A room in the directory. */
export interface RoomListing {
  id: number;
  name: string;
  created_at: string;
  owner_id: number | null;
  member_count: number;
  /** Whether the caller is a member. */
  joined: boolean;
}

export interface RoomListQuery {
  /** Part of the name, without regard to case. */
  q?: string;
  /** The name of the last room of the previous page. */
  after?: string;
  limit: number;
}

/** Room names are unique the way usernames are: without regard to case. */
export const roomKey = usernameKey;

export function roomQueries(db: Kysely<Database>) {
  const rooms = () => db.selectFrom('chats').selectAll().where('chat_type', '=', 'room');

  return {
    /** Rooms by name, with their member counts and whether `viewer` is in each. */
    async list(viewer: number, query: RoomListQuery): Promise<RoomListing[]> {
      let q = db
        .selectFrom('chats as c')
        .select(['c.id', 'c.name', 'c.created_at', 'c.owner_id'])
        .select((eb) => [
          eb.selectFrom('chat_members as cm').whereRef('cm.chat_id', '=', 'c.id').select((e) => e.fn.countAll<number | string>().as('n')).as('member_count'),
          eb
            .exists(eb.selectFrom('chat_members as mine').select('mine.user_id').whereRef('mine.chat_id', '=', 'c.id').where('mine.user_id', '=', viewer))
            .as('joined'),
        ])
        .where('c.chat_type', '=', 'room');
      if (query.q) {
        const pattern = `%${roomKey(query.q).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        q = q.where(sql<boolean>`c.room_key like ${pattern} escape '\\'`);
      }
      if (query.after !== undefined) q = q.where('c.room_key', '>', roomKey(query.after));
      const rows = await q.orderBy('c.room_key').limit(query.limit).execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name!,
        created_at: r.created_at,
        owner_id: r.owner_id,
        member_count: Number(r.member_count ?? 0),
        joined: Boolean(r.joined),
      }));
    },

    byId(chatId: number): Promise<ChatRow | undefined> {
      return rooms().where('id', '=', chatId).executeTakeFirst();
    },

    /** `uuid` in lower case, as stored (see `parseUuid`). */
    byUuid(uuid: string): Promise<ChatRow | undefined> {
      return rooms().where('room_uuid', '=', uuid).executeTakeFirst();
    },

    /** Every room, by name. */
    all(): Promise<ChatRow[]> {
      return rooms().orderBy('room_key').execute();
    },

    /**
     * Makes `userId` a member unless it is one; false when it was. Its read marker starts at the
     * room's newest message: history is there to read, but a busy room is not all unread at once.
     */
    async join(chatId: number, userId: number, now: string): Promise<boolean> {
      const added = await db
        .insertInto('chat_members')
        .values((eb) => ({
          chat_id: chatId,
          user_id: userId,
          joined_at: now,
          last_read_message_id: eb.fn.coalesce(
            eb.selectFrom('chats').select('last_message_id').where('id', '=', chatId),
            eb.lit(0),
          ),
        }))
        .onConflict((oc) => oc.columns(['chat_id', 'user_id']).doNothing())
        .returning('user_id')
        .executeTakeFirst();
      return added !== undefined;
    },

    /** Makes a room with its owner as its first member; undefined when the name is taken. */
    async create(name: string, ownerId: number, now: string): Promise<ChatRow | undefined> {
      return db.transaction().execute(async (trx) => {
        const room = await trx
          .insertInto('chats')
          .values({
            chat_type: 'room',
            name,
            owner_id: ownerId,
            created_at: now,
            last_activity_at: now,
            room_uuid: randomUUID(),
            room_key: roomKey(name),
          })
          .onConflict((oc) => oc.column('room_key').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (!room) return undefined;
        await trx.insertInto('chat_members').values({ chat_id: room.id, user_id: ownerId, joined_at: now }).execute();
        return room;
      });
    },
  };
}

export type RoomQueries = ReturnType<typeof roomQueries>;
