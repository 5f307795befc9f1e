import type WebSocket from 'ws';
import * as f from '../format.js';
import { initiate, json, login, request, type Session } from '../http.js';
import { closeAll, CONTENT, openSocket, sleep } from '../sockets.js';
import { startTarget } from '../servers.js';
import { Samples, type LatencySummary } from '../stats.js';
import type { Context, ScenarioResult } from './context.js';

/** Accounts whose passwords change in turn. */
const CHANGERS = 4;
/**
 * Each change sets the same password again: it costs what any change costs (the current password
 * checked, the new one hashed), and changes of one account may overlap, as an open loop needs.
 */
const PASSWORD = 'bench password';
/** Past this many changes unanswered, the next ones are skipped (an old server may never catch up). */
const MAX_IN_FLIGHT = 256;

/** Resolves with a send's echo on the sender's socket (stored and flushed), rejects on its error frame. */
function echoes(ws: WebSocket): (clientId: string) => Promise<void> {
  const waiting = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { type: string; client_id?: string | null; code?: string };
    const waiter = frame.client_id == null ? undefined : waiting.get(frame.client_id);
    if (!waiter) return;
    waiting.delete(frame.client_id!);
    if (frame.type === 'message') waiter.resolve();
    else waiter.reject(new Error(`send refused: ${frame.code}`));
  });
  return (clientId) => new Promise((resolve, reject) => waiting.set(clientId, { resolve, reject }));
}

/** One user's sends, one at a time, each timed from the frame sent to its echo. */
async function timeSends(ws: WebSocket, echoed: (clientId: string) => Promise<void>, chatId: number, ms: number): Promise<LatencySummary> {
  const samples = new Samples(1 << 12);
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const clientId = `pw${Math.random().toString(36).slice(2)}`;
    const started = performance.now();
    const echo = echoed(clientId);
    ws.send(JSON.stringify({ chat_id: chatId, content: CONTENT, client_id: clientId }));
    await echo;
    samples.push(performance.now() - started);
  }
  return samples.summary();
}

/** `PUT /v1/me/password` at `rate` a second (open loop), the accounts in turn; `stop()` waits for those in flight. */
function changePasswords(base: string, tokens: string[], rate: number) {
  const counts = { sent: 0, changed: 0, refused: 0, other: 0, skipped: 0 };
  const changed = new Samples(1 << 10);
  const inFlight = new Set<Promise<void>>();
  const change = async (token: string) => {
    counts.sent++;
    try {
      const res = await request('PUT', `${base}/v1/me/password`, { token, body: { password: PASSWORD, current_password: PASSWORD } });
      if (res.status === 204) {
        counts.changed++;
        changed.push(res.ms);
      } else if (res.status === 503 || res.status === 429) counts.refused++;
      else counts.other++;
    } catch {
      counts.other++;
    }
  };
  const timer = setInterval(() => {
    if (inFlight.size >= MAX_IN_FLIGHT) return void counts.skipped++;
    const done = change(tokens[counts.sent % tokens.length]!).finally(() => inFlight.delete(done));
    inFlight.add(done);
  }, 1000 / rate);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { ...counts, latency: changed.summary() };
    },
  };
}

/**
 * Another user's sends while passwords change: each change is two scrypt derivations (the current
 * password's, the new one's) of ~140 ms of CPU each, and each send waits for a WAL flush that runs
 * on libuv's thread pool. The sends are timed with no password traffic, under PASSWORD_RATE changes
 * a second, then with none again; the ratios compare windows of the same server.
 */
export async function passwords(ctx: Context): Promise<ScenarioResult> {
  const { durationS, warmupS, passwordRate: rate } = ctx.options;
  const target = await startTarget('server', { dataDir: ctx.tempDir('passwords') });
  const sockets: WebSocket[] = [];
  try {
    const base = target.baseUrl;
    const sender = await login(base, 'pw_sender');
    const peer = await login(base, 'pw_peer');
    const { chat_id: chatId } = await initiate(base, sender.token, 'pw_peer');
    const tokens: string[] = [];
    for (let i = 0; i < CHANGERS; i++) {
      tokens.push((await json<Session>('POST', `${base}/v1/register`, { body: { username: `pw_user${i}`, password: PASSWORD } })).token);
    }
    const ws = await openSocket(base, sender.token);
    // The peer holds a socket: each send is delivered as well as stored.
    sockets.push(ws, await openSocket(base, peer.token));
    const echoed = echoes(ws);

    await ctx.quiet('the passwords run');
    ctx.log(`passwords: sends alone, then under ${rate} password changes/s, then alone again (${durationS} s each)`);
    await timeSends(ws, echoed, chatId, warmupS * 1000);
    const before = await timeSends(ws, echoed, chatId, durationS * 1000);
    const stream = changePasswords(base, tokens, rate);
    // The password queue fills first: the window measures the steady state.
    await sleep(warmupS * 1000);
    const during = await timeSends(ws, echoed, chatId, durationS * 1000);
    const changes = await stream.stop();
    const after = await timeSends(ws, echoed, chatId, durationS * 1000);

    const rows: f.Row[] = [
      { metric: 'send with no password traffic, p50 / p99 / max ms', server: f.latency(before) },
      {
        metric: `send under ${rate} password changes/s, p50 / p99 / max ms (ratio: p50; p99 to no traffic)`,
        server: f.latency(during),
        ratio: `${f.ratio(during.p50, before.p50)}; ${f.ratio(during.p99, before.p99)}`,
      },
      { metric: 'send with no password traffic again, p50 / p99 / max ms', server: f.latency(after) },
      {
        metric: `password changes: sent / changed / refused (503, 429) / other / skipped (${MAX_IN_FLIGHT} in flight)`,
        server: [changes.sent, changes.changed, changes.refused, changes.other, changes.skipped].join(' / '),
      },
      { metric: 'password change (204), p50 / p99 / max ms', server: f.latency(changes.latency) },
    ];
    return { rows, data: { rate, changers: CHANGERS, before, during, after, changes, logErrors: target.proc.errors } };
  } finally {
    await closeAll(sockets);
    await target.proc.stop();
  }
}
