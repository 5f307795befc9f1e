import path from 'node:path';
import { runJob } from '../driver.js';
import * as f from '../format.js';
import { login, mapLimit, request } from '../http.js';
import type { StormSize } from '../options.js';
import { openFilesLimit, rssKb, waitQuiet } from '../processes.js';
import type { StormAnomalies, StormJob, StormResult } from '../protocol.js';
import { seedStorm } from '../seed.js';
import { startTarget } from '../servers.js';
import { SAMPLE_MS, ServerWatch, type Watched } from '../storm-watch.js';
import type { Context, ScenarioResult } from './context.js';

/** Messages of each chat that its users have read before the storm: `after` is not the first id. */
const SEEN = 20;
/** The storm itself (upgrades and replays); sockets not caught up by then count as unfinished. */
const STORM_TIMEOUT_MS = 120_000;
/** Open files either process needs besides the sockets (its database, its log, the IPC channel). */
const SPARE_FILES = 200;

interface StormRun extends StormSize, Omit<Watched, 'memory'> {
  users: number;
  socketsPerUser: number;
  seedMs: number;
  loginMs: number;
  /** The restarted server's start-up, spawn to `/healthz`. */
  startupMs: number;
  /** KiB: after the restart, before the storm; then as watched (storm-watch.ts). */
  memory: Watched['memory'] & { beforeKb: number };
  result: StormResult;
  logWarnings: number;
  logErrors: number;
  logTail?: string[];
  exit: { code: number | null; signal: string | null };
}

/** Both processes hold a file per socket: a limit too low would show as refused sockets, not as the server's figure. */
function checkFileLimit(what: string, limit: number, sockets: number): void {
  if (limit < sockets + SPARE_FILES) {
    throw new Error(`storm: ${f.int(sockets)} sockets need about ${f.int(sockets + SPARE_FILES)} open files, and the ${what} may have ${limit} (raise the hard limit: ulimit -Hn)`);
  }
}

/**
 * One storm: a fresh database seeded with the users and their unread messages, the server started
 * once to log everyone in, then restarted, so that the storm meets a process that has served
 * nothing (its tokens outlive the restart: the secret is the bench run's). The OS still has the
 * database file in its cache, as it would after a restart of the server alone.
 */
