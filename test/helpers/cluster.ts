import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Test } from 'tap';
import WebSocket from 'ws';
import { spawnServer, type ChildServer } from './child-server.js';

// Several real server processes over one PostgreSQL database and one Redis, and clients that follow
// docs/delivery.md ("What a client should do") across them: the pieces of test/cluster/.

export const databaseUrl = process.env.TEST_DATABASE_URL;
export const redisUrl = process.env.TEST_REDIS_URL;

export type Frame = Record<string, any>;

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The server as the children run it. By default src/main.ts bundled once for the whole file (as
 * `npm start` bundles it: scripts/bundle.mjs), because a child that loads the sources through the
 * TypeScript loader takes 5 to 15 s to start on 2 busy cores, and these tests start many.
 * `CLUSTER_FROM_SOURCE=1` runs the sources instead (spawnServer's default).
 */
export async function serverBuild(t: Test): Promise<string | undefined> {
  if (process.env.CLUSTER_FROM_SOURCE === '1') return undefined;
  // Inside the project, so that the packages left out of the bundle (pg, ioredis) resolve.
  const outdir = path.join(root, 'dist', `cluster-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  t.teardown(() => rmSync(outdir, { recursive: true, force: true }));
  await promisify(execFile)(process.execPath, ['scripts/bundle.mjs', outdir], { cwd: root });
  return path.join(outdir, 'main.js');
}

/** Whether PostgreSQL and Redis are there for the cluster tests; when not, the file says so and passes. */
export function clusterServices(t: Test): boolean {
  if (databaseUrl && redisUrl) return true;
  t.comment('TEST_DATABASE_URL or TEST_REDIS_URL is not set: skipping the cluster tests (.ci/run sets both)');
  t.pass('skipped: the cluster tests need PostgreSQL and Redis');
  return false;
}

/** Three processes of the bundled server (see `serverBuild`), replay pages of 50 so that every resume pages. */
export async function threeProcesses(t: Test, env: Record<string, string> = {}): Promise<Cluster> {
  const main = await serverBuild(t);
  return Cluster.start(t, { size: 3, main, env: { RESUME_MAX_MESSAGES: '50', ...env } });
}

export const unique = (prefix: string) => `${prefix}${process.pid.toString(36)}${Math.random().toString(36).slice(2, 7)}`;

/**
 * A database of its own beside TEST_DATABASE_URL's, and a client on it (`db`); dropped by `drop()`.
 * Not a schema in the shared database as test/helpers/server.ts makes: NOTIFY channels are per
 * database, so the processes hear only their own commits, as in production, and dropping the
 * database ends whatever connection a killed process left behind.
 */
export class TestDatabase {
  private constructor(
    readonly name: string,
    private readonly admin: pg.Client,
    readonly db: pg.Client,
  ) {}

  static async create(): Promise<TestDatabase> {
    const name = unique('dm_cluster_');
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`create database ${name}`);
    const db = new pg.Client({ connectionString: TestDatabase.urlOf(name) });
    await db.connect();
    return new TestDatabase(name, admin, db);
  }

  private static urlOf(name: string, applicationName?: string): string {
    const url = new URL(databaseUrl!);
    url.pathname = `/${name}`;
    if (applicationName) url.searchParams.set('application_name', applicationName);
    return url.toString();
  }

  /** The URL the servers use, with `applicationName` to tell their connections apart in pg_stat_activity. */
  url(applicationName: string): string {
    return TestDatabase.urlOf(this.name, applicationName);
  }

  async drop(): Promise<void> {
    await this.db.end().catch(() => {});
    await this.admin.query(`drop database if exists ${this.name} with (force)`).catch(() => {});
    await this.admin.end().catch(() => {});
  }
}

export interface Node {
  /** Its place in the cluster: a restarted process takes the place of the one it replaces. */
  index: number;
  /** The `application_name` of its PostgreSQL connections. */
  appName: string;
  url: string;
  wsUrl: string;
  child: ChildServer;
}

/**
 * `size` server processes (spawnServer: the real entry point in a child, 127.0.0.1, port 0) over one
 * fresh database, one Redis channel and one JWT secret. All are killed, and the database dropped, when
 * the test ends.
 */
export class Cluster {
  readonly nodes: (Node | null)[];
  private generation = 0;
  private readonly children: ChildServer[] = [];
  private readonly tag = unique('dm');

  private constructor(
    readonly database: TestDatabase,
    private readonly env: Record<string, string>,
    private readonly main: string | undefined,
    private readonly dataDir: string,
    size: number,
  ) {
    this.nodes = Array.from({ length: size }, () => null);
  }

  static async start(t: Test, options: { size: number; main: string | undefined; env?: Record<string, string> }): Promise<Cluster> {
    const database = await TestDatabase.create();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'dm-cluster-'));
    const env = {
      REDIS_URL: redisUrl!,
      REDIS_CHANNEL: `${unique('dm-cluster:')}`,
      JWT_SECRET: 'cluster-test-secret-cluster-test-secret-0123',
      DATA_DIR: dataDir,
      RATE_LIMIT_AUTH: '0',
      RATE_LIMIT_API: '0',
      RATE_LIMIT_SEND: '0',
      // spawnServer waits for "Server listening", which Fastify logs at info.
      LOG_LEVEL: 'info',
      ...options.env,
    };
    const cluster = new Cluster(database, env, options.main, dataDir, options.size);
    try {
      // The first process migrates the database; the others start once it is there.
      await cluster.spawn(0);
      await Promise.all(cluster.nodes.slice(1).map((_, i) => cluster.spawn(i + 1)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    t.teardown(() => cluster.stop());
    return cluster;
  }

  get db(): pg.Client {
    return this.database.db;
  }

  /** Starts a process in place `index` (after the one there is gone). */
  async spawn(index: number): Promise<Node> {
    const appName = `${this.tag}_${index}_${this.generation++}`;
    const child = await spawnServer({ ...this.env, DATABASE_URL: this.database.url(appName) }, { main: this.main });
    this.children.push(child);
    const node: Node = { index, appName, url: child.url, wsUrl: child.wsUrl, child };
    this.nodes[index] = node;
    return node;
  }

  /** Kills the process in place `index` and waits for it to be gone. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<Node> {
    const node = this.nodes[index]!;
    this.nodes[index] = null;
    node.child.process.kill(signal);
    await node.child.exited;
    return node;
  }

  alive(): Node[] {
    return this.nodes.filter((n): n is Node => n !== null);
  }

  node(index: number): Node {
    const node = this.nodes[index];
    if (!node) throw new Error(`no process in place ${index}`);
    return node;
  }

  /** The next live process after place `index` (round robin): where a device goes when it moves on. */
  after(index: number): Node {
    const size = this.nodes.length;
    for (let step = 1; step <= size; step++) {
      const node = this.nodes[(index + step) % size];
      if (node) return node;
    }
    throw new Error('no process is alive');
  }

  /** Warnings and errors the process logged, for a comment when something fails. */
  problems(node: Node, max = 5): string[] {
    return node.child.logs
      .filter((line) => /"level":(4|5|6)\d/.test(line))
      .slice(-max)
      .map((line) => {
        try {
          const entry = JSON.parse(line);
          return `${entry.msg}${entry.err ? `: ${entry.err.type} ${entry.err.message}` : ''}`;
        } catch {
          return line.slice(0, 300);
        }
      });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
        return child.exited;
      }),
    );
    await this.database.drop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** JSON over HTTP, as a client would. */
export async function api(
  node: { url: string },
  method: string,
  route: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(node.url + route, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text) };
}

export interface Session {
  token: string;
  user: { id: number; username: string };
}

export async function login(node: { url: string }, username: string): Promise<Session> {
  const res = await api(node, 'POST', '/v1/login', { body: { username } });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Logs in `count` new users and makes them a group; the first one owns it. */
export async function group(node: { url: string }, prefix: string, count: number): Promise<{ users: Session[]; chatId: number }> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  const users = await Promise.all(names.map((name) => login(node, name)));
  const res = await api(node, 'POST', '/v1/chats', { token: users[0]!.token, body: { name: prefix, members: names.slice(1) } });
  if (res.status !== 201) throw new Error(`group ${prefix}: ${res.status} ${JSON.stringify(res.body)}`);
  return { users, chatId: res.body.id };
}

/** One message frame as a device took it. */
export interface Arrival {
  id: number;
  chatId: number;
  clientId: string | null;
  senderId: number;
  /** Which of the device's sockets took it (1, 2, …). */
  socket: number;
  /** Before that socket's `resumed`: part of a replay. */
  replay: boolean;
}

/** One socket of a device, from upgrade to close. */
export interface Connection {
  number: number;
  node: number;
  /** The `after` of its resume. */
  after: number;
  /** Its close code, once closed. */
  closed: number | null;
  /** Closed by the device itself (a drop). */
  dropped: boolean;
  resumed: boolean;
}

/**
 * A device, as docs/delivery.md tells clients to behave: it keeps the highest message id it has
 * seen, and on every connect and reconnect sends `resume` after it as its first frame. When its
 * socket closes (the server closed it, the process died, or `drop()`), it reconnects at once to the
 * next process (`Cluster.after`; or first the same one, with `returnFirst`), moving on while
 * upgrades are refused. It dedupes nothing: every
 * message frame is recorded in `arrivals`, so that a message received twice shows.
 */
export class Device {
  highest = 0;
  readonly arrivals: Arrival[] = [];
  /** Every other frame (events, errors, `resumed`), with the socket that took it. */
  readonly others: { frame: Frame; socket: number; replay: boolean }[] = [];
  /** Every frame, message or not, in the order it came. */
  readonly timeline: { frame: Frame; socket: number; replay: boolean }[] = [];
  readonly connections: Connection[] = [];
  /** Upgrades that failed (refused with a status, or no process there), by reason. */
  readonly refusals = new Map<string, number>();
  /** Message ids that this device's sender sent again after a reconnect (see `Sender`). */
  readonly resentIds = new Set<string>();
  /** On a reconnect, try the process it was on first (a process that refuses gets a 503), then the next ones. */
  returnFirst = false;
  onMessage: ((frame: Frame, device: Device) => void)[] = [];
  onResumed: ((device: Device) => void)[] = [];
  onOther: ((frame: Frame, device: Device) => void)[] = [];
  private ws: WebSocket | null = null;
  private current: Connection | null = null;
  private stopped = false;
  private reconnecting = false;

  constructor(
    readonly name: string,
    readonly session: Session,
    private readonly cluster: Cluster,
  ) {}

  get userId(): number {
    return this.session.user.id;
  }

  /** Open and past its replay. */
  get live(): boolean {
    return this.current !== null && this.current.resumed && this.current.closed === null && this.ws?.readyState === WebSocket.OPEN;
  }

  get node(): number | null {
    return this.current && this.current.closed === null ? this.current.node : null;
  }

  /** Connects to `node` and resolves once its replay is done (`resumed`). */
  async start(node: Node): Promise<void> {
    this.stopped = false;
    await this.open(node);
    await this.untilLive();
  }

  async untilLive(timeoutMs = 30_000): Promise<void> {
    await until(() => this.live, `${this.name} live`, timeoutMs);
  }

  send(frame: Frame): boolean {
    if (!this.live) return false;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  /** Cuts the socket at once (no closing handshake), right after the frame being handled; reconnects elsewhere. */
  drop(): void {
    const conn = this.current;
    if (!conn || conn.closed !== null || conn.dropped) return;
    conn.dropped = true;
    this.ws?.terminate();
  }

  /** Disconnects for good (until `start` again). */
  async stop(): Promise<void> {
    this.stopped = true;
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.terminate();
      await closed;
    }
    await until(() => !this.reconnecting, `${this.name} stopped`, 30_000);
  }

  private open(node: Node): Promise<void> {
    const ws = new WebSocket(node.wsUrl, { headers: { authorization: `Bearer ${this.session.token}` } });
    const conn: Connection = { number: this.connections.length + 1, node: node.index, after: 0, closed: null, dropped: false, resumed: false };
    return new Promise((resolve, reject) => {
      let opened = false;
      let failed = false;
      const fail = (reason: string) => {
        if (failed) return;
        failed = true;
        this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
        reject(new Error(`${this.name}: cannot connect to ${node.index}: ${reason}`));
      };
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => {
          let code = '';
          try {
            code = JSON.parse(body).code;
          } catch {
            // Not JSON: the status says enough.
          }
          fail(`${res.statusCode} ${code}`.trim());
        });
        res.on('error', () => fail(String(res.statusCode)));
        req.on('error', () => {});
        setImmediate(() => req.destroy());
      });
      ws.on('error', (err) => {
        if (!opened) fail((err as NodeJS.ErrnoException).code ?? err.message);
      });
      ws.once('open', () => {
        opened = true;
        if (this.stopped) {
          ws.terminate();
          return resolve();
        }
        this.ws = ws;
        this.current = conn;
        this.connections.push(conn);
        ws.on('message', (data) => {
          // After a drop, frames already read from the same TCP packet do not count: the client is gone.
          if (conn.dropped) return;
          this.handle(conn, JSON.parse(data.toString()));
        });
        ws.on('close', (code) => {
          conn.closed = code;
          if (this.current === conn && !this.stopped) void this.reconnect(node.index);
        });
        conn.after = this.highest;
        ws.send(JSON.stringify({ type: 'resume', after: conn.after }));
        resolve();
      });
    });
  }

  private handle(conn: Connection, frame: Frame): void {
    this.timeline.push({ frame, socket: conn.number, replay: !conn.resumed });
    if (frame.type === 'message') {
      this.arrivals.push({
        id: frame.id,
        chatId: frame.chat_id,
        clientId: frame.client_id,
        senderId: frame.sender_id,
        socket: conn.number,
        replay: !conn.resumed,
      });
      if (frame.id > this.highest) this.highest = frame.id;
      for (const listener of this.onMessage) listener(frame, this);
      return;
    }
    this.others.push({ frame, socket: conn.number, replay: !conn.resumed });
    if (frame.type === 'resumed') {
      conn.resumed = true;
      for (const listener of this.onResumed) listener(this);
    }
    for (const listener of this.onOther) listener(frame, this);
  }

  private async reconnect(from: number): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      let last = from;
      for (let attempt = 0; !this.stopped; attempt++) {
        const node = attempt === 0 && this.returnFirst && this.cluster.nodes[from] ? this.cluster.nodes[from] : this.cluster.after(last);
        try {
          await this.open(node);
          return;
        } catch {
          last = node.index;
          await sleep(Math.min(20 * (attempt + 1), 200));
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }
}

/**
 * A burst of `total` messages from one device over its socket, with at most `window` unconfirmed,
 * each with a client_id. As docs/delivery.md says: the echo (live or replayed) confirms a message;
 * after every reconnect, once `resumed` has come, every message without an echo is sent again with
 * its client_id (the server answers a repeat with the stored message, to that socket only, which
 * may then hold it twice: such ids are excused in `verify`).
 */
export class Sender {
  /** client_id → message id, for each confirmed message. */
  readonly acked = new Map<string, number>();
  readonly errors: Frame[] = [];
  private next = 0;
  private readonly inFlight = new Set<string>();
  private readonly sent = new Set<string>();
  private finished!: () => void;
  readonly done: Promise<void>;

  constructor(
    readonly device: Device,
    readonly chatId: number,
    readonly prefix: string,
    readonly total: number,
    readonly window = 40,
  ) {
    this.done = new Promise((resolve) => (this.finished = resolve));
    device.onMessage.push((frame) => {
      if (frame.sender_id !== device.userId || typeof frame.client_id !== 'string' || !frame.client_id.startsWith(`${prefix}-`)) return;
      if (!this.acked.has(frame.client_id)) this.acked.set(frame.client_id, frame.id);
      this.inFlight.delete(frame.client_id);
      if (this.acked.size === total) this.finished();
      this.pump();
    });
    device.onOther.push((frame) => {
      if (frame.type !== 'error' || typeof frame.client_id !== 'string' || !frame.client_id.startsWith(`${prefix}-`)) return;
      // Refused (e.g. STORE_UNAVAILABLE): sent again after the next resume, or now.
      this.errors.push(frame);
      this.inFlight.delete(frame.client_id);
      if (!this.acked.has(frame.client_id)) this.resend(frame.client_id);
    });
    device.onResumed.push(() => {
      this.inFlight.clear();
      for (const clientId of this.sent) if (!this.acked.has(clientId)) this.resend(clientId);
      this.pump();
    });
  }

  get started(): boolean {
    return this.next > 0;
  }

  /** Starts (or goes on with) the burst. */
  pump(): void {
    while (this.device.live && this.next < this.total && this.inFlight.size < this.window) {
      const clientId = `${this.prefix}-${this.next}`;
      if (!this.device.send({ chat_id: this.chatId, content: `${this.prefix} ${this.next}`, client_id: clientId })) return;
      this.next++;
      this.sent.add(clientId);
      this.inFlight.add(clientId);
    }
  }

  private resend(clientId: string): void {
    const i = Number(clientId.slice(this.prefix.length + 1));
    if (this.device.send({ chat_id: this.chatId, content: `${this.prefix} ${i}`, client_id: clientId })) {
      this.device.resentIds.add(clientId);
      this.inFlight.add(clientId);
    }
  }
}

/**
 * A burst over REST (`POST /v1/chats/:id/messages`, `concurrency` at a time) to `home`; a request
 * that fails (the process is gone, or 5xx) is sent again, with the same client_id, to the next process.
 */
export async function restBurst(
  cluster: Cluster,
  home: number,
  session: Session,
  chatId: number,
  prefix: string,
  total: number,
  concurrency: number,
  acked: Map<string, number>,
): Promise<{ retries: number }> {
  let next = 0;
  let retries = 0;
  const worker = async () => {
    let place = home;
    while (next < total) {
      const i = next++;
      const clientId = `${prefix}-${i}`;
      for (;;) {
        const node = cluster.nodes[place] ?? cluster.after(place);
        place = node.index;
        const res = await api(node, 'POST', `/v1/chats/${chatId}/messages`, {
          token: session.token,
          body: { content: `${prefix} ${i}`, client_id: clientId },
        }).catch(() => null);
        if (res?.status === 201) {
          acked.set(clientId, res.body.id);
          break;
        }
        retries++;
        place = cluster.after(place).index;
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { retries };
}

/** Polls `condition` until it holds; fails after `timeoutMs`, naming what it waited for. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for: ${what}`);
    await sleep(5);
  }
}

