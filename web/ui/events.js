// What the server tells the page (through web/client.js) and how the page takes it in.

import { $, toast } from './dom.js';
import { adoptChat, client, insertMessage, me, memberName, replaceMessage, state, touch } from './state.js';
import { fetchChats } from './session.js';
import { renderChatList } from './chat-list.js';
import { loadHistory, markRead, renderChatHeader, renderMessages, renderTyping, showChat } from './conversation.js';
import { notifyMessage } from './notifications.js';
import { messageText } from './attachments.js';
import { chatChanged } from './chat-info.js';

const TYPING_SHOW_MS = 4000;

export function listen() {
  client.on('message', onMessage);
  client.on('resumed', onResumed);
  client.on('message_updated', onMessageUpdated);
  client.on('message_deleted', ({ chat_id, id }) => onMessageDeleted(chat_id, id));
  client.on('typing', onTyping);
  client.on('read', onRead);
  client.on('presence', onPresence);
  client.on('chat', ({ chat }) => onChatEvent(chat));
  client.on('outbox', onOutbox);
  client.on('error', onErrorFrame);
}

function onMessage(message) {
  // A replay brings what was missed while away: counted as unread, but it does not ring.
  const live = !client.replaying;
  const chat = state.chats.get(message.chat_id);
  if (!chat) {
    // A chat this page has not heard of (started while it was away): fetch it, once.
    fetchChat(message.chat_id).then((fetched) => fetched && live && notifyMessage(fetched, message));
    return;
  }
  touch(chat.id);
  const mine = message.sender_id === me().id;
  const isNew = !chat.last_message || message.id > chat.last_message.id;
  // Kept even before the chat's history is loaded: the page of history may have been read before
  // this message was stored, and merging by id drops the other copy.
  const added = insertMessage(chat, message);
  if (isNew) {
    chat.last_message = message;
    if (!mine && added && message.deleted_at === null) chat.unread_count = (chat.unread_count ?? 0) + 1;
  }
  if (!mine) clearTyping(chat.id, message.sender_id);
  if (chat.id === state.activeChatId && !mine && added) {
    // The list is rebuilt on each change, so new messages are announced here rather than by it.
    $('announcer').textContent = `${memberName(chat, message.sender_id, message.sender)}: ${message.deleted_at ? 'Message deleted' : messageText(message)}`;
  }
  renderSoon({ stick: mine ? 'bottom' : 'auto' });
  if (!mine && added && isNew && live) notifyMessage(chat, message);
}

/** What the next render is to do: frames come one by one, a replay by the hundred, and one render serves them all. */
let soon = null;
function renderSoon({ stick }) {
  soon ??= { stick: 'auto', timer: setTimeout(renderNow, 16) };
  if (stick === 'bottom') soon.stick = 'bottom';
}
function renderNow() {
  const { stick } = soon;
  soon = null;
  if (!client.session) return;
  if (state.activeChatId !== null) {
    renderMessages({ stick });
    markRead();
  }
  renderChatList();
}

async function onResumed() {
  // The list itself (unread counts, presence, chats started meanwhile) from the server.
  try {
    await fetchChats();
  } catch {
    // Kept as it is; the next reconnect tries again.
  }
  // Presence as the server has it now (or, if the list could not be fetched, as live frames tell it from now on).
  state.presenceStale = false;
  if (state.activeChatId !== null && !state.chats.has(state.activeChatId)) showChat(null);
  renderChatList();
  if (state.activeChatId !== null) {
    renderChatHeader();
    renderMessages();
    markRead();
    // A first page that could not be loaded while the server was away.
    const chat = state.chats.get(state.activeChatId);
    if (!chat.loaded) loadHistory(chat);
  }
}

function onMessageUpdated(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return;
  touch(chat.id);
  replaceMessage(chat, message.id, () => message);
  if (chat.id === state.activeChatId) renderMessages();
  renderChatList();
}