async function stormRun(ctx: Context, size: StormSize): Promise<StormRun> {
  const { stormSocketsPerUser } = ctx.options;
  const users = Math.ceil(size.sockets / stormSocketsPerUser);
  const about = `storm of ${f.int(size.sockets)} sockets (${f.int(users)} users) × ${f.int(size.behind)} behind`;
  const dataDir = ctx.tempDir(`storm-${size.sockets}x${size.behind}`);
  const file = path.join(dataDir, 'chat.db');

  ctx.log(`${about}: seeding ${f.int(Math.ceil(users / 2) * (SEEN + size.behind))} messages`);
  const migrate = await startTarget('server', { dataDir });
  await migrate.proc.stop();
  const t0 = performance.now();
  const seeded = seedStorm(file, 's_', Math.ceil(users / 2), SEEN, size.behind);
  const seedMs = performance.now() - t0;

  const first = await startTarget('server', { dataDir });
  const t1 = performance.now();
  let tokens: string[];
  try {
    tokens = await mapLimit(seeded.usernames.slice(0, users), 16, async (name) => (await login(first.baseUrl, name)).token);
  } finally {
    await first.proc.stop();
  }
  const loginMs = performance.now() - t1;

  await ctx.quiet(`the ${about}`);
  const target = await startTarget('server', { dataDir });
  try {
    const pid = target.proc.pid;
    checkFileLimit('server', openFilesLimit(pid), size.sockets);
    // Schemas not used yet compile once the server listens (one per turn): done before the storm.
    await waitQuiet(pid, 10_000);
    // The health checks' kept-alive connection is made now, not in the storm's queue of connections.
    await request('GET', `${target.baseUrl}/healthz`);
    const beforeKb = rssKb(pid);
    ctx.log(`${about}: storm (server RSS ${f.int(beforeKb / 1024)} MiB)`);

    const watch = new ServerWatch(pid, target.baseUrl, STORM_TIMEOUT_MS);
    const job: StormJob = {
      kind: 'storm',
      baseUrl: target.baseUrl,
      tokens,
      sockets: size.sockets,
      chatIds: seeded.chatIds,
      after: seeded.after,
      firstId: seeded.firstId,
      behind: size.behind,
      timeoutMs: STORM_TIMEOUT_MS,
    };
    let result: StormResult;
    try {
      result = await Promise.race([runJob(job, STORM_TIMEOUT_MS + 60_000, { onMark: watch.onMark }), target.proc.died()]);
    } finally {
      watch.stop();
    }
    const watched = await watch.result(result);
    if (!watched) throw new Error('the storm ended without marking its start and end');
    await target.proc.stop();
    const { warnings, errors, tail } = target.proc;
    return {
      ...size,
      users,
      socketsPerUser: stormSocketsPerUser,
      seedMs,
      loginMs,
      startupMs: target.startupMs,
      ...watched,
      memory: { beforeKb, ...watched.memory },
      result,
      logWarnings: warnings,
      logErrors: errors,
      logTail: warnings + errors > 0 ? tail : undefined,
      exit: await target.proc.exited,
    };
  } finally {
    await target.proc.stop();
  }
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((n, v) => n + v, 0);

/** Everything a storm counted as wrong; all must be zero. */
function anomalyCells(run: StormRun): { messages: string; sockets: string; total: number } {
  const a: StormAnomalies = run.result.anomalies;
  const messages = [a.missing, a.duplicates, a.outOfOrder, a.unexpected + a.late];
  // Errors: error frames, frames of no known type, error lines in the server's log, and a server that did not stop cleanly.
  const errors = sum(a.errorFrames) + a.unexpectedFrames + run.logErrors + (run.exit.code === 0 ? 0 : 1);
  const sockets = [sum(a.refused), sum(a.closes), a.unfinished, a.badResumed, errors];
  return { messages: messages.join(' / '), sockets: sockets.join(' / '), total: [...messages, ...sockets].reduce((n, v) => n + v, 0) };
}

const mib = (kb: number) => (kb / 1024).toFixed(0);
const seconds = (ms: number | null) => (ms === null ? '–' : (ms / 1000).toFixed(2));

function rows(run: StormRun): f.Row[] {
  const r = run.result;
  const m = run.memory;
  const label = `storm, ${f.int(run.sockets)} sockets (${f.int(run.users)} users × ${run.socketsPerUser}) × ${f.int(run.behind)} behind`;
  const cells = anomalyCells(run);
  const replayed = run.sockets * run.behind;
  return [
    {
      metric: `${label}: all caught up, s; messages replayed per s`,
      server: `${seconds(r.allCaughtUpMs)}; ${r.allCaughtUpMs === null ? '–' : f.int(replayed / (r.allCaughtUpMs / 1000))}`,
    },
    { metric: `${label}: each socket, storm start to its resumed, p50 / p99 / max, ms`, server: f.latency(r.caughtUp) },
    { metric: `${label}: each socket, storm start to open (upgrade answered), p50 / p99 / max, ms`, server: f.latency(r.open) },
    { metric: `${label}: each socket, open to resumed (its replay), p50 / p99 / max, ms`, server: f.latency(r.replay) },
    {
      metric: `${label}: GET /healthz during the storm, one at a time, p50 / p99 / max, ms`,
      server: f.latency(run.health.latency) + (run.health.failed > 0 ? ` (${run.health.failed} failed)` : ''),
    },
    {
      metric: `${label}: connections the kernel dropped (accept queue full) / handshakes sent again, whole machine`,
      server: `${f.int(run.tcp.listenOverflows)} / ${f.int(run.tcp.synRetransmits)}`,
    },
    {
      metric: `${label}: server RSS before / at the end / peak (${SAMPLE_MS} ms samples) / VmHWM, MiB`,
      server: `${mib(m.beforeKb)} / ${mib(m.endKb)} / ${mib(m.peakSampledKb)} / ${mib(m.hwmKb)}`,
    },
    {
      metric: `${label}: CPU % of a core, server / generator / other processes`,
      server: `${run.cpu.server.toFixed(0)} / ${run.cpu.generator.toFixed(0)} / ${run.cpu.other.toFixed(0)}`,
      target: 'other < 10',
      ok: run.cpu.other < 10,
    },
    {
      metric: `${label}: messages missing / duplicated / out of order / not expected; sockets refused / closed / unfinished / wrong resumed, errors`,
      server: `${cells.messages}; ${cells.sockets}`,
      target: '0',
      ok: cells.total === 0,
    },
  ];
}

/** How time and memory grow from one size to the next: per replayed message, per socket. */
function scalingRows(runs: readonly StormRun[]): f.Row[] {
  if (runs.length < 2) return [];
  const sizes = runs.map((r) => `${f.int(r.sockets)}×${f.int(r.behind)}`).join(', ');
  const each = (figure: (r: StormRun) => string) => runs.map(figure).join(' / ');
  return [
    {
      metric: `storm, each size (${sizes}): µs of the storm per replayed message`,
      server: each((r) => (r.behind > 0 && r.result.allCaughtUpMs !== null ? ((1000 * r.result.allCaughtUpMs) / (r.sockets * r.behind)).toFixed(1) : '–')),
    },
    {
      metric: `storm, each size (${sizes}): server CPU per replayed message, µs`,
      server: each((r) => (r.behind > 0 ? ((1000 * r.cpu.serverMs) / (r.sockets * r.behind)).toFixed(1) : '–')),
    },
    {
      metric: `storm, each size (${sizes}): peak RSS over the RSS before, per socket, KiB`,
      server: each((r) => ((r.memory.hwmKb - r.memory.beforeKb) / r.sockets).toFixed(1)),
    },
  ];
}

/**
 * Reconnect storm: after a restart, STORM_SOCKETS sockets reconnect at once and each resumes
 * STORM_BEHIND messages behind, for each size of STORM_SIZES (by default a sweep over sockets and
 * over messages behind, to see whether time and memory grow with sockets × messages or faster).
 * Users hold STORM_SOCKETS_PER_USER sockets each (10: phones, laptops and tabs), so that 5,000
 * sockets are 500 users, 250 direct chats and 55,000 messages, seeded in well under a second, and
 * each message is replayed to 20 sockets, as a user's devices all catch up at once. Every two users
 * share a direct chat and are behind in it only, by messages spread among everyone else's: a
 * replay has to find a user's messages among all those after its `after`, as after a real outage
 * (messages of one chat lying next to each other would hide a query that walks them all).
 *
 * It measures the time until every socket has its `resumed`, each socket's time, the server's
 * memory before and at its peak, and checks that each socket got exactly its messages, each once,
 * in id order. No baseline: a bare server would have to store and replay history to compare, and
 * that is the server's work here, not a few lines of `ws`.
 */
export async function storm(ctx: Context): Promise<ScenarioResult> {
  const { stormSizes } = ctx.options;
  const largest = Math.max(...stormSizes.map((s) => s.sockets));
  checkFileLimit('bench (and its load generator)', openFilesLimit('self'), largest);
  const runs: StormRun[] = [];
  for (const size of stormSizes) runs.push(await stormRun(ctx, size));
  return {
    rows: [...runs.flatMap(rows), ...scalingRows(runs)],
    data: { seen: SEEN, timeoutMs: STORM_TIMEOUT_MS, sampleMs: SAMPLE_MS, runs },
  };
}
