// The web client: plain DOM, no framework, no build step. User content is only ever written with
// textContent (through h() below), never parsed as HTML.

/* global window, document, navigator, location, history, localStorage, fetch, crypto, WebSocket, Node,
   URLSearchParams, setTimeout, clearTimeout, setInterval, clearInterval */

const SESSION_KEY = 'dm.session';
const PAGE_SIZE = 50;
const ROOM_PAGE_SIZE = 50;
const TYPING_SEND_EVERY_MS = 2500;
const TYPING_SHOW_MS = 4000;
const PING_EVERY_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// State

const state = {
  /** @type {{token: string, user: {id: number, username: string}} | null} */
  session: null,
  /** chat id → chat (the server's object, plus the client's own fields below) */
  chats: new Map(),
  activeChatId: null,
  /** The highest message id seen on any chat: what `resume` starts after. */
  maxSeenId: 0,
  /** chat id → Map(user id → {username, until}) of members typing */
  typing: new Map(),
  lastTypingSent: new Map(),
  /** chat id → the highest message id a read marker was sent for */
  readSent: new Map(),
};

/**
 * Client fields on a chat:
 *  messages: message objects by id order (only once `loaded`), pending: unsent/unconfirmed sends,
 *  hasOlder, loadingOlder, readMarkers: Map(user id → message id) of the other members.
 */
