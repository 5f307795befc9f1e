// The chat list, and finding people to start a chat with.

import { $, avatar, debounce, h, listTime, toast } from './dom.js';
import { chatTitle, client, me, memberName, otherMember, onlineShown, personName, state } from './state.js';
import { chatVisible, openChat } from './conversation.js';
import { fetchChat } from './events.js';
import { messageText } from './attachments.js';
import { setTitleCount } from './notifications.js';

function activityOf(chat) {
  return chat.last_message?.timestamp ?? chat.created_at ?? '';
}

export function typingText(chatId) {
  const chat = state.chats.get(chatId);
  const names = [...(state.typing.get(chatId)?.entries() ?? [])].map(([id, t]) => memberName(chat, id, t.username));
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return 'Several people are typing…';
}

function preview(chat) {
  const m = chat.last_message;
  if (!m) return chat.chat_type === 'group' ? 'Group created' : 'No messages yet';
  const text = m.deleted_at ? 'Message deleted' : messageText(m);
  if (m.sender_id === me().id) return `You: ${text}`;
  return chat.chat_type === 'direct' ? text : `${memberName(chat, m.sender_id, m.sender)}: ${text}`;
}

export function renderChatList() {
  if (!client.session) return;
  const chats = [...state.chats.values()].sort(
    (a, b) => activityOf(b).localeCompare(activityOf(a)) || b.id - a.id,
  );
  const items = chats.map((chat) => {
    const title = chatTitle(chat);
    const other = chat.chat_type === 'direct' ? otherMember(chat) : null;
    const typing = typingText(chat.id);
    const unread = chat.id === state.activeChatId && chatVisible() ? 0 : (chat.unread_count ?? 0);
    const room = chat.chat_type === 'room';
    // The "#" avatar is hidden from screen readers: the label says it instead.
    // Presence is unknown while this page is disconnected: no dot rather than a stale one.
    const online = onlineShown(other);
    const label = [title, room ? 'room' : null, online ? 'online' : null, unread > 0 ? `${unread} unread` : null]
      .filter(Boolean)
      .join(', ');
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: 'chat-item',
          'aria-current': chat.id === state.activeChatId ? 'true' : null,
          'aria-label': label,
          dataset: { chatId: String(chat.id) },
          onclick: () => openChat(chat.id),
        },
        avatar(title, { group: chat.chat_type === 'group', room, online }),
        h(
          'span',
          { class: 'chat-item-body' },
          h(
            'span',
            { class: 'chat-item-top' },
            h('span', { class: 'chat-item-title', text: title }),
            chat.last_message ? h('time', { class: 'chat-item-time', datetime: chat.last_message.timestamp, text: listTime(chat.last_message.timestamp) }) : null,
          ),
          h(
            'span',
            { class: 'chat-item-bottom' },
            h('span', { class: typing ? 'chat-item-preview is-typing' : 'chat-item-preview', text: typing || preview(chat) }),
            unread > 0 ? h('span', { class: 'badge', 'aria-hidden': 'true', text: unread > 99 ? '99+' : String(unread) }) : null,
          ),
        ),
      ),
    );
  });
  // Rebuilt on each change: keep the keyboard focus on the chat it was on.
  const focused = document.activeElement?.closest?.('.chat-item')?.dataset.chatId;
  $('chat-list').replaceChildren(...items);
  if (focused) $('chat-list').querySelector(`.chat-item[data-chat-id="${focused}"]`)?.focus();
  $('chat-list-empty').hidden = chats.length > 0;
  const totalUnread = chats.reduce((n, c) => n + (c.id === state.activeChatId && chatVisible() ? 0 : (c.unread_count ?? 0)), 0);
  setTitleCount(totalUnread);
}


async function searchUsers(query) {
  const users = await client.request('GET', `/users?username=${encodeURIComponent(query)}&limit=20`);
  return users.filter((u) => u.id !== me().id);
}

/**
 * A people search that runs as the person types in the field `inputId`: debounced, and only the
 * answer to the latest query reaches `show(users, query)` (`users` null for an empty field) or `fail(error)`.
 */
export function peopleSearch(inputId, { show, fail }) {
  let seq = 0;
  return debounce(async () => {
    const query = $(inputId).value.trim();
    const mine = ++seq;
    if (query === '') return show(null, query);
    try {
      const users = await searchUsers(query);
      if (mine === seq) show(users, query);
    } catch (err) {
      if (mine === seq) fail(err);
    }
  }, 200);
}

export const runSearch = peopleSearch('user-search', {
  show: showPeople,
  fail: (err) => $('search-results').replaceChildren(h('li', { class: 'empty', text: err.message })),
});

function showPeople(users, query) {
  const section = $('search-section');
  if (users === null) {
    section.hidden = true;
    $('search-results').replaceChildren();
    return;
  }
  section.hidden = false;
  $('search-results').replaceChildren(
    ...(users.length === 0
      ? [h('li', { class: 'empty', text: `Nobody called “${query}”` })]
      : users.map((user) =>
          h(
            'li',
            {},
            h(
              'button',
              {
                type: 'button',
                class: 'person',
                'aria-label': `Start a chat with ${user.username}`,
                onclick: () => startDirectChat(user.username),
              },
              avatar(user.display_name ?? user.username, { online: onlineShown(user) }),
              h('span', { class: 'person-name', text: personName(user) }),
            ),
          ),
        )),
  );
}

async function startDirectChat(username) {
  try {
    const { chat_id } = await client.request('POST', '/chats/initiate', { target_username: username });
    if (!state.chats.has(chat_id)) await fetchChat(chat_id);
    $('user-search').value = '';
    $('search-section').hidden = true;
    $('search-results').replaceChildren();
    openChat(chat_id);
  } catch (err) {
    toast(err.message);
  }
}

