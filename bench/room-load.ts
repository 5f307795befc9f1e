/**
 * The load generator's room job: one room, one socket per member, a few members posting. Every
 * message is followed to every member's socket: its latency runs from the send to the last of
 * those frames, and each member must get each message once, in id order.
 */
import WebSocket from 'ws';
import { createRoom, joinRoom, login, mapLimit } from './http.js';
import { noAnomalies, type Anomalies, type LoadResult, type RoomJob } from './protocol.js';
import { closeAll, CONTENT, DRAIN_TIMEOUT_MS, openSocket, sleep } from './sockets.js';
import { Samples } from './stats.js';
import { loadResult, MeasuredWindow, onClock, type Mark } from './timing.js';

/**
 * Every member reads every message, so the generator reads a frame per member for each message
 * the target is sent: parsing them all would make the generator the bottleneck sooner. A message
 * frame that begins the way both targets write it is read for its id and client_id alone; any
 * other frame (or one that does not read that way) is parsed.
 */
const MESSAGE_HEAD = Buffer.from('{"type":"message","id":');

/** The digits at `at` as a number; 0 when there are none (no id or send number is 0). */
function digitsAt(buf: Buffer, at: number): number {
  let n = 0;
  for (let c = buf[at]; c !== undefined && c >= 0x30 && c <= 0x39; c = buf[++at]) n = n * 10 + c - 0x30;
  return n;
}

type Frame = { type?: string; id?: number; client_id?: string | null; code?: string };

/** What is known of each send, by its number (1, 2, …): arrays that grow together. */
class Sends {
  count = 0;
  at = new Float64Array(0);
  sender = new Uint16Array(0);
  /** Members whose socket has it. */
  reached = new Uint16Array(0);
  refused = new Uint8Array(0);
  /** Which members have it: `stride` words of bits per send. */
  seen = new Uint32Array(0);

  constructor(readonly stride: number) {
    this.grow(1 << 12);
  }

  add(sender: number, at: number): number {
    const n = ++this.count;
    if (n === this.at.length) this.grow(2 * n);
    this.sender[n] = sender;
    this.at[n] = at;
    return n;
  }

  /** Send `n` reached member `m`; false when it had reached it already. */
  arrive(n: number, m: number): boolean {
    const word = n * this.stride + (m >>> 5);
    const bit = 1 << (m & 31);
    if (this.seen[word]! & bit) return false;
    this.seen[word]! |= bit;
    this.reached[n]!++;
    return true;
  }

  known(n: number): boolean {
    return n >= 1 && n <= this.count;
  }

  has(n: number, m: number): boolean {
    return (this.seen[n * this.stride + (m >>> 5)]! & (1 << (m & 31))) !== 0;
  }

  private grow(capacity: number): void {
    this.at = grown(this.at, capacity);
    this.sender = grown(this.sender, capacity);
    this.reached = grown(this.reached, capacity);
    this.refused = grown(this.refused, capacity);
    this.seen = grown(this.seen, capacity * this.stride);
  }
}

/** A copy of `old` with room for `length` elements. */
function grown<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(old: T, length: number): T {
  const next = new (old.constructor as new (length: number) => T)(length);
  next.set(old);
  return next;
}

class RoomRun {
  readonly window: MeasuredWindow;
  readonly latency = new Samples(1 << 16);
  readonly lag = new Samples(1 << 16);
  readonly anomalies: Anomalies = noAnomalies();
  readonly sent: Sends;
  /** The newest message id each member has had. */
  private readonly lastId: Float64Array;
  private readonly clientIdKey: Buffer;
  /** Set once the room is made, before anything is sent. */
  chatId = 0;
  /** Sends neither at every member nor refused yet. */
  outstanding = 0;
  sends = 0;
  deliveries = 0;
  stopping = false;
  /** Closed loop: a sender's message being done lets its next one go. */
  onDone: ((sender: number) => void) | null = null;

  constructor(
    private readonly job: RoomJob,
    readonly sockets: WebSocket[],
    mark: (m: Mark) => void,
  ) {
    this.window = new MeasuredWindow(mark);
    this.sent = new Sends(Math.ceil(job.members / 32));
    this.lastId = new Float64Array(job.members);
    this.clientIdKey = Buffer.from(`"client_id":"${job.prefix}`);
  }

  send(sender: number): void {
    const n = this.sent.add(sender, performance.now());
    this.outstanding++;
    // Built by hand, as in the pairs jobs: the fields are fixed.
    this.sockets[sender]!.send(`{"chat_id":${this.chatId},"content":"${CONTENT}","client_id":"${this.job.prefix}${n}"}`);
  }

  onFrame(member: number, data: Buffer): void {
    const now = performance.now();
    if (data.length > MESSAGE_HEAD.length && data.compare(MESSAGE_HEAD, 0, MESSAGE_HEAD.length, 0, MESSAGE_HEAD.length) === 0) {
      const id = digitsAt(data, MESSAGE_HEAD.length);
      const key = data.indexOf(this.clientIdKey, MESSAGE_HEAD.length);
      const n = key < 0 ? 0 : digitsAt(data, key + this.clientIdKey.length);
      if (id > 0 && n > 0) return this.onMessage(member, id, n, now);
    }
    const frame = JSON.parse(data.toString()) as Frame;
    if (frame.type === 'message') return this.onMessage(member, frame.id ?? 0, this.sendNumber(frame.client_id), now);
    if (frame.type === 'error') return this.onError(frame);
    // The room's `chat` frame to each joiner, and presence as the sockets close, are expected.
    if (frame.type !== 'chat' && frame.type !== 'presence') this.anomalies.unexpectedFrames++;
  }

