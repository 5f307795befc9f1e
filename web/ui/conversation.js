// The open chat: its header, its messages, history and read markers.

import { $, dayLabel, fillAvatar, h, lastSeen, sameDay, timeFormat } from './dom.js';
import { chatTitle, client, insertMessage, me, memberCount, memberName, otherMember, presenceKnown, state } from './state.js';
import { renderChatList, typingText } from './chat-list.js';
import { refreshMemberCount } from './rooms.js';
import { pendingFiles, renderFiles, textOf } from './attachments.js';
import { messageMenuButton } from './message-actions.js';
import { resetComposer } from './composer.js';
import { enteredChat, leftChat } from './navigation.js';

const PAGE_SIZE = 50;

export const narrow = window.matchMedia('(max-width: 760px)');

export function chatVisible() {
  return (
    state.activeChatId !== null &&
    document.visibilityState === 'visible' &&
    (!narrow.matches || document.body.dataset.view === 'chat')
  );
}

export function showChat(chatId) {
  state.activeChatId = chatId;
  $('chat-empty').hidden = chatId !== null;
  $('chat-view').hidden = chatId === null;
  document.body.dataset.view = chatId === null ? 'list' : 'chat';
  if (chatId === null) leftChat();
}

/** Opens a chat; `history: false` when Back or Forward brought it (the entry is there already). */
export async function openChat(chatId, { history = true } = {}) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const switching = state.activeChatId !== chatId;
  showChat(chatId);
  if (switching) {
    if (history) enteredChat(chatId);
    resetComposer();
    if (chat.chat_type === 'room') refreshMemberCount(chat);
  }
  renderChatHeader();
  renderTyping();
  renderChatList();
  renderMessages({ stick: 'bottom' });
  if (!narrow.matches || switching) $('composer-input').focus();
  if (!chat.loaded) await loadHistory(chat);
  markRead();
}

/** The chat's newest page of history (opening it, or again once the server is back). */
export async function loadHistory(chat) {
  if (chat.loadingFirst) return;
  chat.loadingFirst = true;
  if (state.activeChatId === chat.id) $('history-status').textContent = 'Loading…';
  try {
    const page = await client.request('GET', `/chats/${chat.id}/messages?limit=${PAGE_SIZE}`);
    for (const message of page) take(chat, message);
    chat.loaded = true;
    chat.hasOlder = page.length === PAGE_SIZE;
  } catch (err) {
    if (state.activeChatId === chat.id) $('history-status').textContent = err.message;
    return;
  } finally {
    chat.loadingFirst = false;
  }
  if (state.activeChatId !== chat.id) return;
  renderMessages({ stick: 'bottom' });
  markRead();
  fillViewport(chat);
}

/**
 * A message from a page of history. One of mine that the outbox still holds was stored before a
 * reload cut its echo off: it is sent, so it leaves the outbox rather than show twice.
 */
function take(chat, message) {
  insertMessage(chat, message);
  if (message.sender_id === me().id && message.client_id) client.settle(message);
}

/** Loads older pages until the list can scroll (scrolling up then asks for more). */
export async function fillViewport(chat) {
  const box = $('messages');
  while (chat.hasOlder && state.activeChatId === chat.id && box.scrollHeight <= box.clientHeight) {
    if (!(await loadOlder(chat))) return;
  }
}

export async function loadOlder(chat) {
  if (chat.loadingOlder || !chat.hasOlder || !chat.loaded) return false;
  chat.loadingOlder = true;
  const status = $('history-status');
  status.textContent = 'Loading earlier messages…';
  const oldest = chat.messages[0]?.id;
  try {
    const query = oldest ? `?limit=${PAGE_SIZE}&before=${oldest}` : `?limit=${PAGE_SIZE}`;
    const page = await client.request('GET', `/chats/${chat.id}/messages${query}`);
    for (const message of page) take(chat, message);
    chat.hasOlder = page.length === PAGE_SIZE;
    chat.loadingOlder = false;
    if (state.activeChatId === chat.id) renderMessages({ stick: 'keep' });
    return page.length > 0;
  } catch (err) {
    if (state.activeChatId === chat.id) status.textContent = err.message;
    return false;
  } finally {
    chat.loadingOlder = false;
  }
}

