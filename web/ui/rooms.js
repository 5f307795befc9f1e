// Rooms: the directory, joining, making and leaving.

import { $, avatar, debounce, h, toast } from './dom.js';
import { adoptChat, chatTitle, client, me, memberCount, state } from './state.js';
import { renderChatList } from './chat-list.js';
import { openChat, renderChatHeader } from './conversation.js';
import { forgetChat } from './events.js';

const ROOM_PAGE_SIZE = 50;

/** The directory as last shown, for `query`: `seq` drops answers to searches typed over since. */
const directory = { query: '', rooms: [], more: false, loading: false, seq: 0 };

export function openRoomsDialog() {
  $('rooms-search').value = '';
  $('room-name').value = '';
  $('room-create-error').textContent = '';
  // Not the list from the last time: whether each room is joined may have changed since.
  $('rooms-results').replaceChildren();
  $('rooms-more').hidden = true;
  $('rooms-dialog').showModal();
  $('rooms-search').focus();
  loadRooms({ reset: true });
}

/** The first page for the search box (`reset`), or the next page after the last room shown. */
export async function loadRooms({ reset }) {
  if (!reset && (directory.loading || !directory.more)) return;
  const seq = reset ? ++directory.seq : directory.seq;
  // A next page continues the list shown, even when the search box has changed since (its own search follows).
  const query = reset ? $('rooms-search').value.trim() : directory.query;
  const params = new URLSearchParams({ limit: String(ROOM_PAGE_SIZE) });
  if (query !== '') params.set('q', query);
  // The directory is in name order: a page starts after the name of the last room shown.
  const last = reset ? undefined : directory.rooms.at(-1);
  if (last) params.set('after', last.name);
  const shown = reset ? 0 : directory.rooms.length;
  directory.loading = true;
  $('rooms-status').textContent = 'Loading…';
  let page;
  try {
    page = await client.request('GET', `/rooms?${params}`);
  } catch (err) {
    if (seq === directory.seq) $('rooms-status').textContent = err.message;
    return;
  } finally {
    if (seq === directory.seq) directory.loading = false;
  }
  if (seq !== directory.seq) return;
  directory.query = query;
  directory.rooms = reset ? page : [...directory.rooms, ...page];
  directory.more = page.length === ROOM_PAGE_SIZE;
  // Other members' joins and leaves are not sent to a room's members: the directory's counts are newer.
  for (const room of page) {
    const chat = state.chats.get(room.id);
    if (chat) chat.member_count = room.member_count;
  }
  if (state.chats.get(state.activeChatId)?.chat_type === 'room') renderChatHeader();
  renderRooms();
  // "Show more" may be gone now: the keyboard goes on at the first room it brought.
  if (!reset) $('rooms-results').children[shown]?.querySelector('button')?.focus();
}

export const runRoomSearch = debounce(() => loadRooms({ reset: true }), 200);

function renderRooms() {
  $('rooms-results').replaceChildren(
    ...directory.rooms.map((room) => {
      const joined = room.joined || state.chats.has(room.id);
      return h(
        'li',
        { class: 'room' },
        avatar(room.name, { room: true }),
        h('span', { class: 'room-text' }, h('span', { class: 'room-name', text: room.name }), h('span', { class: 'room-count', text: memberCount(room.member_count) })),
        h(
          'button',
          {
            type: 'button',
            class: joined ? 'btn btn-small' : 'btn btn-primary btn-small',
            'aria-label': `${joined ? 'Open' : 'Join'} ${room.name}`,
            onclick: (event) => enterRoom(room, event.currentTarget),
          },
          joined ? 'Open' : 'Join',
        ),
      );
    }),
  );
  const { query } = directory;
  let status = '';
  if (directory.rooms.length === 0) status = query === '' ? 'No rooms yet. Make the first one below.' : `No room name has “${query}” in it. Make one below.`;
  $('rooms-status').textContent = status;
  $('rooms-more').hidden = !directory.more;
}

/** Opens a room, joining it first unless this page has it (joining again changes nothing). */
async function enterRoom(room, button) {
  if (!state.chats.has(room.id)) {
    button.disabled = true;
    try {
      adoptChat(await client.request('POST', `/rooms/${room.id}/join`));
    } catch (err) {
      button.disabled = false;
      $('rooms-status').textContent = err.message;
      return;
    }
  }
  $('rooms-dialog').close();
  renderChatList();
  openChat(room.id);
}

export async function onRoomCreate(event) {
  event.preventDefault();
  const input = $('room-name');
  const name = input.value.trim();
  const error = $('room-create-error');
  error.textContent = '';
  if (name === '') {
    error.textContent = 'Give the room a name.';
    input.focus();
    return;
  }
  const button = $('room-create');
  button.disabled = true;
  try {
    const chat = adoptChat(await client.request('POST', '/rooms', { name }));
    $('rooms-dialog').close();
    renderChatList();
    openChat(chat.id);
  } catch (err) {
    if (err.code === 'ROOM_NAME_TAKEN') {
      // Names are unique without regard to case: show the room that has it, to join instead.
      error.textContent = `A room called “${name}” already exists (names ignore capitals): it is listed above. Pick another name for a new one.`;
      $('rooms-search').value = name;
      loadRooms({ reset: true });
    } else if (err.code === 'VALIDATION_ERROR') {
      error.textContent = 'That name cannot be used: a room name is 1–64 characters, not only spaces.';
    } else {
      error.textContent = err.message;
    }
    input.focus();
  } finally {
    button.disabled = false;
  }
}

/**
 * Leaves the open room. The list drops it at once; this user's other pages learn it from the
 * server's last `chat` frame for it, which no longer lists them.
 */
export async function leaveRoom() {
  const chat = state.chats.get(state.activeChatId);
  if (!chat || chat.chat_type !== 'room') return;
  const button = $('leave-btn');
  button.disabled = true;
  try {
    await client.request('DELETE', `/chats/${chat.id}/members/${me().id}`);
  } catch (err) {
    // Not found: already left, on another device.
    if (err.status !== 404) {
      toast(err.message);
      return;
    }
  } finally {
    button.disabled = false;
  }
  forgetChat(chat.id);
  toast(`You left ${chatTitle(chat)}.`);
  ($('chat-list').querySelector('.chat-item') ?? $('user-search')).focus();
}

/** Joins and leaves are not sent to a room's other members: its count is asked for on opening. */
export async function refreshMemberCount(chat) {
  try {
    const fresh = await client.request('GET', `/chats/${chat.id}`);
    chat.member_count = fresh.member_count;
  } catch {
    return; // The count shown stays.
  }
  if (state.activeChatId === chat.id) renderChatHeader();
}


/** Forgets the directory shown to the last session. */
export function resetRooms() {
  directory.rooms = [];
  directory.more = false;
  $('rooms-results').replaceChildren();
}
