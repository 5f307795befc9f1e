// A group's or a room's details (the header's info button): its name and renaming it, its members
// with adding (groups), removing (the owner) and leaving.

import { $, avatar, fillAvatar, h, lastSeen, toast } from './dom.js';
import { adoptChat, chatTitle, client, me, memberCount, onlineShown, personName, presenceKnown, state } from './state.js';
import { renderChatList, peopleSearch } from './chat-list.js';
import { renderChatHeader } from './conversation.js';
import { forgetChat } from './events.js';

const MEMBER_PAGE_SIZE = 50;

/**
 * The dialog's chat, and for a room the members paged in so far (a room's object lists only me).
 * `seq` drops answers meant for a chat or a list shown before.
 */
const info = { chatId: null, roomMembers: [], more: false, loading: false, seq: 0 };

const dialog = () => $('chat-info-dialog');
const infoChat = () => (info.chatId === null ? undefined : state.chats.get(info.chatId));
const isOpen = () => dialog().open;
const kind = (chat) => (chat.chat_type === 'room' ? 'room' : 'group');

/** Opens the details of the open chat (groups and rooms; a direct chat has none). */
export function openChatInfo() {
  const chat = state.chats.get(state.activeChatId);
  if (!chat || chat.chat_type === 'direct') return;
  info.chatId = chat.id;
  info.roomMembers = [];
  info.more = false;
  info.loading = false;
  info.seq += 1;
  $('chat-rename-input').value = chat.name ?? '';
  $('chat-rename-error').textContent = '';
  $('chat-add-search').value = '';
  $('chat-add-results').replaceChildren();
  $('chat-add-error').textContent = '';
  $('chat-members-status').textContent = '';
  $('chat-members').replaceChildren();
  say('');
  render();
  dialog().showModal();
  $('chat-info-close').focus();
  // The owner, the count and (for a room) the members as the server has them now: a room's other
  // members' joins and leaves, and an owner who left, are not sent to this page.
  refresh(chat.id);
  if (chat.chat_type === 'room') loadRoomMembers({ reset: true });
}

async function refresh(chatId) {
  let fresh;
  try {
    fresh = await client.request('GET', `/chats/${chatId}`);
  } catch {
    return; // What the page has stays shown; a chat that is gone arrives as a `chat` frame.
  }
  if (!state.chats.has(chatId)) return;
  adoptChat(fresh);
  renderChatList();
  if (state.activeChatId === chatId) renderChatHeader();
  if (isOpen() && info.chatId === chatId) render();
}

/**
 * A `chat` frame changed a chat (events.js calls this once it has taken the frame in): the dialog
 * follows a rename or member changes made elsewhere, and closes when I am no longer in the chat.
 */
export function chatChanged(chat) {
  if (!isOpen() || chat.id !== info.chatId) return;
  if (!chat.participants.includes(me().id)) {
    closeChatInfo();
    return;
  }
  render();
}

export function closeChatInfo() {
  if ($('confirm-dialog').open) $('confirm-dialog').close('cancel');
  if (isOpen()) dialog().close();
}

function render() {
  const chat = infoChat();
  if (!chat) return;
  const title = chatTitle(chat);
  const room = chat.chat_type === 'room';
  $('chat-info-title').textContent = title;
  fillAvatar($('chat-info-avatar'), title, { room, group: !room });
  const count = room ? (chat.member_count ?? 1) : (chat.members ?? []).length;
  $('chat-info-subtitle').textContent = `${room ? 'Public room' : 'Group'} · ${memberCount(count)}`;
  renderRename(chat);
  $('chat-add-field').hidden = room;
  $('chat-add-results').hidden = room;
  $('chat-add-error').hidden = room;
  $('chat-members-note').textContent = room ? 'Anyone can find this room in the directory and join it.' : '';
  $('chat-members-note').hidden = !room;
  $('chat-leave').textContent = room ? 'Leave room' : 'Leave group';
  renderMembers(chat);
}

function renderRename(chat) {
  const input = $('chat-rename-input');
  const room = chat.chat_type === 'room';
  const mayRename = !room || chat.owner_id === me().id;
  input.disabled = !mayRename;
  $('chat-rename-save').hidden = !mayRename;
  // A name typed and not saved yet stays; otherwise the field shows the name as it is now.
  if (document.activeElement !== input || !mayRename) input.value = chat.name ?? '';
  let note;
  if (!room) note = 'Anyone in the group can rename it.';
  else if (mayRename) note = 'You own this room: only you can rename it. Room names are unique.';
  else if (chat.owner_id === null) note = 'This room has no owner, so its name cannot change.';
  else note = 'Only the room’s owner can rename it.';
  $('chat-rename-note').textContent = note;
}

/** The members: a group's from its chat object, a room's from the pages loaded so far. */
function renderMembers(chat) {
  const room = chat.chat_type === 'room';
  const members = room ? info.roomMembers : (chat.members ?? []);
  const owner = chat.owner_id === me().id;
  $('chat-members').replaceChildren(...members.map((member) => memberRow(chat, member, owner)));
  $('chat-members-more').hidden = !room || !info.more;
}