function adoptChat(serverChat) {
  const existing = state.chats.get(serverChat.id);
  const chat = existing ?? {
    messages: [],
    pending: [],
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
  // Forward-compatible: a server that reports members' read markers seeds the receipts.
  for (const member of chat.members ?? []) {
    if (Number.isInteger(member.last_read_message_id) && member.id !== me().id) {
      const known = chat.readMarkers.get(member.id) ?? 0;
      chat.readMarkers.set(member.id, Math.max(known, member.last_read_message_id));
    }
  }
  if (chat.last_message) seen(chat.last_message.id);
  state.chats.set(chat.id, chat);
  return chat;
}

const me = () => state.session.user;
const seen = (id) => {
  if (id > state.maxSeenId) state.maxSeenId = id;
};

// ---------------------------------------------------------------------------------------------
// DOM helpers

const $ = (id) => document.getElementById(id);

/** Builds an element. Strings and numbers become text nodes: never HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function icon(name) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

function hue(text) {
  let n = 0;
  for (const ch of text) n = (n * 31 + ch.codePointAt(0)) % 360;
  return n;
}

function initials(name) {
  const parts = name.replace(/[_.-]+/g, ' ').trim().split(/\s+/);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : name.slice(0, 2);
  return letters.toUpperCase();
}

function fillAvatar(el, name, { group = false, room = false, online = null } = {}) {
  el.replaceChildren(room ? icon('hash') : group ? icon('group') : document.createTextNode(initials(name)));
  el.style.setProperty('--hue', String(hue(name)));
  el.classList.toggle('avatar-group', group);
  el.classList.toggle('avatar-room', room);
  el.classList.toggle('is-online', online === true);
  if (online !== null) el.append(h('span', { class: 'presence-dot', 'aria-hidden': 'true' }));
  return el;
}

function avatar(name, options) {
  return fillAvatar(h('span', { class: 'avatar', 'aria-hidden': 'true' }), name, options);
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function listTime(iso) {
  const date = new Date(iso);
  const now = new Date();
  if (sameDay(date, now)) return timeFormat.format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return 'Yesterday';
  return shortDayFormat.format(date);
}

function dayLabel(date) {
  const now = new Date();
  if (sameDay(date, now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(date, yesterday)) return 'Yesterday';
  return dayFormat.format(date);
}

function lastSeen(iso) {
  if (!iso) return 'offline';
  const date = new Date(iso);
  const minutes = Math.round((Date.now() - date.getTime()) / 60_000);
  if (minutes < 1) return 'last seen just now';
  if (minutes < 60) return `last seen ${minutes} min ago`;
  return `last seen ${sameDay(date, new Date()) ? 'today' : shortDayFormat.format(date)} at ${timeFormat.format(date)}`;
}

let toastTimer = null;
function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function randomId() {
  // crypto.randomUUID needs a secure context; a self-hosted server may be reached over plain http.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------------------------------------
// REST

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `Request failed (${status})`);
    this.status = status;
    this.code = body?.code ?? 'HTTP_ERROR';
  }
}

/** The native API, under /v1: `path` is what follows the prefix. */
async function api(method, path, body) {
  const headers = {};
  if (state.session) headers.authorization = `Bearer ${state.session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { error: 'The server cannot be reached', code: 'NETWORK_ERROR' });
  }
  const text = await res.text();
  let data;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!res.ok) {
    const error = new ApiError(res.status, data);
    if (res.status === 401 && state.session && path !== '/login') {
      logout('Your session has ended. Please log in again.');
    }
    throw error;
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Session and log in

function loadSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
    if (saved && typeof saved.token === 'string' && Number.isInteger(saved.user?.id)) return saved;
  } catch {
    // A damaged entry: log in again.
  }
  return null;
}

function outboxKey() {
  return `dm.outbox.${me().id}`;
}

function saveOutbox() {
  if (!state.session) return;
  const pending = [...state.chats.values()].flatMap((c) =>
    c.pending.map(({ chat_id, content, client_id, timestamp }) => ({ chat_id, content, client_id, timestamp })),
  );
  if (pending.length === 0) localStorage.removeItem(outboxKey());
  else localStorage.setItem(outboxKey(), JSON.stringify(pending));
}

function showLogin(message = '') {
  document.title = 'Messages';
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('login-password-field').hidden = true;
  $('login-password').value = '';
  $('login-username').focus();
}

async function onLoginSubmit(event) {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const passwordShown = !$('login-password-field').hidden;
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(username)) {
    error.textContent = 'A username is 1–32 letters, digits, “_”, “.” or “-”.';
    $('login-username').focus();
    return;
  }
  const body = { username };
  if (passwordShown && password !== '') body.password = password;
  const button = $('login-submit');
  button.disabled = true;
  try {
    const session = await api('POST', '/login', body);
    localStorage.setItem(SESSION_KEY, JSON.stringify({ token: session.token, user: session.user }));
    await start(session);
  } catch (err) {
    if (err.code === 'PASSWORD_REQUIRED') {
      $('login-password-field').hidden = false;
      error.textContent = passwordShown ? 'Enter the password.' : '';
      $('login-password').focus();
    } else {
      error.textContent = err.message;
      if (passwordShown) $('login-password').select();
    }
  } finally {
    button.disabled = false;
  }
}

function logout(message) {
  socket.stop();
  state.session = null;
  state.chats.clear();
  state.activeChatId = null;
  state.maxSeenId = 0;
  state.readSent.clear();
  state.typing.clear();
  localStorage.removeItem(SESSION_KEY);
  // A dialog left open would sit over the log-in form.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  directory.rooms = [];
  directory.more = false;
  $('rooms-results').replaceChildren();
  $('chat-list').replaceChildren();
  $('message-list').replaceChildren();
  showChat(null);
  showLogin(message);
}

async function start(session) {
  state.session = { token: session.token, user: session.user };
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('me-name').textContent = me().username;
  fillAvatar($('me-avatar'), me().username);
  $('login-username').value = '';
  try {
    const chats = await api('GET', '/chats');
    for (const chat of chats) adoptChat(chat);
  } catch (err) {
    if (err.status === 401) return;
    toast(err.message);
  }
  restoreOutbox();
  renderChatList();
  const wanted = Number(new URLSearchParams(location.hash.slice(1)).get('chat'));
  if (state.chats.has(wanted)) openChat(wanted);
  socket.start();
}

function restoreOutbox() {
  let saved;
  try {
    saved = JSON.parse(localStorage.getItem(outboxKey()) ?? '[]');
  } catch {
    saved = [];
  }
  for (const item of saved) {
    const chat = state.chats.get(item.chat_id);
    if (chat && !chat.pending.some((p) => p.client_id === item.client_id)) {
      chat.pending.push({ ...item, status: 'pending' });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket: IDENTIFY, resume, reconnect with backoff

const socket = {
  ws: null,
  ready: false,
  stopped: true,
  attempt: 0,
  retryTimer: null,
  pingTimer: null,
  pongTimer: null,

  start() {
    this.stopped = false;
    this.attempt = 0;
    this.connect();
  },

  stop() {
    this.stopped = true;
    this.ready = false;
    clearTimeout(this.retryTimer);
    this.clearHeartbeat();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'Logged out');
    }
  },

  connect() {
    clearTimeout(this.retryTimer);
    if (this.stopped || !state.session) return;
    if (!navigator.onLine) {
      setStatus('offline', 'Offline: waiting for the network');
      return;
    }
    setStatus('connecting', this.attempt === 0 ? 'Connecting…' : 'Reconnecting…');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.ready = false;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      // The token goes in the first frame, never in the URL.
      ws.send(JSON.stringify({ op: 'IDENTIFY', d: { token: state.session.token } }));
    });
    ws.addEventListener('message', (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onFrame(frame);
    });
    ws.addEventListener('close', (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.ready = false;
      this.clearHeartbeat();
      if (event.code === 4401) {
        logout('Your session has ended. Please log in again.');
        return;
      }
      this.scheduleReconnect();
    });
  },

  scheduleReconnect() {
    if (this.stopped) return;
    if (!navigator.onLine) {
      setStatus('offline', 'Offline: waiting for the network');
      return;
    }
    const base = Math.min(15_000, 500 * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    setStatus('offline', `Disconnected: retrying in ${Math.ceil(delay / 1000)} s`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  },

  /** Drops the socket at once (the network went away, or it stopped answering). */
  drop() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    this.ready = false;
    this.clearHeartbeat();
    ws.close(4000, 'Reconnecting');
    this.scheduleReconnect();
  },

  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  },

  heartbeat() {
    this.clearHeartbeat();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => this.drop(), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  },

  clearHeartbeat() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  },

  onFrame(frame) {
    if (frame.op === 'READY') {
      this.ready = true;
      this.attempt = 0;
      setStatus('online', 'Online');
      this.heartbeat();
      // Everything newer than what this page has seen, then the sends still waiting.
      this.send({ type: 'resume', after: state.maxSeenId });
      // Repeating a client_id never stores a message twice: the server answers with the first one.
      for (const chat of state.chats.values()) {
        for (const p of chat.pending) if (p.status === 'pending') this.send(sendFrame(p));
      }
      return;
    }
    switch (frame.type) {
      case 'message':
        onMessage(frame);
        break;
      case 'resumed':
        onResumed(frame);
        break;
      case 'message_updated':
        onMessageUpdated(frame.message);
        break;
      case 'message_deleted':
        onMessageDeleted(frame.chat_id, frame.id);
        break;
      case 'typing':
        onTyping(frame);
        break;
      case 'read':
        onRead(frame);
        break;
      case 'presence':
        onPresence(frame);
        break;
      case 'chat':
        onChatEvent(frame.chat);
        break;
      case 'pong':
        clearTimeout(this.pongTimer);
        break;
      case 'error':
        onErrorFrame(frame);
        break;
      default:
        break;
    }
  },
};

function setStatus(kind, text) {
  const el = $('conn-status');
  el.dataset.state = kind;
  el.textContent = text;
}

const sendFrame = (p) => ({ chat_id: p.chat_id, content: p.content, client_id: p.client_id });

// ---------------------------------------------------------------------------------------------
// Events from the server

/** Adds a message (live, replayed or loaded); false when it was already there. */
function insertMessage(chat, message) {
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

function onMessage(frame) {
  const { type: _type, ...message } = frame;
  seen(message.id);
  const chat = state.chats.get(message.chat_id);
  if (!chat) {
    // A chat this page has not heard of (started while it was away): fetch it.
    fetchChat(message.chat_id);
    return;
  }
  const mine = message.sender_id === me().id;
  if (mine && message.client_id) {
    const before = chat.pending.length;
    chat.pending = chat.pending.filter((p) => p.client_id !== message.client_id);
    if (chat.pending.length !== before) saveOutbox();
  }
  const isNew = !chat.last_message || message.id > chat.last_message.id;
  const added = chat.loaded ? insertMessage(chat, message) : isNew;
  if (isNew) {
    chat.last_message = message;
    if (!mine && added && message.deleted_at === null) chat.unread_count = (chat.unread_count ?? 0) + 1;
  }
  if (!mine) clearTyping(chat.id, message.sender_id);
  if (chat.id === state.activeChatId && !mine && added) {
    // The list is rebuilt on each change, so new messages are announced here rather than by it.
    $('announcer').textContent = `${memberName(chat, message.sender_id, message.sender)}: ${message.content ?? 'Message deleted'}`;
  }
  if (chat.id === state.activeChatId) {
    renderMessages({ stick: mine ? 'bottom' : 'auto' });
    markRead();
  }
  renderChatList();
}

async function onResumed(frame) {
  if (!frame.complete) {
    // The replay stopped at last_id: page the rest of each loaded chat over REST (ids are global).
    for (const chat of state.chats.values()) {
      if (chat.loaded) await pageForward(chat, frame.last_id);
    }
  }
  // The list itself (unread counts, presence, chats started meanwhile) from the server.
  try {
    const chats = await api('GET', '/chats');
    const ids = new Set(chats.map((c) => c.id));
    for (const chat of chats) adoptChat(chat);
    for (const id of [...state.chats.keys()]) if (!ids.has(id)) state.chats.delete(id);
  } catch {
    // Kept as it is; the next reconnect tries again.
  }
  if (state.activeChatId !== null && !state.chats.has(state.activeChatId)) showChat(null);
  renderChatList();
  if (state.activeChatId !== null) {
    renderChatHeader();
    renderMessages();
    markRead();
  }
}

async function pageForward(chat, from) {
  let after = from;
  for (;;) {
    let page;
    try {
      page = await api('GET', `/chats/${chat.id}/messages?after=${after}&limit=200`);
    } catch {
      return;
    }
    for (const message of page) {
      seen(message.id);
      insertMessage(chat, message);
      if (!chat.last_message || message.id > chat.last_message.id) chat.last_message = message;
    }
    if (page.length < 200) return;
    after = page.at(-1).id;
  }
}

function onMessageUpdated(message) {
  const chat = state.chats.get(message.chat_id);
  if (!chat) return;
  const i = chat.messages.findIndex((m) => m.id === message.id);
  if (i >= 0) chat.messages[i] = message;
  if (chat.last_message?.id === message.id) chat.last_message = message;
  if (chat.id === state.activeChatId) renderMessages();
  renderChatList();
}

function onMessageDeleted(chatId, id) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const gone = (m) => ({ ...m, content: null, deleted_at: m.deleted_at ?? new Date().toISOString() });
  const i = chat.messages.findIndex((m) => m.id === id);
  if (i >= 0) chat.messages[i] = gone(chat.messages[i]);
  if (chat.last_message?.id === id) chat.last_message = gone(chat.last_message);
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

function onChatEvent(chat) {
  if (!chat) return;
  // Left or removed (here or on another device): the last frame no longer lists me.
  if (!chat.participants.includes(me().id)) {
    forgetChat(chat.id);
    return;
  }
  adoptChat(chat);
  renderChatList();
  if (state.activeChatId === chat.id) renderChatHeader();
}

/** Drops a chat this user is no longer in, with what the page kept for it. */
function forgetChat(chatId) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  state.chats.delete(chatId);
  for (const entry of state.typing.get(chatId)?.values() ?? []) clearTimeout(entry.timer);
  state.typing.delete(chatId);
  state.lastTypingSent.delete(chatId);
  state.readSent.delete(chatId);
  // Its unsent messages could only fail now.
  if (chat.pending.length > 0) saveOutbox();
  if (state.activeChatId === chatId) showChat(null);
  renderChatList();
}

function onErrorFrame(frame) {
  if (frame.client_id) {
    for (const chat of state.chats.values()) {
      const p = chat.pending.find((x) => x.client_id === frame.client_id);
      if (p) {
        p.status = 'failed';
        p.error = frame.error;
        if (chat.id === state.activeChatId) renderMessages();
      }
    }
  }
  if (frame.code !== 'NOT_IDENTIFIED') toast(frame.error ?? 'Something went wrong');
}

async function fetchChat(id) {
  try {
    const chat = adoptChat(await api('GET', `/chats/${id}`));
    renderChatList();
    return chat;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Chat list

function activityOf(chat) {
  return chat.last_message?.timestamp ?? chat.created_at ?? '';
}

function chatTitle(chat) {
  if (chat.chat_type === 'group') return chat.name ?? 'Group';
  if (chat.chat_type === 'room') return chat.name ?? 'Room';
  const other = otherMember(chat);
  return other ? personName(other) : 'Direct chat';
}

/**
 * A user as shown: a display name always with the @username beside it, since anyone may choose
 * any display name (the server refuses only one that looks like another's username).
 */
function personName(user) {
  return user.display_name ? `${user.display_name} (@${user.username})` : user.username;
}

function otherMember(chat) {
  return (chat.members ?? []).find((m) => m.id !== me().id) ?? null;
}

/**
 * How a member is named in a chat (personName). A room's object lists only me, so
 * there the others are named by the username their messages and typing frames carry.
 */
function memberName(chat, userId, fallback) {
  const member = chat?.members?.find((m) => m.id === userId);
  return member ? personName(member) : fallback;
}

function typingText(chatId) {
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
  const text = m.deleted_at ? 'Message deleted' : (m.content ?? '');
  if (m.sender_id === me().id) return `You: ${text}`;
  return chat.chat_type === 'direct' ? text : `${memberName(chat, m.sender_id, m.sender)}: ${text}`;
}

function renderChatList() {
  if (!state.session) return;
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
    const label = [title, room ? 'room' : null, other?.online ? 'online' : null, unread > 0 ? `${unread} unread` : null]
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
        avatar(title, { group: chat.chat_type === 'group', room, online: other ? other.online : null }),
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
  document.title = totalUnread > 0 ? `(${totalUnread}) Messages` : 'Messages';
}

// ---------------------------------------------------------------------------------------------
// User search and starting chats

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

async function searchUsers(query) {
  const users = await api('GET', `/users?username=${encodeURIComponent(query)}&limit=20`);
  return users.filter((u) => u.id !== me().id);
}

let searchSeq = 0;
const runSearch = debounce(async () => {
  const query = $('user-search').value.trim();
  const section = $('search-section');
  const seq = ++searchSeq;
  if (query === '') {
    section.hidden = true;
    $('search-results').replaceChildren();
    return;
  }
  let users;
  try {
    users = await searchUsers(query);
  } catch (err) {
    if (seq === searchSeq) $('search-results').replaceChildren(h('li', { class: 'empty', text: err.message }));
    return;
  }
  if (seq !== searchSeq) return;
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
              avatar(user.display_name ?? user.username, { online: user.online }),
              h('span', { class: 'person-name', text: personName(user) }),
            ),
          ),
        )),
  );
}, 200);

async function startDirectChat(username) {
  try {
    const { chat_id } = await api('POST', '/chats/initiate', { target_username: username });
    if (!state.chats.has(chat_id)) await fetchChat(chat_id);
    $('user-search').value = '';
    $('search-section').hidden = true;
    $('search-results').replaceChildren();
    openChat(chat_id);
  } catch (err) {
    toast(err.message);
  }
}

const group = { selected: new Map() };

function openGroupDialog() {
  group.selected.clear();
  $('group-name').value = '';
  $('group-search').value = '';
  $('group-results').replaceChildren();
  $('group-error').textContent = '';
  renderGroupSelected();
  $('group-dialog').showModal();
  $('group-name').focus();
}

function renderGroupSelected() {
  $('group-selected').replaceChildren(
    ...[...group.selected.values()].map((user) =>
      h(
        'li',
        { class: 'chip' },
        h('span', { text: user.username }),
        h(
          'button',
          {
            type: 'button',
            class: 'chip-remove',
            'aria-label': `Remove ${user.username}`,
            onclick: () => {
              group.selected.delete(user.id);
              renderGroupSelected();
              $('group-search').focus();
            },
          },
          icon('close'),
        ),
      ),
    ),
  );
}

const runGroupSearch = debounce(async () => {
  const query = $('group-search').value.trim();
  if (query === '') {
    $('group-results').replaceChildren();
    return;
  }
  let users;
  try {
    users = await searchUsers(query);
  } catch (err) {
    $('group-error').textContent = err.message;
    return;
  }
  $('group-results').replaceChildren(
    ...users.map((user) => {
      const chosen = group.selected.has(user.id);
      return h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'person',
            'aria-pressed': chosen ? 'true' : 'false',
            onclick: (event) => {
              if (group.selected.has(user.id)) group.selected.delete(user.id);
              else group.selected.set(user.id, user);
              event.currentTarget.setAttribute('aria-pressed', group.selected.has(user.id) ? 'true' : 'false');
              renderGroupSelected();
            },
          },
          avatar(user.username, { online: user.online }),
          h('span', { class: 'person-name', text: user.username }),
        ),
      );
    }),
  );
}, 200);

async function onGroupSubmit(event) {
  event.preventDefault();
  const name = $('group-name').value.trim();
  const error = $('group-error');
  if (name === '') {
    error.textContent = 'Give the group a name.';
    $('group-name').focus();
    return;
  }
  if (group.selected.size === 0) {
    error.textContent = 'Add at least one person.';
    $('group-search').focus();
    return;
  }
  try {
    const chat = adoptChat(await api('POST', '/chats', { name, members: [...group.selected.values()].map((u) => u.username) }));
    $('group-dialog').close();
    renderChatList();
    openChat(chat.id);
  } catch (err) {
    error.textContent = err.message;
  }
}

// ---------------------------------------------------------------------------------------------
// Rooms: the directory, joining, making and leaving

/** The directory as last shown, for `query`: `seq` drops answers to searches typed over since. */
const directory = { query: '', rooms: [], more: false, loading: false, seq: 0 };

function openRoomsDialog() {
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
async function loadRooms({ reset }) {
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
    page = await api('GET', `/rooms?${params}`);
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

const runRoomSearch = debounce(() => loadRooms({ reset: true }), 200);

const memberCount = (n) => (n === 1 ? '1 member' : `${n} members`);

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
      adoptChat(await api('POST', `/rooms/${room.id}/join`));
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

async function onRoomCreate(event) {
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
    const chat = adoptChat(await api('POST', '/rooms', { name }));
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
async function leaveRoom() {
  const chat = state.chats.get(state.activeChatId);
  if (!chat || chat.chat_type !== 'room') return;
  const button = $('leave-btn');
  button.disabled = true;
  try {
    await api('DELETE', `/chats/${chat.id}/members/${me().id}`);
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
async function refreshMemberCount(chat) {
  try {
    const fresh = await api('GET', `/chats/${chat.id}`);
    chat.member_count = fresh.member_count;
  } catch {
    return; // The count shown stays.
  }
  if (state.activeChatId === chat.id) renderChatHeader();
}

// ---------------------------------------------------------------------------------------------
// The open chat

const narrow = window.matchMedia('(max-width: 760px)');

function chatVisible() {
  return (
    state.activeChatId !== null &&
    document.visibilityState === 'visible' &&
    (!narrow.matches || document.body.dataset.view === 'chat')
  );
}

function showChat(chatId) {
  state.activeChatId = chatId;
  $('chat-empty').hidden = chatId !== null;
  $('chat-view').hidden = chatId === null;
  document.body.dataset.view = chatId === null ? 'list' : 'chat';
  if (chatId === null && location.hash) history.replaceState(null, '', location.pathname);
}

async function openChat(chatId) {
  const chat = state.chats.get(chatId);
  if (!chat) return;
  const switching = state.activeChatId !== chatId;
  showChat(chatId);
  if (switching) {
    history.replaceState(null, '', `#chat=${chatId}`);
    $('composer-input').value = '';
    autosize();
    if (chat.chat_type === 'room') refreshMemberCount(chat);
  }
  renderChatHeader();
  renderTyping();
  renderChatList();
  renderMessages({ stick: 'bottom' });
  if (!narrow.matches || switching) $('composer-input').focus();
  if (!chat.loaded) {
    $('history-status').textContent = 'Loading…';
    try {
      const page = await api('GET', `/chats/${chat.id}/messages?limit=${PAGE_SIZE}`);
      for (const message of page) {
        seen(message.id);
        insertMessage(chat, message);
      }
      chat.loaded = true;
      chat.hasOlder = page.length === PAGE_SIZE;
    } catch (err) {
      $('history-status').textContent = err.message;
      return;
    }
    if (state.activeChatId !== chat.id) return;
    renderMessages({ stick: 'bottom' });
    fillViewport(chat);
  }
  markRead();
}

