import path from 'node:path';
import * as f from '../format.js';
import { login, request } from '../http.js';
import { seedChats, seedHistory } from '../seed.js';
import { startTarget, type Target } from '../servers.js';
import { Samples, summarize, type LatencySummary } from '../stats.js';
import type { Context, ScenarioResult } from './context.js';

const WARMUP_REQUESTS = 50;

export interface Timing {
  latency: LatencySummary;
  /** Size of one answer's body. */
  bytes: number;
}

/**
 * Times `count` GETs one after another (a single client: the time of one request, not the
 * server's capacity), after untimed warm-up ones that fill SQLite's page cache and V8's JIT.
 * Every answer must be a 200 that `check` accepts.
 */
async function timeGets(url: string, token: string, count: number, check: (body: unknown) => string | null): Promise<Timing> {
  const samples = new Samples(count);
  let bytes = 0;
  for (let i = 0; i < WARMUP_REQUESTS + count; i++) {
    const res = await request('GET', url, { token });
    if (res.status !== 200) throw new Error(`GET ${new URL(url).pathname} answered ${res.status}: ${res.body.slice(0, 300)}`);
    if (i === 0) {
      const problem = check(JSON.parse(res.body));
      if (problem) throw new Error(`GET ${new URL(url).pathname}${new URL(url).search}: ${problem}`);
    }
    bytes = Buffer.byteLength(res.body);
    if (i >= WARMUP_REQUESTS) samples.push(res.ms);
  }
  return { latency: samples.summary(), bytes };
}

const STARTS_ON_FILLED = 3;

/**
 * Starts the server once on an empty folder so that it migrates, stops it, fills the database
 * with `fill`, then starts it on the filled database (a few times: the start-up figure is the
 * median) and leaves the last one running.
 */
async function serverWith<T>(
  ctx: Context,
  label: string,
  fill: (file: string) => T,
): Promise<{ target: Target; seeded: T; startups: LatencySummary; seedMs: number }> {
  const dataDir = ctx.tempDir(label);
  const first = await startTarget('server', { dataDir });
  await first.proc.stop();
  const t0 = performance.now();
  const seeded = fill(path.join(dataDir, 'chat.db'));
  const seedMs = performance.now() - t0;
  await ctx.quiet('start-up on the filled database');
  const times: number[] = [];
  for (let i = 1; i < STARTS_ON_FILLED; i++) {
    const again = await startTarget('server', { dataDir });
    times.push(again.startupMs);
    await again.proc.stop();
  }
  const target = await startTarget('server', { dataDir });
  times.push(target.startupMs);
  return { target, seeded, startups: summarize(times), seedMs };
}

const isPage = (limit: number) => (body: unknown) =>
  Array.isArray(body) && body.length === limit ? null : `expected an array of ${limit} messages, got ${Array.isArray(body) ? body.length : typeof body}`;

/** `GET /v1/chats/:id/messages` in chats of each size of HISTORY_SIZES, all in one database. */
export async function history(ctx: Context): Promise<ScenarioResult> {
  const { historySizes, historyLimit: limit, requests } = ctx.options;
  const total = historySizes.reduce((a, b) => a + b, 0);
  ctx.log(`history: seeding ${f.int(total)} messages`);
  const { target, seeded, seedMs, startups } = await serverWith(ctx, 'history', (file) => seedHistory(file, 'hist_owner', historySizes));
  try {
    await ctx.quiet('history page times');
    ctx.log(`history: ${requests} pages of ${limit} per chat`);
    const { token } = await login(target.baseUrl, 'hist_owner');
    const perChat = [];
    for (const chat of seeded) {
      const base = `${target.baseUrl}/v1/chats/${chat.chatId}/messages?limit=${limit}`;
      const middle = chat.firstMessageId + Math.floor((chat.lastMessageId - chat.firstMessageId) / 2);
      const newest = await timeGets(base, token, requests, isPage(Math.min(limit, chat.messages)));
      // Seeded ids of a chat are consecutive: `middle - first` messages lie below `middle`.
      const deep = await timeGets(`${base}&before=${middle}`, token, requests, isPage(Math.min(limit, middle - chat.firstMessageId)));
      perChat.push({ ...chat, newest, deep });
    }
    const bySize = [...perChat].sort((a, b) => a.messages - b.messages);
    const smallest = bySize[0]!;
    const largest = bySize[bySize.length - 1]!;
    const rows: f.Row[] = perChat.flatMap((c) => [
      { metric: `history page (limit ${limit}), chat of ${f.int(c.messages)}: newest, p50 / p99 / max ms`, server: f.latency(c.newest.latency) },
      { metric: `history page (limit ${limit}), chat of ${f.int(c.messages)}: middle (before=), p50 / p99 / max ms`, server: f.latency(c.deep.latency) },
    ]);
    if (perChat.length > 1) {
      const r = largest.newest.latency.p50 / smallest.newest.latency.p50;
      const rd = largest.deep.latency.p50 / smallest.deep.latency.p50;
      rows.push({
        metric: `history page p50, ${f.int(largest.messages)} vs ${f.int(smallest.messages)} messages (newest; middle)`,
        server: `${f.ratio(largest.newest.latency.p50, smallest.newest.latency.p50)}; ${f.ratio(largest.deep.latency.p50, smallest.deep.latency.p50)}`,
        target: '≤ 1.5×',
        ok: r <= 1.5 && rd <= 1.5,
      });
    }
    rows.push({
      metric: `start-up to /healthz, database of ${f.int(total)} messages: median / max of ${STARTS_ON_FILLED}, ms`,
      server: `${f.ms(startups.p50)} / ${f.ms(startups.max)}`,
      target: '< 1,000 ms',
      ok: startups.max < 1000,
    });
    return { rows, data: { limit, seedMs, startups, chats: perChat, logErrors: target.proc.errors } };
  } finally {
    await target.proc.stop();
  }
}