function memberRow(chat, member, iAmOwner) {
  const self = member.id === me().id;
  const name = personName(member);
  // Presence is known only while the socket is up; my own needs no saying.
  const known = presenceKnown() && !self;
  const tags = [];
  if (member.id === chat.owner_id) tags.push(h('span', { class: 'tag', text: 'owner' }));
  if (self) tags.push(h('span', { class: 'tag tag-muted', text: 'you' }));
  const status = known ? (member.online ? 'online' : lastSeen(member.last_seen_at)) : '';
  return h(
    'li',
    { class: 'member', dataset: { userId: String(member.id) } },
    avatar(member.display_name ?? member.username, { online: known ? member.online : null }),
    h(
      'span',
      { class: 'member-text' },
      h('span', { class: 'member-top' }, h('span', { class: 'member-name', text: name }), tags),
      status ? h('span', { class: member.online ? 'member-status is-online' : 'member-status', text: status }) : null,
    ),
    iAmOwner && !self
      ? h('button', { type: 'button', class: 'member-remove', 'aria-label': `Remove ${name}`, onclick: () => removeMember(chat, member) }, 'Remove')
      : null,
  );
}

/** The first page of a room's members (`reset`), or the next after the last one shown. */
async function loadRoomMembers({ reset }) {
  const chat = infoChat();
  if (!chat || (!reset && (info.loading || !info.more))) return;
  const seq = reset ? ++info.seq : info.seq;
  const after = reset ? 0 : (info.roomMembers.at(-1)?.id ?? 0);
  const shown = reset ? 0 : info.roomMembers.length;
  info.loading = true;
  $('chat-members-status').textContent = 'Loading…';
  $('chat-members-more').disabled = true;
  let page;
  try {
    page = await client.request('GET', `/chats/${chat.id}/members?after=${after}&limit=${MEMBER_PAGE_SIZE}`);
  } catch (err) {
    if (seq === info.seq) {
      info.loading = false;
      $('chat-members-status').textContent = err.message;
      $('chat-members-more').disabled = false;
    }
    return;
  }
  if (seq !== info.seq || info.chatId !== chat.id) return;
  info.loading = false;
  info.roomMembers = reset ? page : [...info.roomMembers, ...page];
  info.more = page.length === MEMBER_PAGE_SIZE;
  $('chat-members-status').textContent = '';
  $('chat-members-more').disabled = false;
  renderMembers(chat);
  // "Show more" may be gone now: the keyboard goes on at the first member it brought.
  if (!reset) $('chat-members').children[shown]?.querySelector('button')?.focus();
}

/** A line at the foot of the dialog: toasts show under a modal dialog's backdrop. */
function say(text, { error = false } = {}) {
  const status = $('chat-info-status');
  status.textContent = text;
  status.classList.toggle('error', error);
}

// Adding people to a group --------------------------------------------------------------------

const runAddSearch = peopleSearch('chat-add-search', {
  show: showCandidates,
  fail: (err) => ($('chat-add-error').textContent = err.message),
});

function showCandidates(users, query) {
  const chat = infoChat();
  $('chat-add-error').textContent = '';
  if (!chat || users === null) {
    $('chat-add-results').replaceChildren();
    return;
  }
  const members = new Set(chat.participants);
  const candidates = users.filter((u) => !members.has(u.id));
  $('chat-add-results').replaceChildren(
    ...(candidates.length === 0
      ? [h('li', { class: 'empty', text: users.length === 0 ? `Nobody called “${query}”` : 'Everyone found is in the group already.' })]
      : candidates.map((user) =>
          h(
            'li',
            {},
            h(
              'button',
              { type: 'button', class: 'person', 'aria-label': `Add ${personName(user)}`, onclick: (event) => addMember(user, event.currentTarget) },
              avatar(user.display_name ?? user.username, { online: onlineShown(user) }),
              h('span', { class: 'person-name', text: personName(user) }),
              h('span', { class: 'person-action', 'aria-hidden': 'true', text: 'Add' }),
            ),
          ),
        )),
  );
}

async function addMember(user, button) {
  const chat = infoChat();
  if (!chat) return;
  button.disabled = true;
  try {
    adoptChat(await client.request('POST', `/chats/${chat.id}/members`, { user_id: user.id }));
  } catch (err) {
    button.disabled = false;
    $('chat-add-error').textContent = err.code === 'TOO_MANY_MEMBERS' ? 'This group is full: a group has at most 256 members.' : err.message;
    return;
  }
  $('chat-add-search').value = '';
  $('chat-add-results').replaceChildren();
  renderChatList();
  if (state.activeChatId === chat.id) renderChatHeader();
  render();
  say(`${personName(user)} was added.`);
  $('chat-add-search').focus();
}

// Renaming ---------------------------------------------------------------------------------------

