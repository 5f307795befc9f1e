/**
 * The load generator's storm job: every socket opened at once, each resuming as soon as it is
 * open, as clients do when a restarted server comes back. Each socket must get exactly its
 * user's unseen messages, each once, in id order, and then its `resumed` frame.
 */
import WebSocket from 'ws';
import type { StormAnomalies, StormJob, StormResult } from './protocol.js';
import { closeAll } from './sockets.js';
import { Samples } from './stats.js';
import type { Mark } from './timing.js';

/**
 * A socket replays thousands of frames: read for their id and chat alone when they begin the way
 * the server writes them (any other frame is parsed), so that the generator is not the bottleneck.
 */
const MESSAGE_HEAD = Buffer.from('{"type":"message","id":');
const CHAT_KEY = Buffer.from(',"chat_id":');

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

/** Where the digits starting at `at` end. */
function digitsEnd(buf: Buffer, at: number): number {
  while (isDigit(buf[at])) at++;
  return at;
}

function digitsAt(buf: Buffer, at: number, end: number): number {
  let n = 0;
  for (; at < end; at++) n = n * 10 + buf[at]! - 0x30;
  return n;
}

/** Where each socket is: connecting, open (replaying), resumed, or failed (refused, or closed before its `resumed`). */
const State = { Connecting: 0, Open: 1, Resumed: 2, Failed: 3 } as const;

type Frame = { type?: string; id?: number; chat_id?: number; last_id?: number; complete?: boolean; code?: string };

const count = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);

class Storm {
  readonly anomalies: StormAnomalies = {
    missing: 0,
    duplicates: 0,
    outOfOrder: 0,
    unexpected: 0,
    late: 0,
    badResumed: 0,
    refused: {},
    closes: {},
    unfinished: 0,
    errorFrames: {},
    unexpectedFrames: 0,
  };
  readonly state: Uint8Array;
  readonly openAt: Float64Array;
  readonly doneAt: Float64Array;
  /** Distinct expected messages each socket has got. */
  private readonly got: Uint32Array;
  private readonly lastId: Float64Array;
  /** Which expected messages each socket has got: `behind` flags per socket. */
  private readonly seen: Uint8Array;
  private readonly users: number;
  private readonly pairs: number;
  /** Sockets resumed or failed: the storm is over when it reaches `sockets`. */
  settled = 0;
  messages = 0;
  stopping = false;
  onSettled: () => void = () => {};

  constructor(private readonly job: StormJob) {
    const n = job.sockets;
    this.state = new Uint8Array(n);
    this.openAt = new Float64Array(n).fill(NaN);
    this.doneAt = new Float64Array(n).fill(NaN);
    this.got = new Uint32Array(n);
    this.lastId = new Float64Array(n);
    this.seen = new Uint8Array(n * job.behind);
    this.users = job.tokens.length;
    this.pairs = job.chatIds.length;
  }

  /** The socket's user shares chat `pair` with one other user. */
  private pair(socket: number): number {
    return (socket % this.users) >> 1;
  }

  onOpen(socket: number, ws: WebSocket): void {
    if (this.state[socket] !== State.Connecting) return;
    this.state[socket] = State.Open;
    this.openAt[socket] = performance.now();
    ws.send(`{"type":"resume","after":${this.job.after}}`);
  }

  onFrame(socket: number, data: Buffer): void {
    if (data.length > MESSAGE_HEAD.length && data.compare(MESSAGE_HEAD, 0, MESSAGE_HEAD.length, 0, MESSAGE_HEAD.length) === 0) {
      const idEnd = digitsEnd(data, MESSAGE_HEAD.length);
      const chatAt = idEnd + CHAT_KEY.length;
      if (idEnd > MESSAGE_HEAD.length && chatAt <= data.length && data.compare(CHAT_KEY, 0, CHAT_KEY.length, idEnd, chatAt) === 0) {
        const chatEnd = digitsEnd(data, chatAt);
        return this.onMessage(socket, digitsAt(data, MESSAGE_HEAD.length, idEnd), digitsAt(data, chatAt, chatEnd));
      }
    }
    const frame = JSON.parse(data.toString()) as Frame;
    switch (frame.type) {
      case 'message':
        return this.onMessage(socket, frame.id ?? 0, frame.chat_id ?? 0);
      case 'resumed':
        return this.onResumed(socket, frame);
      case 'error':
        count(this.anomalies.errorFrames, frame.code ?? 'unknown');
        return;
      // A user's first socket is announced to its chat partner's sockets.
      case 'presence':
        return;
      default:
        this.anomalies.unexpectedFrames++;
    }
  }

