// The web client: plain DOM, no framework, no build step; the browser loads these modules as they
// are. The protocol (log-in, socket, resume, retries) is web/client.js; the page is web/ui/.

import { backoffDelay } from './client.js';
import { $, toast } from './ui/dom.js';
import { client, state } from './ui/state.js';
import {
  endSession,
  fetchChats,
  loadServerInfo,
  logout,
  renderMe,
  saveSession,
  savedSession,
  sessionHooks,
  showApp,
  showLogin,
  wireLogin,
} from './ui/session.js';
import { listen } from './ui/events.js';
import { renderChatList, runSearch } from './ui/chat-list.js';
import { chatVisible, loadOlder, markRead, narrow, renderChatHeader, showChat } from './ui/conversation.js';
import { wireComposer } from './ui/composer.js';
import { openGroupDialog, onGroupSubmit, runGroupSearch } from './ui/groups.js';
import { leaveRoom, loadRooms, onRoomCreate, openRoomsDialog, resetRooms, runRoomSearch } from './ui/rooms.js';
import { wireAttachments } from './ui/attachments.js';
import { wireMessageActions } from './ui/message-actions.js';
import { wireNotifications } from './ui/notifications.js';
import { restoreFromUrl, wireNavigation } from './ui/navigation.js';
import { openChatInfo, wireChatInfo } from './ui/chat-info.js';
import { openSettings, wireSettings } from './ui/settings.js';

const STATUS_TEXT = { online: 'Online', connecting: 'Connecting…', offline: 'Offline' };

async function start() {
  showApp();
  // The user as the server has it now (a display name changed on another device).
  client
    .request('GET', '/me')
    .then((user) => {
      client.session.user = user;
      saveSession();
      renderMe();
    })
    .catch(() => {});
  const session = client.session;
  let chats;
  // The socket resumes after the newest message of this list: without the list it would replay
  // everything ever written, so the list comes first, however long that takes.
  for (let attempt = 0; !chats; attempt++) {
    try {
      chats = await fetchChats();
    } catch (err) {
      if (err.status === 401 || client.session !== session) return;
      if (attempt === 0) toast(`${err.message}: trying again…`);
      const wait = backoffDelay(attempt);
      onStatus({ status: 'offline', retryInMs: wait });
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (client.session !== session) return;
    }
  }
  renderChatList();
  restoreFromUrl();
  client.connect({ after: Math.max(0, ...chats.map((c) => c.last_message?.id ?? 0)) });
}

function onStatus({ status, retryInMs }) {
  // Presence held from before a disconnection is not shown again until the list is fetched anew.
  if (status !== 'online') state.presenceStale = true;
  const el = $('conn-status');
  // A status line is announced when the connection's state changes, not at each retry's countdown.
  el.setAttribute('aria-live', el.dataset.state === status ? 'off' : 'polite');
  el.dataset.state = status;
  if (status === 'offline' && !navigator.onLine) el.textContent = 'Offline: waiting for the network';
  else if (status === 'offline' && retryInMs !== undefined) el.textContent = `Disconnected: retrying in ${Math.ceil(retryInMs / 1000)} s`;
  else el.textContent = STATUS_TEXT[status];
  // Presence shown while disconnected would be stale: the list and header show it as unknown.
  renderChatList();
  if (state.activeChatId !== null) renderChatHeader();
}

function wire() {
  wireLogin();
  listen();
  client.on('status', onStatus);
  client.on('session_ended', ({ reason }) => {
    resetRooms();
    endSession(reason === 'logout' ? '' : 'Your session has ended. Please log in again.');
  });
  sessionHooks({ start, end: () => showChat(null) });

  $('logout-btn').addEventListener('click', () => logout());
  $('settings-btn').addEventListener('click', openSettings);
  $('user-search').addEventListener('input', runSearch);
  $('user-search').addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      $('user-search').value = '';
      runSearch();
    }
  });
  $('new-group-btn').addEventListener('click', openGroupDialog);
  $('group-form').addEventListener('submit', onGroupSubmit);
  $('group-search').addEventListener('input', runGroupSearch);
  $('group-search').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') event.preventDefault();
  });
  for (const id of ['group-cancel', 'group-cancel-x']) $(id).addEventListener('click', () => $('group-dialog').close());
  $('rooms-btn').addEventListener('click', openRoomsDialog);
  $('rooms-close').addEventListener('click', () => $('rooms-dialog').close());
  $('rooms-search').addEventListener('input', runRoomSearch);
  $('rooms-more').addEventListener('click', () => loadRooms({ reset: false }));
  $('room-create-form').addEventListener('submit', onRoomCreate);
  $('room-name').addEventListener('input', () => ($('room-create-error').textContent = ''));
  $('leave-btn').addEventListener('click', leaveRoom);
  $('info-btn').addEventListener('click', openChatInfo);
  $('back-btn').addEventListener('click', () => {
    const left = state.activeChatId;
    showChat(null);
    renderChatList();
    // The keyboard's place: the chat just left (not the search field, which on a phone opens the keyboard).
    document.querySelector(`.chat-item[data-chat-id="${left}"]`)?.focus();
  });
  wireComposer();
  wireAttachments();
  wireMessageActions();
  wireNotifications();
  wireNavigation();
  wireChatInfo();
  wireSettings();
  $('messages').addEventListener('scroll', () => {
    const chat = state.chats.get(state.activeChatId);
    if (chat && $('messages').scrollTop < 80) loadOlder(chat);
  });

  // Back online, or back to the page: reconnect now rather than at the end of the backoff.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    client.reconnectNow();
    markRead();
  });
  window.addEventListener('online', () => client.reconnectNow());
  // Back to a page kept in the back/forward cache, whose socket was closed meanwhile.
  window.addEventListener('pageshow', (event) => event.persisted && client.reconnectNow());
  // Browsers keep a dead socket open across a network loss for a long while: drop it now.
  window.addEventListener('offline', () => client.reconnect());
  narrow.addEventListener('change', () => markRead());
  setInterval(() => {
    if (state.activeChatId !== null && chatVisible()) renderChatHeader();
  }, 60_000);
}

async function init() {
  wire();
  const info = loadServerInfo();
  const saved = savedSession();
  if (saved) {
    // The server's policy matters only to the log-in form: the chats need not wait for it.
    client.startSession(saved);
    start();
  } else {
    // Not forever: a server that does not answer gets the open-mode form, which asks for more when told.
    await Promise.race([info, new Promise((resolve) => setTimeout(resolve, 5000))]);
    showLogin();
  }
}

init();