/** Loads older pages until the list can scroll (scrolling up then asks for more). */
async function fillViewport(chat) {
  const box = $('messages');
  while (chat.hasOlder && state.activeChatId === chat.id && box.scrollHeight <= box.clientHeight) {
    if (!(await loadOlder(chat))) return;
  }
}

async function loadOlder(chat) {
  if (chat.loadingOlder || !chat.hasOlder || !chat.loaded) return false;
  chat.loadingOlder = true;
  const status = $('history-status');
  status.textContent = 'Loading earlier messages…';
  const oldest = chat.messages[0]?.id;
  try {
    const query = oldest ? `?limit=${PAGE_SIZE}&before=${oldest}` : `?limit=${PAGE_SIZE}`;
    const page = await api('GET', `/chats/${chat.id}/messages${query}`);
    for (const message of page) insertMessage(chat, message);
    chat.hasOlder = page.length === PAGE_SIZE;
    if (state.activeChatId === chat.id) renderMessages({ stick: 'keep' });
    return page.length > 0;
  } catch (err) {
    status.textContent = err.message;
    return false;
  } finally {
    chat.loadingOlder = false;
  }
}

function renderChatHeader() {
  const chat = state.chats.get(state.activeChatId);
  if (!chat) return;
  const title = chatTitle(chat);
  $('chat-title').textContent = title;
  const subtitle = $('chat-subtitle');
  $('leave-btn').hidden = chat.chat_type !== 'room';
  if (chat.chat_type === 'room') {
    // Counted by the server: a room's object lists only me, and no presence comes for the others.
    subtitle.textContent = memberCount(chat.member_count ?? 1);
    subtitle.dataset.online = 'false';
    fillAvatar($('chat-avatar'), title, { room: true });
  } else if (chat.chat_type === 'group') {
    const members = chat.members ?? [];
    const online = members.filter((m) => m.online && m.id !== me().id).length;
    subtitle.textContent = `${members.length} members${online > 0 ? ` · ${online} online` : ''}`;
    subtitle.dataset.online = 'false';
    fillAvatar($('chat-avatar'), title, { group: true });
  } else {
    const other = otherMember(chat);
    subtitle.textContent = other?.online ? 'online' : lastSeen(other?.last_seen_at);
    subtitle.dataset.online = other?.online ? 'true' : 'false';
    fillAvatar($('chat-avatar'), title, { online: other ? other.online : null });
  }
}