/** `GET /v1/chats` for a user in CHATS direct chats, each with a few messages and some unread. */
export async function chats(ctx: Context): Promise<ScenarioResult> {
  const { chatCount, requests } = ctx.options;
  const perChat = 20;
  ctx.log(`chats: seeding ${f.int(chatCount)} chats`);
  const { target, seedMs } = await serverWith(ctx, 'chats', (file) => seedChats(file, 'chats_owner', chatCount, perChat));
  try {
    const { token } = await login(target.baseUrl, 'chats_owner');
    // Each GET /v1/chats of a big list can take a while: fewer of them, bounded by the run's budget.
    const count = Math.min(requests, 100);
    await ctx.quiet('GET /v1/chats times');
    ctx.log(`chats: ${count} × GET /v1/chats`);
    const timing = await timeGets(`${target.baseUrl}/v1/chats`, token, count, (body) =>
      Array.isArray(body) && body.length === chatCount ? null : `expected ${chatCount} chats, got ${Array.isArray(body) ? body.length : typeof body}`,
    );
    const rows: f.Row[] = [
      { metric: `GET /v1/chats, user in ${f.int(chatCount)} chats: p50 / p99 / max ms`, server: f.latency(timing.latency) },
      { metric: `GET /v1/chats, user in ${f.int(chatCount)} chats: answer size, KiB`, server: (timing.bytes / 1024).toFixed(0) },
    ];
    return { rows, data: { chats: chatCount, messagesPerChat: perChat, seedMs, requests: count, timing, logErrors: target.proc.errors } };
  } finally {
    await target.proc.stop();
  }
}

/** Spawn to the first 200 of `/healthz`: on a new (migrating) database, on an existing one, and the baseline. */
export async function startup(ctx: Context): Promise<ScenarioResult> {
  const RUNS = 5;
  await ctx.quiet('start-up times');
  ctx.log(`start-up: ${RUNS} × 3 starts`);
  const measure = async (start: () => Promise<Target>) => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const target = await start();
      times.push(target.startupMs);
      await target.proc.stop();
    }
    return summarize(times);
  };
  let lastDir = '';
  const fresh = await measure(() => startTarget('server', { dataDir: (lastDir = ctx.tempDir('startup')) }));
  const existing = await measure(() => startTarget('server', { dataDir: lastDir }));
  const baseline = await measure(() => startTarget('baseline', { dataDir: ctx.tempDir('startup-baseline') }));
  const row = (label: string, s: LatencySummary): f.Row => ({
    metric: `start-up to /healthz, ${label}: median / max of ${RUNS}, ms`,
    server: `${f.ms(s.p50)} / ${f.ms(s.max)}`,
    baseline: `${f.ms(baseline.p50)} / ${f.ms(baseline.max)}`,
    target: '< 1,000 ms',
    ok: s.max < 1000,
  });
  return { rows: [row('new database', fresh), row('existing database', existing)], data: { runs: RUNS, fresh, existing, baseline } };
}