export function onMessageDeleted(chatId, id) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  touch(chat.id);
  replaceMessage(chat, id, (m) => ({ ...m, content: null, files: [], deleted_at: m.deleted_at ?? new Date().toISOString() }));
  if (chat.id === state.activeChatId) renderMessages();
  renderChatList();
}

function onTyping({ chat_id, user_id, username }) {
  if (user_id === me().id) return;
  const typing = state.typing.get(chat_id) ?? new Map();
  const previous = typing.get(user_id);
  if (previous) clearTimeout(previous.timer);
  const timer = setTimeout(() => clearTyping(chat_id, user_id), TYPING_SHOW_MS);
  typing.set(user_id, { username, timer });
  state.typing.set(chat_id, typing);
  renderTyping();
  renderChatList();
}

function clearTyping(chatId, userId) {
  const typing = state.typing.get(chatId);
  const entry = typing?.get(userId);
  if (!entry) return;
  clearTimeout(entry.timer);
  typing.delete(userId);
  renderTyping();
  renderChatList();
}

function onRead({ chat_id, user_id, message_id }) {
  const chat = state.chats.get(chat_id);
  if (!chat) return;
  if (user_id === me().id) {
    // Read on another device of mine.
    touch(chat.id);
    if (chat.last_message && message_id >= chat.last_message.id) chat.unread_count = 0;
    renderChatList();
    return;
  }
  const known = chat.readMarkers.get(user_id) ?? 0;
  if (message_id <= known) return;
  chat.readMarkers.set(user_id, message_id);
  if (chat.id === state.activeChatId) renderMessages();
}

function onPresence({ user_id, online, last_seen_at }) {
  for (const chat of state.chats.values()) {
    for (const member of chat.members ?? []) {
      if (member.id === user_id) {
        member.online = online;
        member.last_seen_at = last_seen_at;
      }
    }
  }
  renderChatList();
  if (state.activeChatId !== null) renderChatHeader();
}

export function onChatEvent(chat) {
  if (!chat) return;
  // Left or removed (here or on another device): the last frame no longer lists me.
  if (!chat.participants.includes(me().id)) {
    const known = state.chats.get(chat.id);
    if (known) {
      forgetChat(chat.id);
      toast(`You are no longer in ${chat.name ?? 'this chat'}.`);
    }
    chatChanged(chat);
    return;
  }
  touch(chat.id);
  state.forgotten.delete(chat.id);
  chatChanged(adoptChat(chat));
  renderChatList();
  if (state.activeChatId === chat.id) renderChatHeader();
}

/** Drops a chat this user is no longer in, with what the page kept for it. */
export function forgetChat(chatId) {
  if (!state.chats.has(chatId)) return;
  state.chats.delete(chatId);
  state.forgotten.set(chatId, ++state.version);
  for (const entry of state.typing.get(chatId)?.values() ?? []) clearTimeout(entry.timer);
  state.typing.delete(chatId);
  state.lastTypingSent.delete(chatId);
  state.readSent.delete(chatId);
  // Its unsent messages could only fail now.
  for (const entry of client.pending(chatId)) client.discard(entry.client_id);
  if (state.activeChatId === chatId) showChat(null);
  renderChatList();
}

function onOutbox() {
  if (state.activeChatId !== null) renderMessages();
}

function onErrorFrame({ code, error, entry }) {
  // A refused send shows on its message, with Retry; "later" refusals are retried by the client.
  if (entry || code === 'NOT_IDENTIFIED') return;
  toast(error ?? 'Something went wrong');
}

/** Chat id → its request under way: the messages of a new chat arrive together, and one request serves them. */
const fetching = new Map();

export function fetchChat(id) {
  if (!fetching.has(id)) {
    const request = client
      .request('GET', `/chats/${id}`)
      .then((fresh) => {
        const chat = adoptChat(fresh);
        touch(id);
        renderChatList();
        return chat;
      })
      .catch(() => null)
      .finally(() => fetching.delete(id));
    fetching.set(id, request);
  }
  return fetching.get(id);
}
