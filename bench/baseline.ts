/**
 * The bare baseline: the subset of the contract the load generator speaks (login, initiate, making
 * and joining a room, the WebSocket ping and send / echo / deliver), in memory, with no storage and
 * no validation. It is the ceiling that Node and `ws` allow on this machine; the server is measured
 * against it.
 *
 * With BASELINE_DB set, it is the durable baseline instead: the sends of one event-loop turn are
 * stored in one SQLite transaction (WAL, `synchronous=FULL`, the commit's fsync on the event loop)
 * before they are delivered. Its table has the two indexes the contract makes every durable server
 * keep (each sender's `client_id`s, each chat's history in order), and nothing else: it is the
 * floor that this disk sets for a server that stores every message before confirming it.
 */
import SQLite from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

interface User {
  id: number;
  username: string;
  created_at: string;
}

const usersByKey = new Map<string, User>();
const usersByToken = new Map<string, User>();
const chatsByPair = new Map<string, number>();
const chatMembers = new Map<number, number[]>();
const socketsByUser = new Map<number, Set<WebSocket>>();
let nextUserId = 1;
let nextChatId = 1;
let nextMessageId = 1;

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function userOf(authorization: string | undefined): User | undefined {
  return authorization?.startsWith('Bearer ') ? usersByToken.get(authorization.slice(7)) : undefined;
}

/** A route's handler; `id` is the number in its path (`/v1/rooms/:id/join`). */
type Route = (body: Record<string, unknown>, req: http.IncomingMessage, id: number) => [number, unknown];

const routes: Record<string, Route> = {
  'POST /v1/login': (body) => {
    const username = String(body.username);
    const key = username.toLowerCase();
    let user = usersByKey.get(key);
    if (!user) {
      user = { id: nextUserId++, username, created_at: new Date().toISOString() };
      usersByKey.set(key, user);
    }
    const token = randomBytes(16).toString('hex');
    usersByToken.set(token, user);
    return [200, { token, user: { ...user, display_name: null, bio: null } }];
  },
  'POST /v1/chats/initiate': (body, req) => {
    const me = userOf(req.headers.authorization);
    const target = usersByKey.get(String(body.target_username).toLowerCase());
    if (!me) return [401, { error: 'No token', code: 'UNAUTHORIZED' }];
    if (!target) return [404, { error: 'No such user', code: 'USER_NOT_FOUND' }];
    const pair = me.id < target.id ? `${me.id}:${target.id}` : `${target.id}:${me.id}`;
    const existing = chatsByPair.get(pair);
    if (existing !== undefined) return [200, { chat_id: existing, status: 'exists' }];
    const id = nextChatId++;
    chatsByPair.set(pair, id);
    chatMembers.set(id, [me.id, target.id]);
    return [200, { chat_id: id, status: 'created' }];
  },
  'POST /v1/rooms': (_body, req) => {
    const me = userOf(req.headers.authorization);
    if (!me) return [401, { error: 'No token', code: 'UNAUTHORIZED' }];
    const id = nextChatId++;
    chatMembers.set(id, [me.id]);
    return [201, { id, chat_type: 'room' }];
  },
  'POST /v1/rooms/:id/join': (_body, req, id) => {
    const me = userOf(req.headers.authorization);
    const members = chatMembers.get(id);
    if (!me) return [401, { error: 'No token', code: 'UNAUTHORIZED' }];
    if (!members) return [404, { error: 'Room not found', code: 'ROOM_NOT_FOUND' }];
    if (!members.includes(me.id)) members.push(me.id);
    return [200, { id, chat_type: 'room' }];
  },
  'GET /healthz': () => [200, { status: 'ok' }],
};

const server = http.createServer((req, res) => {
  let id = 0;
  const path = req.url?.replace(/\/(\d+)(?=\/|$)/, (_, digits: string) => {
    id = Number(digits);
    return '/:id';
  });
  const route = routes[`${req.method} ${path}`];
  if (!route) return reply(res, 404, { error: 'Not found', code: 'NOT_FOUND' });
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const [status, body] = route(text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), req, id);
    reply(res, status, body);
  });
});

