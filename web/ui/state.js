// What the page knows: the protocol client, the chats as the server last told them, and how chats
// and people are named.

import { ChatClient } from '../client.js';

export const client = new ChatClient({ storage: localStorage });

export const state = {
  /** chat id → chat (the server's object, plus the client's own fields below) */
  chats: new Map(),
  activeChatId: null,
  /** chat id → Map(user id → {username, timer}) of members typing */
  typing: new Map(),
  lastTypingSent: new Map(),
  /** chat id → the highest message id a read marker was sent for */
  readSent: new Map(),
  /** The socket went down since the chats (and their members' presence) were last fetched. */
  presenceStale: false,
  /** Counts the changes live frames make: a chat list fetched before one must not undo it. */
  version: 0,
  /** chat id → the version at which a live frame last changed it */
  touched: new Map(),
  /** chat id → the version at which this user left it (or was removed) */
  forgotten: new Map(),
};

/** Notes that a live frame changed the chat, so that an older snapshot of the list leaves it be. */
export function touch(chatId) {
  state.touched.set(chatId, ++state.version);
}

export const me = () => client.session.user;

/**
 * Client fields on a chat:
 *  messages: message objects by id order (only once `loaded`), hasOlder, loadingOlder,
 *  readMarkers: Map(user id → message id) of the other members.
 */
export function adoptChat(serverChat) {
  const existing = state.chats.get(serverChat.id);
  const chat = existing ?? {
    messages: [],
    loaded: false,
    hasOlder: true,
    loadingOlder: false,
    readMarkers: new Map(),
  };
  const keepLast =
    existing?.last_message && (!serverChat.last_message || existing.last_message.id > serverChat.last_message.id)
      ? existing.last_message
      : null;
  Object.assign(chat, serverChat);
  if (keepLast) chat.last_message = keepLast;
  for (const member of chat.members ?? []) {
    if (Number.isInteger(member.last_read_message_id) && member.id !== me().id) {
      const known = chat.readMarkers.get(member.id) ?? 0;
      chat.readMarkers.set(member.id, Math.max(known, member.last_read_message_id));
    }
  }
  state.chats.set(chat.id, chat);
  return chat;
}

/** Adds a message (live, replayed or loaded) in id order; false when it was already there. */
export function insertMessage(chat, message) {
  const list = chat.messages;
  let i = list.length;
  while (i > 0 && list[i - 1].id > message.id) i--;
  if (i > 0 && list[i - 1].id === message.id) {
    list[i - 1] = message;
    return false;
  }
  list.splice(i, 0, message);
  return true;
}

/** Replaces a message wherever the page keeps it (after an edit, a delete). */
export function replaceMessage(chat, id, change) {
  const i = chat.messages.findIndex((m) => m.id === id);
  if (i >= 0) chat.messages[i] = change(chat.messages[i]);
  if (chat.last_message?.id === id) chat.last_message = change(chat.last_message);
}

export function chatTitle(chat) {
  if (chat.chat_type === 'group') return chat.name ?? 'Group';
  if (chat.chat_type === 'room') return chat.name ?? 'Room';
  const other = otherMember(chat);
  return other ? personName(other) : 'Direct chat';
}

/**
 * A user as shown: a display name always with the @username beside it, since anyone may choose
 * any display name (the server refuses only one that looks like another's username).
 */
export function personName(user) {
  return user.display_name ? `${user.display_name} (@${user.username})` : user.username;
}

export function otherMember(chat) {
  return (chat.members ?? []).find((m) => m.id !== me().id) ?? null;
}

/**
 * How a member is named in a chat (personName). A room's object lists only me, so
 * there the others are named by the username their messages and typing frames carry.
 */
export function memberName(chat, userId, fallback) {
  const member = chat?.members?.find((m) => m.id === userId);
  return member ? personName(member) : fallback;
}

export const memberCount = (n) => (n === 1 ? '1 member' : `${n} members`);

/**
 * Presence is only known while the socket is up: offline, the page cannot tell who is online. After
 * a disconnection it is known again once the list has been fetched anew (on `resumed`): until then
 * what the page holds is from before, and presence frames sent meanwhile were missed.
 */
export const presenceKnown = () => client.status === 'online' && !state.presenceStale;

/** A user's online state as the page may show it: null (no dot) while presence is not known. */
export const onlineShown = (user) => (user && presenceKnown() ? user.online : null);
