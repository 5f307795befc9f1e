import type { Principal } from '../auth/plugin.js';
import { badRequest, chatNotFound, forbidden, userNotFound } from '../errors.js';
import type { Chat } from '../http/schemas.js';
import type { LogWriter } from '../log/writer.js';
import { roomNameTaken } from '../rooms/service.js';
import { announceChat } from './announce.js';
import type { UserQueries } from '../users/queries.js';
import type { ChatQueries } from './queries.js';

/** A user named by username (string) or id (number). */
export type UserRef = string | number;

export const MAX_GROUP_MEMBERS = 256;

export class ChatService {
  constructor(
    private readonly chats: ChatQueries,
    private readonly users: UserQueries,
    private readonly writer: LogWriter,
  ) {}

  /** The caller's direct chat with `target`, created when new (one per pair, even under a race). */
  async initiate(caller: Principal, target: UserRef): Promise<{ chat_id: number; status: 'created' | 'exists' }> {
    const other = await this.resolve(target);
    if (other.id === caller.id) throw badRequest('CANNOT_CHAT_WITH_SELF', 'You cannot start a chat with yourself');
    const existing = await this.chats.directChatId(caller.id, other.id);
    if (existing !== undefined) return { chat_id: existing, status: 'exists' };
    const created = await this.chats.createDirect(caller.id, other.id, new Date().toISOString());
    if (created === null) {
      return { chat_id: (await this.chats.directChatId(caller.id, other.id))!, status: 'exists' };
    }
    await this.announce(created, [caller.id, other.id]);
    return { chat_id: created, status: 'created' };
  }

  async createGroup(caller: Principal, name: string, members: UserRef[]): Promise<Chat> {
    const users = await Promise.all(members.map((ref) => this.resolve(ref)));
    const memberIds = [...new Set([caller.id, ...users.map((u) => u.id)])];
    if (memberIds.length > MAX_GROUP_MEMBERS) {
      throw badRequest('TOO_MANY_MEMBERS', `A group has at most ${MAX_GROUP_MEMBERS} members`, { field: 'members' });
    }
    const chatId = await this.chats.createGroup(name, caller.id, memberIds, new Date().toISOString());
    const views = await this.announce(chatId, memberIds);
    return views.get(caller.id)!;
  }

  async get(caller: Principal, chatId: number): Promise<Chat> {
    const chat = await this.chats.getFor(chatId, caller.id);
    if (!chat) throw chatNotFound();
    return chat;
  }

  /** Any member may add someone to a group; adding a member again changes nothing. */
  async addMember(caller: Principal, chatId: number, target: UserRef): Promise<Chat> {
    const chat = await this.get(caller, chatId);
    if (chat.chat_type === 'room') throw badRequest('NOT_A_GROUP', 'Nobody is added to a room: people join it themselves');
    if (chat.chat_type !== 'group') throw badRequest('NOT_A_GROUP', 'Members can only be added to a group chat');
    const user = await this.resolve(target);
    if (chat.participants.length >= MAX_GROUP_MEMBERS && !chat.participants.includes(user.id)) {
      throw badRequest('TOO_MANY_MEMBERS', `A group has at most ${MAX_GROUP_MEMBERS} members`);
    }
    if (!(await this.chats.addMember(chatId, user.id, new Date().toISOString()))) return chat;
    const views = await this.announce(chatId, await this.chats.memberIds(chatId));
    return views.get(caller.id)!;
  }

  /**
   * Any member renames a group; only its owner renames a room, to a name that no other room has
   * in any case. Every member is told, in a room too: a rename is rare, and everyone shows the
   * name. The exact current name changes nothing and tells no one.
   */
  async rename(caller: Principal, chatId: number, name: string): Promise<Chat> {
    const chat = await this.get(caller, chatId);
    if (chat.chat_type === 'direct') throw badRequest('NOT_A_GROUP', 'A direct chat has no name to change');
    if (chat.chat_type === 'room' && chat.owner_id !== caller.id) throw forbidden('NOT_OWNER', "Only the room's owner can rename it");
    // The schema let through 1 to 64 characters, not only spaces: trimmed, at least one is left.
    const newName = name.trim().normalize('NFC');
    if (newName === chat.name) return chat;
    if (!(await this.chats.rename(chatId, chat.chat_type, newName))) throw roomNameTaken(newName);
    const views = await this.announce(chatId, await this.chats.memberIds(chatId));
    // The caller may have left meanwhile: it is then answered the chat without being told.
    return views.get(caller.id) ?? (await this.chats.viewsFor(chatId, [caller.id])).get(caller.id)!;
  }

  /** A member may leave a group or a room; only the owner removes others. */
  async removeMember(caller: Principal, chatId: number, userId: number): Promise<void> {
    const chat = await this.get(caller, chatId);
    if (chat.chat_type === 'direct') throw badRequest('NOT_A_GROUP', 'Nobody can leave or be removed from a direct chat');
    if (userId !== caller.id && chat.owner_id !== caller.id) {
      throw forbidden('NOT_OWNER', `Only the ${chat.chat_type}'s owner can remove other members`);
    }
    // Looked up rather than read from `participants`, which for a room lists only the caller.
    if ((await this.chats.typeFor(chatId, userId)) === undefined) throw userNotFound(userId);
    await this.chats.removeMember(chatId, userId);
    // The removed user's sockets learn it from a last chat frame that no longer lists them. In a
    // room nobody else is told (see RoomService.announceTo), except the owner who removed them.
    const told = chat.chat_type === 'room' ? [caller.id] : await this.chats.memberIds(chatId);
    await this.announce(chatId, [...new Set([...told, userId])]);
  }

  private announce(chatId: number, viewers: number[]): Promise<Map<number, Chat>> {
    return announceChat(this.writer, this.chats, chatId, viewers);
  }

  private async resolve(ref: UserRef) {
    const user = typeof ref === 'number' ? await this.users.byId(ref) : await this.users.byUsername(ref);
    // A deleted account stays a member of the chats it was in, but no one starts one with it again.
    if (!user || user.deleted_at !== null) throw userNotFound(ref);
    return user;
  }
}
