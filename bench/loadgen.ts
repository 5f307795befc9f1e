/**
 * The load generator: a process of its own, so that its CPU is not the server's and a crash of
 * either is seen by the orchestrator. It runs one job, sent over the IPC channel, and reports back.
 */
import WebSocket from 'ws';
import { closeHttpAgent, initiate, login, mapLimit, type Session } from './http.js';
import { noAnomalies, type Anomalies, type ClosedLoopJob, type FromLoadgen, type IdleJob, type IdleResult, type Job, type LoadResult, type OpenLoopJob, type StormResult, type ToLoadgen } from './protocol.js';
import { roomLoad } from './room-load.js';
import { closeAll, CONTENT, DRAIN_TIMEOUT_MS, openSocket, sleep } from './sockets.js';
import { stormLoad } from './storm-load.js';
import { Samples } from './stats.js';
import { loadResult, MeasuredWindow, onClock, type Mark } from './timing.js';

interface Client {
  index: number;
  userId: number;
  chatId: number;
  ws: WebSocket;
  peer: Client;
  /** `<prefix><index>.`: the client_id of send number n is this plus n, unique per sender. */
  cidPrefix: string;
  /** Sends so far; also the last sequence number used. */
  seq: number;
  /** Sequence number → send time, for sends not echoed yet. */
  inflight: Map<number, number>;
  /** Sends the server refused with an error frame (they are neither echoed nor delivered). */
  refused: number;
  /** Messages from the peer received on this socket. */
  received: number;
  lastPeerSeq: number;
  lastMessageId: number;
}

type MessageFrame = { type: 'message'; id: number; sender_id: number; client_id: string | null };
type ErrorFrame = { type: 'error'; code: string; client_id?: string };

class Run {
  readonly latency = new Samples(1 << 20);
  readonly lag = new Samples(1 << 16);
  readonly anomalies: Anomalies = noAnomalies();
  readonly window = new MeasuredWindow(mark);
  sends = 0;
  deliveries = 0;
  stopping = false;
  /** Closed loop: each echo (or refusal) lets the next send go. */
  onSendDone: ((c: Client) => void) | null = null;
  /** Open loop counts latency by send time (every send of the window); closed loop by echo time. */
  latencyBySendTime = false;

  send(c: Client): void {
    const seq = ++c.seq;
    c.inflight.set(seq, performance.now());
    // Built by hand: the generator's CPU is shared with the server, and the fields are fixed.
    c.ws.send(`{"chat_id":${c.chatId},"content":"${CONTENT}","client_id":"${c.cidPrefix}${seq}"}`);
  }

  onFrame(c: Client, raw: string): void {
    const now = performance.now();
    const frame = JSON.parse(raw) as { type?: string };
    if (frame.type === 'message') return this.onMessage(c, frame as MessageFrame, now);
    if (frame.type === 'error') return this.onError(c, frame as ErrorFrame);
    // Presence (sockets coming and going) and chat events are expected; anything else is not.
    if (frame.type !== 'presence' && frame.type !== 'chat') this.anomalies.unexpectedFrames++;
  }

  private onMessage(c: Client, m: MessageFrame, now: number): void {
    // One chat per socket: ids must only grow on it.
    if (m.id <= c.lastMessageId) this.anomalies.outOfOrder++;
    else c.lastMessageId = m.id;
    const seq = seqOf(m.client_id);
    if (m.sender_id === c.userId) {
      const sentAt = c.inflight.get(seq);
      if (sentAt === undefined) {
        this.anomalies.duplicates++;
        return;
      }
      c.inflight.delete(seq);
      if (this.window.has(now)) this.sends++;
      if (this.window.has(this.latencyBySendTime ? sentAt : now)) this.latency.push(now - sentAt);
      this.onSendDone?.(c);
    } else if (m.sender_id === c.peer.userId) {
      if (seq <= c.lastPeerSeq) this.anomalies.duplicates++;
      else c.lastPeerSeq = seq;
      c.received++;
      if (this.window.has(now)) this.deliveries++;
    } else {
      this.anomalies.unexpectedFrames++;
    }
  }