/** The ids of the messages stored in `chatIds`, per chat, in id order: what every member must hold. */
export async function stored(cluster: Cluster, chatIds: readonly number[]): Promise<Map<number, number[]>> {
  const { rows } = await cluster.db.query<{ id: number; chat_id: number }>(
    'select id, chat_id from messages where chat_id = any($1::int[]) order by id',
    [chatIds],
  );
  const byChat = new Map<number, number[]>(chatIds.map((id) => [id, []]));
  for (const row of rows) byChat.get(Number(row.chat_id))!.push(Number(row.id));
  return byChat;
}

export interface Tally {
  devices: number;
  messages: number;
  frames: number;
  missing: number;
  duplicates: number;
  unexpected: number;
  /** A message taken after a larger one of the same chat, on one socket. */
  socketInversions: number;
  /** A message taken after a larger one of the same chat, by one device (across its sockets). */
  deviceInversions: number;
  /** Repeats answered to a sender's own resend (by design), not counted as duplicates. */
  excused: number;
  connections: number;
}

/** Waits until every device holds every stored message, then counts what is wrong. */
export async function verify(t: Test, label: string, devices: readonly Device[], expected: Map<number, number[]>, timeoutMs = 30_000): Promise<Tally> {
  const total = [...expected.values()].reduce((n, ids) => n + ids.length, 0);
  const holds = (d: Device) => {
    const ids = new Set(d.arrivals.filter((a) => expected.has(a.chatId)).map((a) => a.id));
    return [...expected.values()].every((list) => list.every((id) => ids.has(id)));
  };
  await until(() => devices.every(holds), `${label}: every device holds all ${total} messages`, timeoutMs).catch(() => {});
  // Anything that would arrive twice arrives right behind.
  await sleep(300);

  const tally: Tally = { devices: devices.length, messages: total, frames: 0, missing: 0, duplicates: 0, unexpected: 0, socketInversions: 0, deviceInversions: 0, excused: 0, connections: 0 };
  const details: string[] = [];
  for (const device of devices) {
    tally.connections += device.connections.length;
    const mine = device.arrivals.filter((a) => expected.has(a.chatId));
    tally.frames += mine.length;
    const excused = (a: Arrival) => a.clientId !== null && a.senderId === device.userId && device.resentIds.has(a.clientId);
    const counted = mine.filter((a) => !excused(a));
    const problems: string[] = [];
    for (const [chatId, ids] of expected) {
      const wanted = new Set(ids);
      const held = counted.filter((a) => a.chatId === chatId);
      const all = mine.filter((a) => a.chatId === chatId);
      const seen = new Map<number, number>();
      for (const a of all) seen.set(a.id, (seen.get(a.id) ?? 0) + 1);
      const missing = ids.filter((id) => !seen.has(id));
      const once = new Set<number>();
      const duplicates = held.filter((a) => once.has(a.id) || (once.add(a.id), false));
      const unexpected = [...seen.keys()].filter((id) => !wanted.has(id));
      const excusedHere = all.filter(excused);
      const tooMany = [...new Set(excusedHere.map((a) => a.id))].filter((id) => seen.get(id)! > 2);
      tally.excused += excusedHere.length - new Set(excusedHere.map((a) => a.id)).size;
      // A new message (not a repeat, counted above) that comes after a larger one.
      let deviceInversions = 0;
      let top = 0;
      const taken = new Set<number>();
      for (const a of held) {
        if (taken.has(a.id)) continue;
        taken.add(a.id);
        if (a.id < top) deviceInversions++;
        top = Math.max(top, a.id);
      }
      let socketInversions = 0;
      const lastOnSocket = new Map<number, number>();
      for (const a of held) {
        if (a.id <= (lastOnSocket.get(a.socket) ?? 0)) socketInversions++;
        lastOnSocket.set(a.socket, a.id);
      }
      tally.missing += missing.length;
      tally.duplicates += duplicates.length + tooMany.length;
      tally.unexpected += unexpected.length;
      tally.deviceInversions += deviceInversions;
      tally.socketInversions += socketInversions;
      if (missing.length) problems.push(`missing ${missing.length} (${missing.slice(0, 8).join(',')})`);
      if (duplicates.length) {
        const d = duplicates[0]!;
        const first = held.find((a) => a.id === d.id)!;
        const again = device.connections[d.socket - 1]!;
        const belowResume = duplicates.filter((a) => a.id <= device.connections[a.socket - 1]!.after && !a.replay).length;
        problems.push(
          `${duplicates.length} twice, ${belowResume} of them live on a socket that had resumed after a larger id ` +
            `(e.g. id ${d.id}: socket ${first.socket} on process ${device.connections[first.socket - 1]!.node}${first.replay ? ' (replay)' : ''}, ` +
            `then socket ${d.socket} on process ${again.node}${d.replay ? ' (replay)' : ' (live)'}, which had resumed after ${again.after})`,
        );
      }
      if (tooMany.length) problems.push(`resent ids held more than twice: ${tooMany.slice(0, 5).join(',')}`);
      if (unexpected.length) problems.push(`not stored: ${unexpected.slice(0, 5).join(',')}`);
      if (deviceInversions || socketInversions) problems.push(`out of order: ${socketInversions} on a socket, ${deviceInversions} across sockets`);
    }
    if (problems.length) details.push(`${device.name}: ${problems.join('; ')}`);
  }
  for (const line of details.slice(0, 8)) t.comment(`${label}: ${line}`);
  t.equal(tally.missing, 0, `${label}: every device holds every message (${tally.devices} devices × ${total})`);
  t.equal(tally.duplicates, 0, `${label}: no device holds a message twice`);
  t.equal(tally.unexpected, 0, `${label}: no device holds a message that is not stored`);
  t.equal(tally.socketInversions, 0, `${label}: every socket takes each chat in increasing id order`);
  t.equal(tally.deviceInversions, 0, `${label}: every device holds each chat in id order`);
  return tally;
}