export function renderChatHeader() {
  const chat = state.chats.get(state.activeChatId);
  if (!chat) return;
  const title = chatTitle(chat);
  $('chat-title').textContent = title;
  const subtitle = $('chat-subtitle');
  $('leave-btn').hidden = chat.chat_type !== 'room';
  $('info-btn').hidden = chat.chat_type === 'direct';
  if (chat.chat_type === 'room') {
    // Counted by the server: a room's object lists only me, and no presence comes for the others.
    subtitle.textContent = memberCount(chat.member_count ?? 1);
    subtitle.dataset.online = 'false';
    fillAvatar($('chat-avatar'), title, { room: true });
  } else if (chat.chat_type === 'group') {
    const members = chat.members ?? [];
    const online = presenceKnown() ? members.filter((m) => m.online && m.id !== me().id).length : 0;
    subtitle.textContent = `${members.length} members${online > 0 ? ` · ${online} online` : ''}`;
    subtitle.dataset.online = 'false';
    fillAvatar($('chat-avatar'), title, { group: true });
  } else {
    const other = otherMember(chat);
    // While this page is disconnected nobody's presence is known: say so rather than show a stale one.
    const known = presenceKnown();
    subtitle.textContent = !known ? 'Waiting for the connection…' : other?.online ? 'online' : lastSeen(other?.last_seen_at);
    subtitle.dataset.online = known && other?.online ? 'true' : 'false';
    fillAvatar($('chat-avatar'), title, { online: known && other ? other.online : null });
  }
}

export function renderTyping() {
  const text = state.activeChatId === null ? '' : typingText(state.activeChatId);
  $('typing').textContent = text;
}

/** Who has read up to each of my messages: the newest of my messages each member has read. */
function receipts(chat) {
  const byMessage = new Map();
  const mine = chat.messages.filter((m) => m.sender_id === me().id);
  for (const [userId, markerId] of chat.readMarkers) {
    let read = null;
    for (const m of mine) if (m.id <= markerId) read = m;
    if (!read) continue;
    const list = byMessage.get(read.id) ?? [];
    list.push(memberName(chat, userId, 'someone'));
    byMessage.set(read.id, list);
  }
  return byMessage;
}