  private onError(c: Client, e: ErrorFrame): void {
    this.anomalies.errorFrames[e.code] = (this.anomalies.errorFrames[e.code] ?? 0) + 1;
    if (e.client_id === undefined) return;
    if (c.inflight.delete(seqOf(e.client_id))) {
      c.refused++;
      this.onSendDone?.(c);
    }
  }

  onClose(code: number): void {
    if (this.stopping) return;
    this.anomalies.closes[code] = (this.anomalies.closes[code] ?? 0) + 1;
  }

  /** Every send echoed to its sender and delivered to the peer (refused ones aside). */
  settled(clients: readonly Client[]): boolean {
    return clients.every((c) => c.inflight.size === 0 && c.peer.received >= c.seq - c.refused);
  }

  finish(clients: readonly Client[]): void {
    for (const c of clients) {
      this.anomalies.lostEchoes += c.inflight.size;
      this.anomalies.lostDeliveries += Math.max(0, c.seq - c.refused - c.peer.received);
    }
  }
}

function seqOf(clientId: string | null): number {
  if (clientId === null) return -1;
  return Number(clientId.slice(clientId.lastIndexOf('.') + 1));
}

/** Logs the pairs in, starts their chats and opens one socket per user. */
async function setupPairs(job: ClosedLoopJob | OpenLoopJob, run: Run): Promise<Client[]> {
  const names = Array.from({ length: job.pairs * 2 }, (_, i) => `${job.prefix}${i % 2 === 0 ? 'a' : 'b'}${i >> 1}`);
  const sessions = await mapLimit(names, 16, (name) => login(job.baseUrl, name));
  const chatIds = await mapLimit(
    Array.from({ length: job.pairs }, (_, p) => p),
    16,
    async (p) => (await initiate(job.baseUrl, sessions[2 * p]!.token, sessions[2 * p + 1]!.user.username)).chat_id,
  );
  const sockets = await mapLimit(sessions, 32, (s: Session) => openSocket(job.baseUrl, s.token));
  const clients = sessions.map(
    (s, i): Client => ({
      index: i,
      userId: s.user.id,
      chatId: chatIds[i >> 1]!,
      ws: sockets[i]!,
      peer: undefined as unknown as Client,
      cidPrefix: `${job.prefix}${i}.`,
      seq: 0,
      inflight: new Map(),
      refused: 0,
      received: 0,
      lastPeerSeq: 0,
      lastMessageId: 0,
    }),
  );
  for (const c of clients) {
    c.peer = clients[c.index ^ 1]!;
    c.ws.on('message', (data: Buffer) => run.onFrame(c, data.toString()));
    c.ws.on('close', (code: number) => run.onClose(code));
    c.ws.on('error', () => {});
  }
  // Presence announcements of all those new sockets settle before the clock starts.
  await sleep(500);
  return clients;
}

async function drainAndClose(run: Run, clients: Client[]): Promise<void> {
  run.stopping = true;
  const deadline = performance.now() + DRAIN_TIMEOUT_MS;
  while (!run.settled(clients) && performance.now() < deadline && clients.some((c) => c.ws.readyState === WebSocket.OPEN)) {
    await sleep(20);
  }
  run.finish(clients);
  await closeAll(clients.map((c) => c.ws));
}

function pairsResult(job: ClosedLoopJob | OpenLoopJob, run: Run, clients: Client[], setupMs: number): LoadResult {
  const totalSent = clients.reduce((n, c) => n + c.seq, 0);
  return loadResult(job.kind, run, { setupMs, durationMs: job.durationMs, onClock: job.kind === 'open', totalSent });
}

async function closedLoop(job: ClosedLoopJob): Promise<LoadResult> {
  const run = new Run();
  const t0 = performance.now();
  const clients = await setupPairs(job, run);
  const setupMs = performance.now() - t0;

  run.onSendDone = (c) => {
    if (!run.stopping && c.ws.readyState === WebSocket.OPEN) run.send(c);
  };
  run.window.schedule(job.warmupMs, job.durationMs);
  for (const c of clients) for (let i = 0; i < job.window; i++) run.send(c);
  await sleep(job.warmupMs + job.durationMs);
  await drainAndClose(run, clients);
  return pairsResult(job, run, clients, setupMs);
}