  private onMessage(socket: number, id: number, chatId: number): void {
    const { job, anomalies } = this;
    if (this.state[socket] !== State.Open) {
      anomalies.late++;
      return;
    }
    const pair = this.pair(socket);
    const round = (id - job.firstId - pair) / this.pairs;
    if (chatId !== job.chatIds[pair] || !Number.isInteger(round) || round < 0 || round >= job.behind) {
      anomalies.unexpected++;
      return;
    }
    const flag = socket * job.behind + round;
    if (this.seen[flag]) {
      anomalies.duplicates++;
      return;
    }
    this.seen[flag] = 1;
    this.got[socket]!++;
    this.messages++;
    if (id < this.lastId[socket]!) anomalies.outOfOrder++;
    else this.lastId[socket] = id;
  }

  private onResumed(socket: number, frame: Frame): void {
    const { job, anomalies } = this;
    if (this.state[socket] !== State.Open) {
      anomalies.unexpectedFrames++;
      return;
    }
    this.state[socket] = State.Resumed;
    this.doneAt[socket] = performance.now();
    anomalies.missing += job.behind - this.got[socket]!;
    const lastExpected = job.behind === 0 ? job.after : job.firstId + this.pair(socket) + (job.behind - 1) * this.pairs;
    if (frame.last_id !== lastExpected || frame.complete !== true) anomalies.badResumed++;
    this.settle();
  }

  /** An upgrade that failed (status or error), counted once per socket. */
  onRefused(socket: number, reason: string): void {
    if (this.state[socket] !== State.Connecting) return;
    this.state[socket] = State.Failed;
    count(this.anomalies.refused, reason);
    this.settle();
  }

  onClose(socket: number, code: number): void {
    if (this.stopping) return;
    const state = this.state[socket];
    if (state === State.Connecting) return this.onRefused(socket, `closed before open (${code})`);
    if (state === State.Failed) return;
    count(this.anomalies.closes, String(code));
    this.state[socket] = State.Failed;
    // A socket closed once caught up was settled already.
    if (state === State.Open) this.settle();
  }

  /** At the time limit: sockets neither resumed nor failed. */
  finish(): void {
    this.stopping = true;
    for (const s of this.state) if (s === State.Connecting || s === State.Open) this.anomalies.unfinished++;
  }

  private settle(): void {
    if (++this.settled === this.job.sockets) this.onSettled();
  }
}

/** Spread over 127.0.0.1–16 as the idle job does: far from the ephemeral port range of any one address. */
const localAddress = (socket: number) => `127.0.0.${1 + (socket % 16)}`;

export async function stormLoad(job: StormJob, mark: (m: Mark) => Promise<void>): Promise<StormResult> {
  const storm = new Storm(job);
  const url = `${job.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  const sockets: WebSocket[] = new Array(job.sockets);
  const settled = new Promise<void>((resolve) => {
    storm.onSettled = resolve;
    if (job.sockets === 0) resolve();
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, job.timeoutMs)));

  // The orchestrator samples the server's CPU as it hears this: told before the storm, not during it.
  await mark('window-start');
  const cpuAtStart = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < job.sockets; i++) {
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${job.tokens[i % job.tokens.length]}` },
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: job.timeoutMs,
      localAddress: localAddress(i),
    });
    sockets[i] = ws;
    ws.on('open', () => storm.onOpen(i, ws));
    ws.on('message', (data: Buffer) => storm.onFrame(i, data));
    ws.on('unexpected-response', (_req, res) => {
      storm.onRefused(i, `status ${res.statusCode}`);
      ws.terminate();
    });
    ws.on('error', (err: NodeJS.ErrnoException) => storm.onRefused(i, err.code ?? err.message));
    ws.on('close', (code: number) => storm.onClose(i, code));
  }
  await Promise.race([settled, timeout]);
  const end = performance.now();
  const used = process.cpuUsage(cpuAtStart);
  clearTimeout(timer);
  storm.finish();
  await mark('window-end');

  const open = new Samples(job.sockets);
  const caughtUp = new Samples(job.sockets);
  const replay = new Samples(job.sockets);
  for (let i = 0; i < job.sockets; i++) {
    if (!Number.isNaN(storm.openAt[i]!)) open.push(storm.openAt[i]! - t0);
    if (Number.isNaN(storm.doneAt[i]!)) continue;
    caughtUp.push(storm.doneAt[i]! - t0);
    replay.push(storm.doneAt[i]! - storm.openAt[i]!);
  }
  const caught = caughtUp.summary();
  await closeAll(sockets);
  return {
    kind: 'storm',
    sockets: job.sockets,
    allCaughtUpMs: caught.count === job.sockets ? caught.max : null,
    durationMs: end - t0,
    open: open.summary(),
    caughtUp: caught,
    replay: replay.summary(),
    messages: storm.messages,
    cpuMs: (used.user + used.system) / 1000,
    anomalies: storm.anomalies,
  };
}
