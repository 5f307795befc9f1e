// A client for this server's native API (/v1): REST, and the WebSocket with the delivery rules of
// docs/delivery.md ("What a client should do"). It runs in browsers and in Node 20 (give it `ws`'s
// WebSocket there), has no dependencies, and is what the web client itself is built on.
// Guide and reference: docs/client.md.

/** An answer that was not 2xx, or a network failure (`status` 0, `code` NETWORK_ERROR). */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error ?? `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code ?? 'HTTP_ERROR';
    /** The whole error body: some carry more (`field`, `retry_after_ms`). */
    this.body = body ?? null;
  }
}

/** The server's username rule (letters and digits of any script, `_`, `.`, `-`; 1–32 characters). */
export const USERNAME_PATTERN = /^[\p{L}\p{M}\p{N}_.-]{1,32}$/u;

/** Send refusals that a later try may pass: the send stays in the outbox. */
const TRANSIENT = new Set(['SHUTTING_DOWN', 'STORE_UNAVAILABLE', 'RATE_LIMITED', 'NOT_IDENTIFIED']);

const PING_EVERY_MS = 25_000;
/** How long reconnectNow() lets a handshake run before it replaces the socket. */
const CONNECTING_PATIENCE_MS = 3_000;
const PONG_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;

/** A fresh client_id: random, and made without crypto.randomUUID (which needs a secure context). */
export function newClientId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * How long to wait before reconnect attempt `attempt` (0 first): full backoff doubling from 500 ms to
 * 15 s, jittered over its upper half so that many clients dropped together do not return together.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt);
  return Math.round(base / 2 + random() * (base / 2));
}

export class ChatClient {
  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] the server, e.g. `https://chat.example.org` (default: the page's origin)
   * @param {typeof WebSocket} [options.WebSocket] the WebSocket class (default: the global one; in Node 20 pass `ws`'s)
   * @param {{getItem(k: string): string | null, setItem(k: string, v: string): void, removeItem(k: string): void}} [options.storage]
   *   where unsent messages survive a reload (default: kept in memory only)
   * @param {{token: string, user: {id: number, username: string}}} [options.session] a session kept from before
   */
  constructor({ baseUrl, WebSocket: WebSocketClass, storage, session } = {}) {
    this.baseUrl = (baseUrl ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
    if (this.baseUrl === '') throw new TypeError('ChatClient: baseUrl is required outside a browser');
    this.WebSocket = WebSocketClass ?? globalThis.WebSocket;
    this.storage = storage ?? memoryStorage();
    /** @type {{token: string, user: {id: number, username: string}} | null} */
    this.session = session ?? null;
    /** Where the next connect resumes: the highest id delivered, or the `after` given to connect(). */
    this.lastId = 0;
    /** The highest message id the socket delivered: a message at or below it was delivered already. */
    this.deliveredId = 0;
    /** `offline`, `connecting` or `online` (READY received). */
    this.status = 'offline';
    /**
     * True from the moment a socket opens until its `resumed` frame: the messages emitted meanwhile
     * may be replayed ones (missed while away), which an app does not ring or notify for.
     */
    this.replaying = false;
    /** During a replay: `deliveredId` when the socket opened, and the ids this socket delivered. */
    this.replayFloor = 0;
    this.replaySeen = new Set();
    /** When the current socket started connecting (Date.now()). */
    this.connectingSince = 0;
    /** Whether the current socket's IDENTIFY has gone (sends may follow it, READY or not). */
    this.identified = false;
    this.listeners = new Map();
    this.outbox = [];
    this.ws = null;
    this.running = false;
    this.attempt = 0;
    this.timers = { retry: null, ping: null, pong: null };
    if (this.session) this.loadOutbox();
  }

  // -------------------------------------------------------------------------------------------
  // Events

  /** Calls `listener(detail)` on each `type` event; returns a function that stops it. */
  on(type, listener) {
    const set = this.listeners.get(type) ?? new Set();
    set.add(listener);
    this.listeners.set(type, set);
    return () => set.delete(listener);
  }

  emit(type, detail) {
    for (const listener of [...(this.listeners.get(type) ?? [])]) {
      try {
        listener(detail);
      } catch (err) {
        // One listener's bug must not stop delivery to the others, nor the socket's frame loop.
        globalThis.queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // REST

  /** Calls the native API: `path` is what follows /v1. Resolves to the parsed answer (null for 204). */
  async request(method, path, body) {
    // The answer belongs to this session: if another has begun meanwhile, it must not touch it.
    const session = this.session;
    const headers = {};
    if (session) headers.authorization = `Bearer ${session.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    let text;
    try {
      res = await fetch(`${this.baseUrl}/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      text = await res.text();
    } catch {
      if (this.session !== session) throw sessionChanged();
      throw new ApiError(0, { error: 'The server cannot be reached', code: 'NETWORK_ERROR' });
    }
    return this.answer(res.status, text, path, session);
  }

  /** An answer to a call made under `session`: refused if the session changed since (SESSION_CHANGED). */
  answer(status, text, path, session) {
    // A late answer of a session that is over (logged out, another login) is not this session's:
    // above all, a 401 of the old token must not end the new session.
    if (this.session !== session) throw sessionChanged();
    let data = null;
    try {
      data = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
    }
    if (status >= 200 && status < 300) return data;
    const error = new ApiError(status, data);
    // Not from a login (a wrong password) nor a logout (which ends the session itself, as a logout).
    if (status === 401 && this.session && !path.startsWith('/login') && !path.startsWith('/register') && !path.startsWith('/logout')) this.endSession('expired');
    throw error;
  }

  /** What the server asks of new accounts and takes in files: `{auth_mode, registration, password_min_length, max_upload_bytes, max_files_per_message}`. */
  serverInfo() {
    return this.request('GET', '/server');
  }

  /**
   * Logs in (in open mode a new name makes the account). `invite`: a code, where the server asks for one.
   * @param {{username: string, password?: string, invite?: string}} credentials
   */
  async login({ username, password, invite }) {
    return this.startSession(await this.request('POST', '/login', { username, password, invite }));
  }

  /**
   * Makes an account with a password.
   * @param {{username: string, password: string, invite?: string}} credentials
   */
  async register({ username, password, invite }) {
    return this.startSession(await this.request('POST', '/register', { username, password, invite }));
  }

  startSession({ token, user }) {
    this.session = { token, user };
    this.loadOutbox();
    this.emit('session', this.session);
    return this.session;
  }

  /** Ends this session on the server (`everywhere`: every session of the account), then here. */
  async logout({ everywhere = false } = {}) {
    // The socket first: the server closes it with 4401, which would read as an expired session.
    this.disconnect();
    const session = this.session;
    try {
      await this.request('POST', everywhere ? '/logout/all' : '/logout');
    } finally {
      if (this.session === session) this.endSession('logout');
      // Another session began meanwhile (a login while the logout was on its way): it stays; only
      // the unsent messages of the one logged out are forgotten, as a logout does.
      else if (session && this.session?.user.id !== session.user.id) this.storage.removeItem(`dm.outbox.${session.user.id}`);
    }
  }

  /**
   * Uploads a file (a Blob or File; in Node, `new Blob([bytes])` with `filename`). Resolves to the
   * file object, whose `id` goes in a send's `files`. `onProgress(sent, total)` is called as it goes
   * (in browsers, which report upload progress; in Node once, at the end). `signal`: an AbortSignal
   * that cancels it (rejects with an ApiError of code ABORTED).
   * @param {Blob} file
   * @param {{filename?: string, onProgress?: (sent: number, total: number) => void, signal?: AbortSignal}} [options]
   */
  async upload(file, { filename = file.name ?? 'file', onProgress, signal } = {}) {
    const form = new FormData();
    form.append('file', file, filename);
    const url = `${this.baseUrl}/v1/upload`;
    const session = this.session;
    const token = session?.token;
    if (globalThis.XMLHttpRequest) {
      const { status, text } = await new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open('POST', url);
        if (token) xhr.setRequestHeader('authorization', `Bearer ${token}`);
        xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, e.total));
        xhr.addEventListener('load', () => resolve({ status: xhr.status, text: xhr.responseText }));
        // The server closes the connection on an upload it refuses unread (too large, over quota):
        // a browser then reports an error with no answer.
        xhr.addEventListener('error', () =>
          reject(this.session !== session ? sessionChanged() : new ApiError(0, { error: 'The upload was refused or the server cannot be reached', code: 'NETWORK_ERROR' })),
        );
        xhr.addEventListener('abort', () => reject(aborted()));
        if (signal?.aborted) return reject(aborted());
        signal?.addEventListener('abort', () => xhr.abort(), { once: true });
        xhr.send(form);
      });
      return this.answer(status, text, '/upload', session);
    }
    let res;
    let text;
    try {
      res = await fetch(url, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body: form, signal });
      text = await res.text();
    } catch {
      if (signal?.aborted) throw aborted();
      if (this.session !== session) throw sessionChanged();
      throw new ApiError(0, { error: 'The upload was refused or the server cannot be reached', code: 'NETWORK_ERROR' });
    }
    onProgress?.(file.size, file.size);
    return this.answer(res.status, text, '/upload', session);
  }

  // -------------------------------------------------------------------------------------------
  // Sending: the outbox

  /**
   * Sends a message. It goes into the outbox at once, under a fresh client_id, and is sent now if
   * the socket is up, else on the next connect, again and again with the same client_id until its
   * echo comes back: it is stored once whatever happens to the socket or the server meanwhile.
   * Returns the outbox entry: `{client_id, chat_id, content, files, timestamp, status}` with status
   * `pending` or, once the server refused it for good, `failed` (with `error`, `code`).
   * @param {number} chatId
   * @param {string} content
   * @param {{files?: Array<number | {id: number}>}} [options] uploads (their ids, or the objects upload() gave)
   */
  send(chatId, content, { files = [] } = {}) {
    const entry = {
      client_id: newClientId(),
      chat_id: chatId,
      content,
      files: files.map((f) => (typeof f === 'number' ? f : f.id)),
      timestamp: new Date().toISOString(),
      status: 'pending',
    };
    this.outbox.push(entry);
    this.saveOutbox();
    this.transmit(entry);
    return entry;
  }

  /** The unsent messages, oldest first (of one chat, or of all). */
  pending(chatId) {
    return chatId === undefined ? [...this.outbox] : this.outbox.filter((e) => e.chat_id === chatId);
  }

  /** Tries a failed send again, with its client_id. */
  retry(clientId) {
    const entry = this.outbox.find((e) => e.client_id === clientId);
    if (!entry) return;
    entry.status = 'pending';
    delete entry.error;
    delete entry.code;
    this.saveOutbox();
    this.transmit(entry);
  }

  /** Gives up on an unsent message (emits `outbox`). */
  discard(clientId) {
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((e) => e.client_id !== clientId);
    if (this.outbox.length === before) return;
    this.saveOutbox();
    this.emit('outbox', this.pending());
  }

  transmit(entry) {
    const frame = { chat_id: entry.chat_id, content: entry.content, client_id: entry.client_id };
    if (entry.files.length > 0) frame.files = entry.files;
    // Sends go out as soon as IDENTIFY has (the server handles frames in order, behind it), not
    // only once READY is in: the outbox sends them again on the next connect anyway.
    this.sendFrame(frame, { beforeReady: true });
    this.emit('outbox', this.pending());
  }

  outboxKey() {
    return `dm.outbox.${this.session.user.id}`;
  }

  loadOutbox() {
    let saved = [];
    try {
      saved = JSON.parse(this.storage.getItem(this.outboxKey()) ?? '[]');
    } catch {
      // A damaged entry: nothing to restore.
    }
    this.outbox = Array.isArray(saved) ? saved.filter((e) => typeof e?.client_id === 'string').map((e) => ({ files: [], ...e })) : [];
  }

  saveOutbox() {
    if (!this.session) return;
    if (this.outbox.length === 0) this.storage.removeItem(this.outboxKey());
    else this.storage.setItem(this.outboxKey(), JSON.stringify(this.outbox));
  }

  /**
   * Takes the message's entry out of the outbox, if it is this user's and carries the `client_id`
   * of one (emits `outbox` then). Echoes (live or replayed) are settled by the client itself; an app
   * calls it for the user's messages it finds in a history page (after a reload, the outbox may hold
   * a message the server stored before its echo could arrive).
   */
  settle(message) {
    if (message.sender_id !== this.session?.user.id || !message.client_id) return;
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((e) => e.client_id !== message.client_id);
    if (this.outbox.length !== before) {
      this.saveOutbox();
      this.emit('outbox', this.pending());
    }
  }

  // -------------------------------------------------------------------------------------------
  // Other frames

  /** Tells the chat's other members that this user is typing (send it every few seconds while they do). */
  typing(chatId) {
    return this.sendFrame({ type: 'typing', chat_id: chatId });
  }

  /** Moves this user's read marker in the chat to `messageId` (over REST while the socket is down). */
  async read(chatId, messageId) {
    if (this.sendFrame({ type: 'read', chat_id: chatId, message_id: messageId })) return;
    await this.request('POST', `/chats/${chatId}/read`, { message_id: messageId });
  }

  /**
   * Sends a frame if the socket is online (READY received), or, with `beforeReady`, once its
   * IDENTIFY has gone; false otherwise.
   */
  sendFrame(frame, { beforeReady = false } = {}) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    if (this.status !== 'online' && !(beforeReady && this.identified)) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // The socket: connect, IDENTIFY, resume, heartbeat, reconnect

  /**
   * Keeps a socket open until `disconnect()` or the session ends: on every (re)connect it resumes
   * after `lastId` and sends the outbox again. `after`: where to start the first time (say, the
   * highest message id of a `GET /chats` made just before), when `lastId` is still 0.
   */
  connect({ after } = {}) {
    if (!this.session) throw new Error('ChatClient: log in first');
    if (after !== undefined && after > this.lastId) this.lastId = after;
    this.running = true;
    this.attempt = 0;
    // Connecting again replaces the socket rather than leaving a second one open.
    this.drop(1000, 'Reconnecting');
    this.open();
  }

  /** Closes the socket and stops reconnecting. */
  disconnect() {
    this.running = false;
    clearTimeout(this.timers.retry);
    this.drop(1000, 'Closed by the client');
    this.setStatus('offline');
  }

  /**
   * Reconnects at once rather than at the end of the backoff: for when the network or the page
   * comes back (browsers: `online`, `visibilitychange`). A socket that is up is left alone.
   */
  reconnectNow() {
    if (!this.running) return;
    // An open socket is left alone; one still connecting may have started on the network that
    // just went away and hang there: it is replaced, but only after 3 s (on a slow link, an app
    // brought back every couple of seconds would otherwise start its handshake over forever).
    if (this.ws && this.ws.readyState !== 0) return;
    if (this.ws && Date.now() - this.connectingSince <= CONNECTING_PATIENCE_MS) return;
    this.drop(1000, 'Reconnecting');
    this.attempt = 0;
    this.open();
  }

  /**
   * Drops the socket now and connects again after the backoff (or at `reconnectNow()`): for when
   * the network is known to be gone, which browsers may take minutes to notice on an open socket.
   */
  reconnect() {
    if (!this.running) return;
    clearTimeout(this.timers.retry);
    this.drop(4000, 'Reconnecting');
    this.scheduleReconnect();
  }

  open() {
    clearTimeout(this.timers.retry);
    if (!this.running || !this.session) return;
    // A browser that knows it is offline: wait for reconnectNow() (its `online` event) rather than fail.
    if (globalThis.navigator?.onLine === false) {
      this.setStatus('offline');
      return;
    }
    this.setStatus('connecting');
    this.connectingSince = Date.now();
    let ws;
    try {
      ws = new this.WebSocket(`${this.baseUrl.replace(/^http/, 'ws')}/v1/ws`);
    } catch {
      // Refused before any network (a page's Content-Security-Policy, say): try again later.
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      // Until this socket's `resumed`, messages may come replayed, and live ones may come before
      // them (if the server stopped holding live frames before the resume reached it).
      this.replaying = true;
      this.replayFloor = this.deliveredId;
      this.replaySeen = new Set();
      // The token goes in the first frame, never in the URL (which proxies log). Right behind it,
      // without waiting for READY, the resume: the server holds live frames for a moment after
      // IDENTIFY, until the resume comes, so that the replay arrives before anything newer. Then
      // every unconfirmed send again (same client_id).
      ws.send(JSON.stringify({ op: 'IDENTIFY', d: { token: this.session.token } }));
      this.identified = true;
      ws.send(JSON.stringify({ type: 'resume', after: this.lastId }));
      for (const entry of this.outbox) if (entry.status === 'pending') this.transmit(entry);
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(typeof event.data === 'string' ? event.data : String(event.data));
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.socketGone();
      if (event.code === 4401) {
        this.endSession('expired');
        return;
      }
      // The server going away (1001: a restart) is worth trying again soon.
      if (event.code === 1001) this.attempt = 0;
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      // A close follows.
    };
  }

  drop(code, reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.socketGone();
    try {
      ws.close(code, reason);
    } catch {
      // Closing a socket that never opened throws in some implementations.
    }
  }

  /** What belonged to the socket that is gone. */
  socketGone() {
    this.identified = false;
    this.endReplay();
    this.stopHeartbeat();
  }

  endReplay() {
    this.replaying = false;
    this.replaySeen = new Set();
  }

  scheduleReconnect() {
    if (!this.running) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.setStatus('offline', { retryInMs: delay });
    this.timers.retry = setTimeout(() => this.open(), delay);
  }

  setStatus(status, detail = {}) {
    const changed = this.status !== status;
    this.status = status;
    if (changed || detail.retryInMs !== undefined) this.emit('status', { status, ...detail });
  }

  startHeartbeat() {
    this.stopHeartbeat();
    // Browsers cannot see the server's pings: a ping frame of our own finds a dead socket.
    this.timers.ping = setInterval(() => {
      if (!this.sendFrame({ type: 'ping' })) return;
      clearTimeout(this.timers.pong);
      this.timers.pong = setTimeout(() => {
        this.drop(4000, 'No answer');
        this.scheduleReconnect();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopHeartbeat() {
    clearInterval(this.timers.ping);
    clearTimeout(this.timers.pong);
  }

  onFrame(frame) {
    if (frame.op === 'READY') {
      // The resume and the outbox went right after IDENTIFY.
      this.attempt = 0;
      this.setStatus('online');
      this.startHeartbeat();
      return;
    }
    switch (frame.type) {
      case 'message': {
        const { type: _type, ...message } = frame;
        this.settle(message);
        if (this.replaying) {
          // Live frames may have come before the replay, which is then below them: a repeat is
          // what was delivered before this socket opened, or by this socket already.
          if (message.id <= this.replayFloor || this.replaySeen.has(message.id)) return;
          this.replaySeen.add(message.id);
        } else if (message.id <= this.deliveredId) {
          // Ids only grow on a socket after the replay, which starts after the highest: a lower
          // one is a repeat (the echo of a send made again).
          return;
        }
        if (message.id > this.deliveredId) this.deliveredId = message.id;
        if (message.id > this.lastId) this.lastId = message.id;
        this.emit('message', message);
        return;
      }
      case 'resumed':
        if (frame.last_id > this.lastId) this.lastId = frame.last_id;
        if (frame.last_id > this.deliveredId) this.deliveredId = frame.last_id;
        this.endReplay();
        this.emit('resumed', { last_id: frame.last_id, complete: frame.complete });
        return;
      case 'pong':
        clearTimeout(this.timers.pong);
        return;
      case 'error':
        this.onError(frame);
        return;
      case 'message_updated':
      case 'message_deleted':
      case 'typing':
      case 'read':
      case 'presence':
      case 'chat': {
        const { type, ...detail } = frame;
        this.emit(type, type === 'message_updated' ? frame.message : detail);
        return;
      }
      default:
        // A frame type from a newer server: ignored.
    }
  }

  onError(frame) {
    const entry = frame.client_id ? this.outbox.find((e) => e.client_id === frame.client_id) : undefined;
    if (entry && !TRANSIENT.has(frame.code)) {
      entry.status = 'failed';
      entry.error = frame.error;
      entry.code = frame.code;
      this.saveOutbox();
      this.emit('outbox', this.pending());
    } else if (entry && frame.code === 'RATE_LIMITED') {
      setTimeout(() => entry.status === 'pending' && this.outbox.includes(entry) && this.transmit(entry), frame.retry_after_ms ?? 1000);
    } else if (entry && frame.code === 'STORE_UNAVAILABLE') {
      setTimeout(() => entry.status === 'pending' && this.outbox.includes(entry) && this.transmit(entry), 1000);
    }
    // SHUTTING_DOWN: the socket closes with 1001 next, and the next READY sends it again.
    this.emit('error', { code: frame.code, error: frame.error, client_id: frame.client_id ?? null, entry: entry ?? null });
  }

  /** The session is over (logged out, expired, or ended elsewhere): stop, forget it, tell the app. */
  endSession(reason) {
    if (!this.session) return;
    this.running = false;
    clearTimeout(this.timers.retry);
    this.drop(1000, 'Logged out');
    this.setStatus('offline');
    // Unsent messages wait for the next login, unless the person chose to log out.
    if (reason === 'logout') this.storage.removeItem(this.outboxKey());
    this.session = null;
    this.outbox = [];
    this.lastId = 0;
    this.deliveredId = 0;
    this.emit('session_ended', { reason });
  }
}

const aborted = () => new ApiError(0, { error: 'The upload was cancelled', code: 'ABORTED' });
const sessionChanged = () => new ApiError(0, { error: 'The session changed while this request was under way', code: 'SESSION_CHANGED' });

function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => map.set(k, v),
    removeItem: (k) => map.delete(k),
  };
}