async function openLoop(job: OpenLoopJob): Promise<LoadResult> {
  const run = new Run();
  run.latencyBySendTime = true;
  const t0 = performance.now();
  const clients = await setupPairs(job, run);
  const setupMs = performance.now() - t0;

  run.window.schedule(job.warmupMs, job.durationMs);
  await onClock(job.rate, job.warmupMs + job.durationMs, (i, scheduled, now) => {
    if (run.window.has(scheduled)) run.lag.push(now - scheduled);
    const c = clients[i % clients.length]!;
    if (c.ws.readyState === WebSocket.OPEN) run.send(c);
  });
  await drainAndClose(run, clients);
  return pairsResult(job, run, clients, setupMs);
}

async function idle(job: IdleJob, step: (s: 'logged-in' | 'holding', detail: Record<string, number>) => Promise<void>): Promise<IdleResult> {
  const users = Math.ceil(job.sockets / job.socketsPerUser);
  const t0 = performance.now();
  const sessions = await mapLimit(
    Array.from({ length: users }, (_, i) => `${job.prefix}${i}`),
    32,
    (name) => login(job.baseUrl, name),
  );
  await step('logged-in', { users, loginMs: performance.now() - t0 });

  const closes: Record<string, number> = {};
  let holding = true;
  let failed = 0;
  const t1 = performance.now();
  const opened = await mapLimit(Array.from({ length: job.sockets }, (_, i) => i), 64, async (i) => {
    try {
      // Source addresses spread over 127.0.0.1–16: far from the ephemeral port range of any one address.
      const ws = await openSocket(job.baseUrl, sessions[i % users]!.token, `127.0.0.${1 + (i % 16)}`);
      ws.on('close', (code: number) => {
        if (holding) closes[code] = (closes[code] ?? 0) + 1;
      });
      ws.on('error', () => {});
      return ws;
    } catch {
      failed++;
      return null;
    }
  });
  const sockets = opened.filter((ws): ws is WebSocket => ws !== null);
  const openMs = performance.now() - t1;
  await step('holding', { opened: sockets.length, failed, openMs });
  holding = false;
  await closeAll(sockets);
  return { kind: 'idle', users, opened: sockets.length, failed, openMs, closes };
}

/** Resolves once the message is handed to the channel, so that a disconnect right after loses nothing. */
function send(message: FromLoadgen): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

function mark(m: Mark): void {
  void send({ type: 'mark', mark: m });
}

/** Waits for the orchestrator's `continue`, which it sends once it has read the server's memory. */
function waitContinue(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: ToLoadgen) => {
      if (m.type !== 'continue') return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
  });
}

async function runJob(job: Job): Promise<LoadResult | IdleResult | StormResult> {
  switch (job.kind) {
    case 'closed':
      return closedLoop(job);
    case 'open':
      return openLoop(job);
    case 'room':
      return roomLoad(job, mark);
    case 'storm':
      // Awaited: the storm starts once the orchestrator has been told (it samples CPU then).
      return stormLoad(job, (m) => send({ type: 'mark', mark: m }));
    case 'idle':
      return idle(job, async (step, detail) => {
        const next = waitContinue();
        await send({ type: 'step', step, detail });
        await next;
      });
  }
}

if (!process.send) {
  console.error('loadgen.js is started by the benchmark (bench/run.ts) with an IPC channel');
  process.exit(2);
}
// The orchestrator going away (crash, Ctrl-C) ends the generator too.
process.on('disconnect', () => process.exit(0));
process.once('message', (m: ToLoadgen) => {
  if (m.type !== 'run') return;
  runJob(m.job)
    .then(
      (result) => send({ type: 'done', result }),
      (err: unknown) => send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    )
    .finally(() => {
      closeHttpAgent();
      process.disconnect();
    });
});