export function summary(tally: Tally): string {
  return (
    `${tally.devices} devices, ${tally.messages} messages, ${tally.frames} message frames, ${tally.connections} sockets; ` +
    `missing ${tally.missing}, twice ${tally.duplicates}, inversions ${tally.socketInversions} (socket) / ${tally.deviceInversions} (device)` +
    (tally.excused ? `, ${tally.excused} repeat echoes to resends (excused)` : '')
  );
}

/** GET /healthz: its status and code. */
export async function health(node: { url: string }): Promise<{ status: number; code?: string }> {
  try {
    const res = await api(node, 'GET', '/healthz');
    return { status: res.status, code: res.body?.code };
  } catch {
    return { status: 0, code: 'UNREACHABLE' };
  }
}

/**
 * Polls /healthz back to back until `done()` is true, keeping the sequence of distinct answers
 * (`200`, `503 REDIS_UNAVAILABLE`, …).
 */
export function watchHealth(node: { url: string }): { states: string[]; stop: () => Promise<string[]> } {
  const states: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { status, code } = await health(node);
      const state = status === 200 ? '200' : `${status} ${code ?? ''}`.trim();
      if (states.at(-1) !== state) states.push(state);
      await sleep(5);
    }
  })();
  return {
    states,
    stop: async () => {
      stopped = true;
      await loop;
      return states;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A private redis-server (no persistence) on a port of its own, which a test may kill and start again. */
export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<unknown> = Promise.resolve();

  private constructor(readonly port: number) {}

  static async start(t: Test): Promise<RedisServer> {
    const redis = new RedisServer(await freePort());
    t.teardown(() => redis.kill());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts it (again, on the same port) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (line.includes('Ready to accept connections')) resolve();
      });
      void this.exited.then(() => reject(new Error('redis-server exited before it was ready')));
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
  }
}