function renderTyping() {
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

function renderMessages({ stick = 'auto' } = {}) {
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
  const all = [...chat.messages, ...chat.pending.map((p) => ({ ...p, id: null, sender_id: me().id, sender: me().username }))];
  for (const m of all) {
    const date = new Date(m.timestamp);
    if (!previous || !sameDay(new Date(previous.timestamp), date)) {
      rows.push(h('li', { class: 'day' }, h('span', { text: dayLabel(date) })));
      previous = null;
    }
    const mine = m.sender_id === me().id;
    const grouped =
      previous && previous.sender_id === m.sender_id && date.getTime() - new Date(previous.timestamp).getTime() < 5 * 60_000;
    const pending = m.id === null;
    const classes = ['msg', mine ? 'mine' : 'theirs'];
    if (grouped) classes.push('grouped');
    if (pending) classes.push(m.status === 'failed' ? 'failed' : 'pending');
    if (m.deleted_at) classes.push('deleted');

    const meta = [];
    if (m.edited_at && !m.deleted_at) meta.push(h('span', { text: 'edited' }));
    meta.push(h('time', { datetime: m.timestamp, text: timeFormat.format(date) }));
    if (pending && m.status !== 'failed') meta.push(h('span', { class: 'state', text: 'Sending…' }));

    const bubble = h(
      'div',
      { class: 'bubble' },
      chat.chat_type !== 'direct' && !mine && !grouped ? h('span', { class: 'sender', text: memberName(chat, m.sender_id, m.sender) }) : null,
      h('p', { class: 'text', text: m.deleted_at ? 'Message deleted' : m.content }),
      h('span', { class: 'meta' }, meta),
    );
    const extra = [];
    if (pending && m.status === 'failed') {
      extra.push(
        h(
          'p',
          { class: 'receipt failed-note' },
          `Not sent${m.error ? `: ${m.error}` : ''} · `,
          h('button', { type: 'button', class: 'link-btn', onclick: () => retry(chat, m.client_id), text: 'Retry' }),
        ),
      );
    }
    if (!pending && mine && m.id === lastOwnRead) {
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
        extra,
      ),
    );
    previous = m;
  }
  $('message-list').replaceChildren(...rows);
  const status = $('history-status');
  if (!chat.loaded) status.textContent = 'Loading…';
  else if (chat.hasOlder) status.textContent = chat.loadingOlder ? 'Loading earlier messages…' : '';
  else status.textContent = chat.messages.length === 0 && chat.pending.length === 0 ? 'No messages yet. Say hello!' : 'This is the start of the conversation.';

  if (stick === 'bottom' || (stick === 'auto' && atBottom)) box.scrollTop = box.scrollHeight;
  else if (stick === 'keep') box.scrollTop = box.scrollHeight - fromBottom;
}