async function onRename(event) {
  event.preventDefault();
  const chat = infoChat();
  if (!chat) return;
  const input = $('chat-rename-input');
  const error = $('chat-rename-error');
  const name = input.value.trim();
  error.textContent = '';
  if (name === '') {
    error.textContent = `Give the ${kind(chat)} a name.`;
    input.focus();
    return;
  }
  if (name === chat.name) return;
  const button = $('chat-rename-save');
  button.disabled = true;
  try {
    adoptChat(await client.request('PATCH', `/chats/${chat.id}`, { name }));
  } catch (err) {
    if (err.code === 'ROOM_NAME_TAKEN') error.textContent = `A room called “${name}” already exists (names ignore capitals). Pick another name.`;
    else if (err.code === 'VALIDATION_ERROR') error.textContent = 'That name cannot be used: a name is 1–64 characters, not only spaces.';
    else if (err.code === 'NOT_OWNER') error.textContent = 'Only the room’s owner can rename it.';
    else error.textContent = err.message;
    input.focus();
    return;
  } finally {
    button.disabled = false;
  }
  renderChatList();
  if (state.activeChatId === chat.id) renderChatHeader();
  input.blur();
  render();
  say(`Renamed to ${chatTitle(chat)}.`);
}

// Removing and leaving ---------------------------------------------------------------------------

/** Asks in a small dialog over this one; resolves true when the person confirms. */
export function confirmAction({ title, text, action }) {
  const confirm = $('confirm-dialog');
  $('confirm-dialog-title').textContent = title;
  $('confirm-dialog-text').textContent = text;
  $('confirm-ok').textContent = action;
  confirm.returnValue = '';
  confirm.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    confirm.addEventListener('close', () => resolve(confirm.returnValue === 'confirm'), { once: true });
  });
}

async function removeMember(chat, member) {
  const name = personName(member);
  const ok = await confirmAction({
    title: `Remove ${name}?`,
    text: `They leave ${chatTitle(chat)} and get no more of its messages.${chat.chat_type === 'room' ? ' A public room is open to them to join again.' : ''}`,
    action: 'Remove',
  });
  if (!ok || !isOpen() || info.chatId !== chat.id) return;
  try {
    await client.request('DELETE', `/chats/${chat.id}/members/${member.id}`);
  } catch (err) {
    // Not found: someone else removed them, or they left, meanwhile.
    if (err.code !== 'USER_NOT_FOUND') {
      say(err.message, { error: true });
      return;
    }
  }
  if (chat.chat_type === 'room') {
    info.roomMembers = info.roomMembers.filter((m) => m.id !== member.id);
    // The count as the server has it (the `chat` frame that tells me may come before or after this).
    refresh(chat.id);
  } else {
    // The `chat` frame says it too; the list need not wait for it.
    chat.members = (chat.members ?? []).filter((m) => m.id !== member.id);
    chat.participants = chat.participants.filter((id) => id !== member.id);
    chat.member_count = chat.members.length;
  }
  if (state.activeChatId === chat.id) renderChatHeader();
  render();
  say(`${name} was removed.`);
}

async function leave() {
  const chat = infoChat();
  if (!chat) return;
  const title = chatTitle(chat);
  const room = chat.chat_type === 'room';
  const ok = await confirmAction({
    title: `Leave ${title}?`,
    text: room
      ? 'It goes from your chats. The room stays in the directory: you can join it again.'
      : 'It goes from your chats, and only a member can add you back.',
    action: room ? 'Leave room' : 'Leave group',
  });
  if (!ok || info.chatId !== chat.id || !state.chats.has(chat.id)) return;
  const button = $('chat-leave');
  button.disabled = true;
  try {
    await client.request('DELETE', `/chats/${chat.id}/members/${me().id}`);
  } catch (err) {
    // Not found: already gone (left on another device, or removed).
    if (err.status !== 404) {
      say(err.message, { error: true });
      return;
    }
  } finally {
    button.disabled = false;
  }
  closeChatInfo();
  forgetChat(chat.id);
  toast(`You left ${title}.`);
  ($('chat-list').querySelector('.chat-item') ?? $('user-search')).focus();
}

export function wireChatInfo() {
  $('chat-info-close').addEventListener('click', closeChatInfo);
  $('chat-rename-form').addEventListener('submit', onRename);
  $('chat-rename-input').addEventListener('input', () => ($('chat-rename-error').textContent = ''));
  $('chat-add-search').addEventListener('input', runAddSearch);
  $('chat-add-search').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') event.preventDefault();
  });
  $('chat-members-more').addEventListener('click', () => loadRoomMembers({ reset: false }));
  $('chat-leave').addEventListener('click', leave);
  // Presence as it changes, and unknown while the socket is down (events.js has updated the members).
  const rerender = () => {
    const chat = infoChat();
    if (isOpen() && chat) renderMembers(chat);
  };
  client.on('presence', rerender);
  client.on('status', rerender);
  dialog().addEventListener('close', () => {
    info.chatId = null;
    info.seq += 1;
  });
}