export function renderMessages({ stick = 'auto' } = {}) {
  const chat = state.chats.get(state.activeChatId);
  if (!chat) return;
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const fromBottom = box.scrollHeight - box.scrollTop;

  // The server sends no read frames for rooms: every member's reads to every member would not scale.
  const readBy = chat.chat_type === 'room' ? new Map() : receipts(chat);
  const lastOwnRead = Math.max(0, ...readBy.keys());
  const rows = [];
  let previous = null;
  const pending = client.pending(chat.id);
  const all = [...chat.messages, ...pending.map((p) => ({ ...p, id: null, sender_id: me().id, sender: me().username, files: pendingFiles(p) }))];
  for (const m of all) {
    const date = new Date(m.timestamp);
    if (!previous || !sameDay(new Date(previous.timestamp), date)) {
      rows.push(h('li', { class: 'day' }, h('span', { text: dayLabel(date) })));
      previous = null;
    }
    const mine = m.sender_id === me().id;
    const grouped =
      previous && previous.sender_id === m.sender_id && date.getTime() - new Date(previous.timestamp).getTime() < 5 * 60_000;
    const unsent = m.id === null;
    const classes = ['msg', mine ? 'mine' : 'theirs'];
    if (grouped) classes.push('grouped');
    if (unsent) classes.push(m.status === 'failed' ? 'failed' : 'pending');
    if (m.deleted_at) classes.push('deleted');

    const meta = [];
    if (m.edited_at && !m.deleted_at) meta.push(h('span', { text: 'edited' }));
    meta.push(h('time', { datetime: m.timestamp, text: timeFormat.format(date) }));
    if (unsent && m.status !== 'failed') meta.push(h('span', { class: 'state', text: 'Sending…' }));

    const bubble = h(
      'div',
      { class: 'bubble' },
      chat.chat_type !== 'direct' && !mine && !grouped ? h('span', { class: 'sender', text: memberName(chat, m.sender_id, m.sender) }) : null,
      m.deleted_at ? null : renderFiles(m.files ?? [], unsent ? null : m),
      textOf(m),
      h('span', { class: 'meta' }, meta),
    );
    const extra = [];
    if (unsent && m.status === 'failed') {
      extra.push(
        h(
          'p',
          { class: 'receipt failed-note' },
          `Not sent${m.error ? `: ${m.error}` : ''} · `,
          h('button', { type: 'button', class: 'link-btn', onclick: () => client.retry(m.client_id), text: 'Retry' }),
          ' · ',
          h('button', { type: 'button', class: 'link-btn', onclick: () => client.discard(m.client_id), text: 'Delete' }),
        ),
      );
    }
    if (!unsent && mine && m.id === lastOwnRead) {
      const names = readBy.get(m.id);
      const text = chat.chat_type === 'direct' ? 'Seen' : `Seen by ${names.join(', ')}`;
      extra.push(h('p', { class: 'receipt', text }));
    }
    rows.push(
      h(
        'li',
        {
          class: classes.join(' '),
          dataset: m.id === null ? { clientId: m.client_id } : { id: String(m.id) },
        },
        bubble,
        unsent || m.deleted_at || !mine ? null : messageMenuButton(chat, m),
        extra,
      ),
    );
    previous = m;
  }
  // Rebuilt on each change: the keyboard stays on the button it was on (a message's menu, Retry).
  const focused = document.activeElement;
  const row = focused?.closest?.('#message-list li.msg');
  const refocus = row && focused.className ? { data: row.dataset.id ?? row.dataset.clientId, className: focused.className.split(' ')[0], text: focused.textContent } : null;
  $('message-list').replaceChildren(...rows);
  if (refocus) {
    const again = [...$('message-list').querySelectorAll(`li.msg .${refocus.className}`)].find(
      (el) => (el.closest('li.msg').dataset.id ?? el.closest('li.msg').dataset.clientId) === refocus.data && el.textContent === refocus.text,
    );
    again?.focus();
  }
  const status = $('history-status');
  if (!chat.loaded) status.textContent = 'Loading…';
  else if (chat.hasOlder) status.textContent = chat.loadingOlder ? 'Loading earlier messages…' : '';
  else status.textContent = chat.messages.length === 0 && pending.length === 0 ? 'No messages yet. Say hello!' : 'This is the start of the conversation.';

  if (stick === 'bottom' || (stick === 'auto' && atBottom)) box.scrollTop = box.scrollHeight;
  else if (stick === 'keep') box.scrollTop = box.scrollHeight - fromBottom;
}

/** Sends a read marker for the newest message of the open chat, when the person can see it. */
export function markRead() {
  if (!chatVisible()) return;
  const chat = state.chats.get(state.activeChatId);
  if (!chat) return;
  // The newest message from someone else: unread counts only ever count those.
  const fromOthers = (m) => m && m.sender_id !== me().id;
  const newest = chat.messages.findLast(fromOthers)?.id ?? (fromOthers(chat.last_message) ? chat.last_message.id : undefined);
  if (!newest) return;
  chat.unread_count = 0;
  renderChatList();
  if ((state.readSent.get(chat.id) ?? 0) >= newest) return;
  state.readSent.set(chat.id, newest);
  client.read(chat.id, newest).catch(() => state.readSent.delete(chat.id));
}