/** Sends a read marker for the newest message of the open chat, when the person can see it. */
function markRead() {
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
  if (!socket.send({ type: 'read', chat_id: chat.id, message_id: newest })) {
    api('POST', `/chats/${chat.id}/read`, { message_id: newest }).catch(() => state.readSent.delete(chat.id));
  }
}

// ---------------------------------------------------------------------------------------------
// Composing

function autosize() {
  const input = $('composer-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

function onComposerInput() {
  autosize();
  const chatId = state.activeChatId;
  if (chatId === null || $('composer-input').value.trim() === '') return;
  const last = state.lastTypingSent.get(chatId) ?? 0;
  if (Date.now() - last < TYPING_SEND_EVERY_MS) return;
  if (socket.send({ type: 'typing', chat_id: chatId })) state.lastTypingSent.set(chatId, Date.now());
}

function onComposerKey(event) {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
}

function onSend(event) {
  event.preventDefault();
  const chat = state.chats.get(state.activeChatId);
  const input = $('composer-input');
  const content = input.value.trim();
  if (!chat || content === '') return;
  if (content.length > 4000) {
    toast('A message is at most 4000 characters.');
    return;
  }
  const pending = {
    chat_id: chat.id,
    content,
    client_id: randomId(),
    timestamp: new Date().toISOString(),
    status: 'pending',
  };
  chat.pending.push(pending);
  saveOutbox();
  input.value = '';
  autosize();
  state.lastTypingSent.delete(chat.id);
  socket.send(sendFrame(pending)); // when the socket is down, READY sends it
  renderMessages({ stick: 'bottom' });
  input.focus();
}

function retry(chat, clientId) {
  const p = chat.pending.find((x) => x.client_id === clientId);
  if (!p) return;
  p.status = 'pending';
  p.error = undefined;
  socket.send(sendFrame(p));
  renderMessages();
}

// ---------------------------------------------------------------------------------------------
// Wiring

function init() {
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('login-username').addEventListener('input', () => {
    // Another name: it may not need a password.
    $('login-password-field').hidden = true;
    $('login-password').value = '';
  });
  $('logout-btn').addEventListener('click', () => logout(''));
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
  $('back-btn').addEventListener('click', () => {
    showChat(null);
    renderChatList();
    const item = document.querySelector('.chat-item[aria-current="true"]') ?? $('user-search');
    item.focus();
  });
  $('composer').addEventListener('submit', onSend);
  $('composer-input').addEventListener('input', onComposerInput);
  $('composer-input').addEventListener('keydown', onComposerKey);
  $('messages').addEventListener('scroll', () => {
    const chat = state.chats.get(state.activeChatId);
    if (chat && $('messages').scrollTop < 80) loadOlder(chat);
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') markRead();
  });
  narrow.addEventListener('change', () => markRead());
  window.addEventListener('online', () => {
    if (state.session && !socket.ws) {
      socket.attempt = 0;
      socket.connect();
    }
  });
  // Browsers keep a socket open across a network loss: drop it and resume once back.
  window.addEventListener('offline', () => {
    if (socket.ws) socket.drop();
  });
  setInterval(() => {
    if (state.activeChatId !== null) renderChatHeader();
  }, 60_000);

  const saved = loadSession();
  if (saved) start(saved);
  else showLogin();
}

init();