  private sendNumber(clientId: string | null | undefined): number {
    const prefix = this.job.prefix;
    return clientId?.startsWith(prefix) ? Number(clientId.slice(prefix.length)) : 0;
  }

  private onMessage(member: number, id: number, n: number, now: number): void {
    const { sent } = this;
    if (!sent.known(n)) {
      this.anomalies.unexpectedFrames++;
      return;
    }
    if (!sent.arrive(n, member)) {
      this.anomalies.duplicates++;
      return;
    }
    // One chat: ids must only grow on every member's socket.
    if (id <= this.lastId[member]!) this.anomalies.outOfOrder++;
    else this.lastId[member] = id;
    if (this.window.has(now)) this.deliveries++;
    if (sent.reached[n] === this.job.members && !sent.refused[n]) this.done(n, now);
  }

  private done(n: number, now: number): void {
    const sentAt = this.sent.at[n]!;
    this.outstanding--;
    if (this.window.has(now)) this.sends++;
    // Open loop: every send of the window; closed loop: every send done in it.
    if (this.window.has(this.job.rate === null ? now : sentAt)) this.latency.push(now - sentAt);
    this.onDone?.(this.sent.sender[n]!);
  }

  private onError(frame: Frame): void {
    const code = frame.code ?? 'unknown';
    this.anomalies.errorFrames[code] = (this.anomalies.errorFrames[code] ?? 0) + 1;
    const n = this.sendNumber(frame.client_id);
    if (!this.sent.known(n) || this.sent.refused[n] || this.sent.reached[n] === this.job.members) return;
    this.sent.refused[n] = 1;
    this.outstanding--;
    this.onDone?.(this.sent.sender[n]!);
  }

  onClose(code: number): void {
    if (this.stopping) return;
    this.anomalies.closes[code] = (this.anomalies.closes[code] ?? 0) + 1;
  }

  /** Counts what never arrived: for each send not refused, each member without it, and its echo. */
  finish(): void {
    const { sent } = this;
    for (let n = 1; n <= sent.count; n++) {
      if (sent.refused[n]) continue;
      this.anomalies.lostDeliveries += this.job.members - sent.reached[n]!;
      if (!sent.has(n, sent.sender[n]!)) this.anomalies.lostEchoes++;
    }
  }
}

/** Resolves on the socket's next frame: the answer to a ping when nothing else can come first. */
function ping(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.once('message', () => resolve());
    ws.send('{"type":"ping"}');
  });
}

/**
 * Logs the members in and opens their sockets, then makes the room and has the others join it.
 * Sockets first: a user whose socket opens is announced to every user it shares a chat with, and
 * a thousand members coming online in a room would be half a million presence frames to read.
 */
async function setupRoom(job: RoomJob, mark: (m: Mark) => void): Promise<RoomRun> {
  const sessions = await mapLimit(
    Array.from({ length: job.members }, (_, i) => `${job.prefix}${i}`),
    16,
    (name) => login(job.baseUrl, name),
  );
  const sockets = await mapLimit(sessions, 32, (s) => openSocket(job.baseUrl, s.token));
  // A socket takes live frames once its first frame is handled (the server holds them until then).
  await mapLimit(sockets, 32, ping);
  const run = new RoomRun(job, sockets, mark);
  sockets.forEach((ws, member) => {
    ws.on('message', (data: Buffer) => run.onFrame(member, data));
    ws.on('close', (code: number) => run.onClose(code));
    ws.on('error', () => {});
  });
  const room = await createRoom(job.baseUrl, sessions[0]!.token, `${job.prefix}room`);
  run.chatId = room.id;
  await mapLimit(sessions.slice(1), 16, (s) => joinRoom(job.baseUrl, s.token, room.id));
  // The joiners' `chat` frames settle before the clock starts.
  await sleep(500);
  return run;
}

export async function roomLoad(job: RoomJob, mark: (m: Mark) => void): Promise<LoadResult> {
  const t0 = performance.now();
  const run = await setupRoom(job, mark);
  const setupMs = performance.now() - t0;
  const { sockets } = run;
  const live = (sender: number) => !run.stopping && sockets[sender]!.readyState === WebSocket.OPEN;

  run.window.schedule(job.warmupMs, job.durationMs);
  if (job.rate === null) {
    run.onDone = (sender) => {
      if (live(sender)) run.send(sender);
    };
    for (let s = 0; s < job.senders; s++) for (let i = 0; i < job.window; i++) run.send(s);
    await sleep(job.warmupMs + job.durationMs);
  } else {
    await onClock(job.rate, job.warmupMs + job.durationMs, (i, scheduled, now) => {
      if (run.window.has(scheduled)) run.lag.push(now - scheduled);
      if (live(i % job.senders)) run.send(i % job.senders);
    });
  }

  run.stopping = true;
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (run.outstanding > 0 && performance.now() < deadline && sockets.some((ws) => ws.readyState === WebSocket.OPEN)) await sleep(20);
  run.finish();
  await closeAll(sockets);

  return loadResult('room', run, { setupMs, durationMs: job.durationMs, onClock: job.rate !== null, totalSent: run.sent.count });
}
