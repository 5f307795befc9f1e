import type { Principal } from '../auth/plugin.js';
import type { ChatQueries } from '../chats/queries.js';
import type { ChatRow } from '../db/schema.js';
import { conflict, notFound } from '../errors.js';
import type { Chat } from '../http/schemas.js';
import { announceChat } from '../chats/announce.js';
import type { LogWriter } from '../log/writer.js';
import { parseUuid } from '../rooms-api/model.js';
import type { RoomListing, RoomListQuery, RoomQueries } from './queries.js';

export const roomNotFound = () => notFound('ROOM_NOT_FOUND', 'Room not found');
/** A room's name is taken when another room has it in any case (making a room, or renaming one). */
export const roomNameTaken = (name: string) => conflict('ROOM_NAME_TAKEN', `There is already a room named "${name}"`);

/** Public chats: anyone finds them in the directory and joins them. */
export class RoomService {
  constructor(
    private readonly rooms: RoomQueries,
    private readonly chats: ChatQueries,
    private readonly writer: LogWriter,
  ) {}

  /** The room a UUID names (the rooms surface's ids); a text that is no UUID names no room. */
  async byUuid(text: string): Promise<ChatRow> {
    const uuid = parseUuid(text);
    const room = uuid === null ? undefined : await this.rooms.byUuid(uuid);
    if (!room) throw roomNotFound();
    return room;
  }

  list(caller: Principal, query: RoomListQuery): Promise<RoomListing[]> {
    return this.rooms.list(caller.id, query);
  }

  async create(caller: Principal, name: string): Promise<Chat> {
    const room = await this.rooms.create(name.normalize('NFC'), caller.id, new Date().toISOString());
    if (!room) throw roomNameTaken(name);
    return this.announceTo(room.id, caller.id);
  }

  /** Joins the room (again: nothing changes) and answers it as the caller now sees it. */
  async join(caller: Principal, chatId: number): Promise<Chat> {
    const room = await this.rooms.byId(chatId);
    if (!room) throw roomNotFound();
    if (await this.rooms.join(room.id, caller.id, new Date().toISOString())) return this.announceTo(room.id, caller.id);
    return (await this.chats.viewsFor(room.id, [caller.id])).get(caller.id)!;
  }

  /** Makes the caller a member of `room` unless it is one (the rooms surface, on every post). */
  async ensureMember(caller: Principal, room: ChatRow): Promise<void> {
    // A read first: most posts are by members, and a write would take SQLite's one write lock.
    if ((await this.chats.typeFor(room.id, caller.id)) !== undefined) return;
    if (await this.rooms.join(room.id, caller.id, new Date().toISOString())) await this.announceTo(room.id, caller.id);
  }

  /**
   * Tells the joiner's own sockets (its other devices) about the room. The other members are not
   * told: a room's chat object lists only the viewer, so a join changes nothing they are shown
   * but the member count, and a `chat` frame to every member for every join would not scale.
   */
  private async announceTo(chatId: number, userId: number): Promise<Chat> {
    return (await announceChat(this.writer, this.chats, chatId, [userId])).get(userId)!;
  }
}