// Same frame limit as the server's default, so that both read frames under the same rules.
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const user = req.url === '/v1/ws' ? userOf(req.headers.authorization) : undefined;
  if (!user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => attach(ws, user));
});

function attach(ws: WebSocket, user: User): void {
  let sockets = socketsByUser.get(user.id);
  if (!sockets) socketsByUser.set(user.id, (sockets = new Set()));
  sockets.add(ws);
  ws.on('close', () => {
    sockets.delete(ws);
    if (sockets.size === 0) socketsByUser.delete(user.id);
  });
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type?: string; chat_id: number; content: string; client_id?: string };
    if (frame.type === 'ping') return ws.send('{"type":"pong"}');
    const send: Send = { chatId: frame.chat_id, sender: user, content: frame.content, clientId: frame.client_id ?? null };
    if (store) store.add(send);
    else deliver(send, nextMessageId++, new Date().toISOString());
  });
  ws.on('error', () => {});
}

interface Send {
  chatId: number;
  sender: User;
  content: string;
  clientId: string | null;
}

function deliver(send: Send, id: number, timestamp: string): void {
  // Serialized once, written to every member's sockets, the sender's included (its echo).
  const out = Buffer.from(JSON.stringify({
    type: 'message',
    id,
    chat_id: send.chatId,
    sender_id: send.sender.id,
    sender: send.sender.username,
    content: send.content,
    timestamp,
    client_id: send.clientId,
    edited_at: null,
    deleted_at: null,
    files: [],
  }));
  for (const member of chatMembers.get(send.chatId) ?? []) for (const socket of socketsByUser.get(member) ?? []) write(socket, out);
}

const TEXT = { binary: false };
const corked = new Set<Socket>();

/**
 * What any bare `ws` server can do for a broadcast: the frame is encoded to bytes once for every
 * socket (a string would be measured and encoded again per socket), and a socket's frames of one
 * event-loop turn (every send read in it) leave in one write, where `ws` alone writes each frame on
 * its own: one system call per frame and socket.
 */
function write(socket: WebSocket, frame: Buffer): void {
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  if (!corked.has(tcp)) {
    if (corked.size === 0) setImmediate(uncorkAll);
    corked.add(tcp);
    tcp.cork();
  }
  socket.send(frame, TEXT);
}

function uncorkAll(): void {
  for (const tcp of corked) tcp.uncork();
  corked.clear();
}

/** Group commit, as plainly as it can be done: one transaction per event-loop turn, then delivery. */
function groupCommit(file: string) {
  const db = new SQLite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    create table messages (id integer primary key, chat_id integer not null, sender_id integer not null,
      content text not null, client_id text, created_at text not null);
    create index messages_chat_id_idx on messages (chat_id, id);
    create unique index messages_sender_client_id_idx on messages (sender_id, client_id);`);
  const insert = db.prepare('insert into messages (chat_id, sender_id, content, client_id, created_at) values (?, ?, ?, ?, ?)');
  let queued: Send[] = [];
  const commit = db.transaction((sends: Send[], now: string) =>
    sends.map((s) => Number(insert.run(s.chatId, s.sender.id, s.content, s.clientId, now).lastInsertRowid)),
  );
  const flush = () => {
    const sends = queued;
    queued = [];
    const now = new Date().toISOString();
    commit(sends, now).forEach((id, i) => deliver(sends[i]!, id, now));
  };
  return {
    add(send: Send): void {
      if (queued.length === 0) setImmediate(flush);
      queued.push(send);
    },
    close: () => db.close(),
  };
}

const store = process.env.BASELINE_DB ? groupCommit(process.env.BASELINE_DB) : null;

process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  server.close(() => {
    store?.close();
    process.exit(0);
  });
  server.closeAllConnections();
});

// 127.0.0.1 only: the benchmark never listens on a public address.
server.listen(Number(process.env.PORT), '127.0.0.1');
