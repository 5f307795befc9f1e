import SQLite from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runJob } from '../driver.js';
import * as f from '../format.js';
import type { Anomalies, LoadJob, LoadResult, TimedJob } from '../protocol.js';
import { cpuTicks, machineTicks } from '../processes.js';
import { startTarget, type TargetKind } from '../servers.js';
import { summarizeProfile, newestProfile, type ProfileSummary } from '../profile.js';
import type { Context, ScenarioResult } from './context.js';

/** CPU use during the measured window, in % of one core (the machine has `cores` of them). */
export interface WindowCpu {
  target: number;
  loadgen: number;
  /** Everything else on the machine: a figure above a few % means the run was disturbed. */
  other: number;
  cores: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface TargetRun {
  result: LoadResult;
  cpu: WindowCpu | undefined;
  startupMs: number;
  /** pino lines at warn / error level or above that the target logged during the run. */
  logWarnings: number;
  logErrors: number;
  /** The target's last log lines, kept when it logged warnings or errors. */
  logTail?: string[];
  exit: { code: number | null; signal: string | null };
  /** Server and durable baseline: messages in the database after it stopped; every confirmed send must be there, once. */
  storedMessages?: number;
}

/** Rows of the messages table, read once the server has stopped and closed the file. */
function countStored(dataDir: string): number {
  const db = new SQLite(path.join(dataDir, 'chat.db'), { readonly: true });
  try {
    return (db.prepare('select count(*) as n from messages').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** A kind of load run: `name` labels its folders and log lines, `job` is its job against one target. */
export interface LoadSpec {
  name: string;
  job: (timed: TimedJob) => LoadJob;
}

/** Starts the target, runs one load job against it, stops it (gracefully: a profile is written on exit). */
async function loadTarget(ctx: Context, kind: TargetKind, spec: LoadSpec, nodeArgs: string[] = []): Promise<TargetRun> {
  const { options } = ctx;
  await ctx.quiet(`the ${spec.name} run of the ${kind}`);
  const dataDir = ctx.tempDir(`${spec.name}-${kind}`);
  const target = await startTarget(kind, { dataDir, nodeArgs });
  try {
    const timed: TimedJob = {
      baseUrl: target.baseUrl,
      prefix: `${spec.name[0]}${kind[0]}_`,
      warmupMs: options.warmupS * 1000,
      durationMs: options.durationS * 1000,
    };
    // Setup, warm-up, the measured window and the drain, with room to spare.
    const bound = 120_000 + (options.warmupS + options.durationS) * 1000;
    // CPU of the target and of the whole machine, sampled as the window opens and closes.
    let atStart: { target: number; machine: ReturnType<typeof machineTicks>; at: number } | undefined;
    let window: { target: number; busy: number; total: number; ms: number } | undefined;
    const onMark = (mark: 'window-start' | 'window-end') => {
      const sample = { target: cpuTicks(target.proc.pid), machine: machineTicks(), at: performance.now() };
      if (mark === 'window-start') atStart = sample;
      else if (atStart) {
        window = {
          target: sample.target - atStart.target,
          busy: sample.machine.busy - atStart.machine.busy,
          total: sample.machine.total - atStart.machine.total,
          ms: sample.at - atStart.at,
        };
      }
    };
    const result = await Promise.race([runJob(spec.job(timed), bound, { onMark }), target.proc.died()]);
    let cpu: WindowCpu | undefined;
    if (window) {
      const pct = (ms: number) => (100 * ms) / window!.ms;
      const cores = os.cpus().length;
      const targetPct = pct(window.target * TICK_MS);
      const loadgenPct = pct(result.cpuMs);
      const machinePct = (100 * cores * window.busy) / Math.max(window.total, 1);
      cpu = { target: targetPct, loadgen: loadgenPct, other: Math.max(0, machinePct - targetPct - loadgenPct), cores };
    }
    await target.proc.stop();
    const exit = await target.proc.exited;
    const { warnings, errors, tail } = target.proc;
    const storedMessages = kind === 'baseline' ? undefined : countStored(dataDir);
    return {
      result,
      cpu,
      startupMs: target.startupMs,
      logWarnings: warnings,
      logErrors: errors,
      logTail: warnings + errors > 0 ? tail : undefined,
      exit,
      storedMessages,
    };
  } finally {
    await target.proc.stop();
  }
}

/** A run of the server and one of the baseline (and of the durable one), right after each other. */
export interface Round {
  server: TargetRun;
  baseline: TargetRun;
  durable?: TargetRun;
}

const runsOf = (r: Round) => [r.server, r.baseline, ...(r.durable ? [r.durable] : [])];

export function cpuRow(label: string, rounds: readonly Round[], shown: Round): f.Row {
  const describe = (c: WindowCpu | undefined) => (c ? `${c.target.toFixed(0)} / ${c.loadgen.toFixed(0)} / ${c.other.toFixed(0)}` : '–');
  // Other processes' CPU distorts every figure of the run: flagged rather than hidden.
  const quiet = (c: WindowCpu | undefined) => c !== undefined && c.other < 10;
  return {
    metric: `${label}: CPU % of a core, target / generator / other processes`,
    server: describe(shown.server.cpu),
    baseline: describe(shown.baseline.cpu),
    target: 'other < 10',
    ok: rounds.every((r) => runsOf(r).every((run) => quiet(run.cpu))),
  };
}

function anomalyCount(a: Anomalies): number {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((n, v) => n + v, 0);
  return sum(a.errorFrames) + a.lostEchoes + a.lostDeliveries + a.duplicates + a.outOfOrder + sum(a.closes) + a.unexpectedFrames;
}

/** Sends the server confirmed (echoed) that are not in its database, or are there twice. */
function storeMismatch(run: TargetRun): number {
  if (run.storedMessages === undefined) return 0;
  const a = run.result.anomalies;
  const refused = Object.values(a.errorFrames).reduce((n, v) => n + v, 0);
  return Math.abs(run.storedMessages - (run.result.totalSent - refused));
}

/** Every round counts: one lost message in any of them is one too many. */
export function anomalyRow(label: string, rounds: readonly Round[]): f.Row {
  const count = (run: TargetRun) => anomalyCount(run.result.anomalies) + run.logErrors + storeMismatch(run) + (run.exit.code === 0 ? 0 : 1);
  const total = (side: 'server' | 'baseline' | 'durable') => rounds.reduce((n, r) => n + (r[side] ? count(r[side]) : 0), 0);
  const describe = (n: number) => (n === 0 ? '0' : `${n} (see JSON)`);
  const durable = rounds.some((r) => r.durable) ? ` / ${describe(total('durable'))}` : '';
  return {
    metric: `${label}: errors, lost, duplicated, reordered, unstored${durable ? ' (baselines: bare / durable)' : ''}`,
    server: describe(total('server')),
    baseline: describe(total('baseline')) + durable,
    target: '0',
    ok: total('server') === 0,
  };
}

/** The server's load run, under `--cpu-prof` when PROFILE is set; the profile is summarized. */
async function loadServer(ctx: Context, spec: LoadSpec): Promise<{ server: TargetRun; profile?: ProfileSummary }> {
  const { options } = ctx;
  if (!options.profile) return { server: await loadTarget(ctx, 'server', spec) };
  const dir = path.join(options.profileDir, spec.name);
  mkdirSync(dir, { recursive: true });
  const since = Date.now();
  const server = await loadTarget(ctx, 'server', spec, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  // Written by the server as it exits, which loadTarget waited for.
  const file = newestProfile(dir, since);
  if (!file) ctx.log(`warning: no profile was written in ${dir}`);
  return { server, profile: file ? summarizeProfile(file) : undefined };
}

/**
 * `count` pairs of load runs, server first, with a durable baseline run in each when `durable`;
 * only the first server run is profiled.
 */
export async function loadRounds(
  ctx: Context,
  spec: LoadSpec,
  name: string,
  { count, durable }: { count: number; durable: boolean },
): Promise<{ rounds: Round[]; profile?: ProfileSummary }> {
  const rounds: Round[] = [];
  let profile: ProfileSummary | undefined;
  for (let i = 0; i < count; i++) {
    const tag = count > 1 ? ` (round ${i + 1} of ${count})` : '';
    ctx.log(`${name}: server${tag}`);
    const run = i === 0 ? await loadServer(ctx, spec) : { server: await loadTarget(ctx, 'server', spec) };
    profile ??= run.profile;
    ctx.log(`${name}: baseline${tag}`);
    const baseline = await loadTarget(ctx, 'baseline', spec);
    if (durable) ctx.log(`${name}: durable baseline${tag}`);
    const durableRun = durable ? await loadTarget(ctx, 'durable', spec) : undefined;
    rounds.push({ server: run.server, baseline, durable: durableRun });
  }
  return { rounds, profile };
}

/** The round with the median `figure` (of two middle ones, the lower). */
export function medianRound(rounds: readonly Round[], figure: (r: Round) => number): Round {
  return [...rounds].sort((a, b) => figure(a) - figure(b))[Math.floor((rounds.length - 1) / 2)]!;
}

/** With several rounds, one row of each round's figures, in the order they ran. */
export function eachRoundRow(metric: string, rounds: readonly Round[], cells: (r: Round) => Pick<f.Row, 'server' | 'baseline' | 'ratio'>): f.Row[] {
  if (rounds.length < 2) return [];
  const all = rounds.map(cells);
  const join = (key: 'server' | 'baseline' | 'ratio') => (all.some((c) => c[key] !== undefined) ? all.map((c) => c[key] ?? '–').join(', ') : undefined);
  return [{ metric, server: join('server'), baseline: join('baseline'), ratio: join('ratio') }];
}

/** Rows of the server beside the durable baseline (in the baseline column); none without it. */
function durableRows(rounds: readonly Round[], shown: Round, rows: (durable: TargetRun) => f.Row[]): f.Row[] {
  return shown.durable && rounds.every((r) => r.durable) ? rows(shown.durable) : [];
}

const DURABLE = 'vs the durable baseline (SQLite, a commit per turn, synchronous=FULL)';

/** Closed loop: PAIRS × 2 users each keeping W sends in flight, against the server and the baseline. */
export async function throughput(ctx: Context): Promise<ScenarioResult> {
  const { options } = ctx;
  ctx.log(`throughput: ${options.pairs} pairs, W=${options.window}, ${options.durationS} s, ${options.rounds} round(s)`);
  const spec: LoadSpec = { name: 'closed-loop', job: (t) => ({ ...t, kind: 'closed', pairs: options.pairs, window: options.window }) };
  const { rounds, profile } = await loadRounds(ctx, spec, 'throughput', { count: options.rounds, durable: options.durable });
  const share = (r: Round) => r.server.result.sendsPerSec / r.baseline.result.sendsPerSec;
  const shown = medianRound(rounds, share);

  const s = shown.server.result;
  const b = shown.baseline.result;
  const label = `closed loop, PAIRS=${options.pairs} W=${options.window}`;
  const median = rounds.length > 1 ? ` (median of ${rounds.length} rounds)` : '';
  const rows: f.Row[] = [
    {
      metric: `${label}: sends/s${median}`,
      server: f.int(s.sendsPerSec),
      baseline: f.int(b.sendsPerSec),
      ratio: f.ratio(s.sendsPerSec, b.sendsPerSec),
      target: '≥ 0.70×',
      ok: share(shown) >= 0.7,
    },
    ...eachRoundRow(`${label}: sends/s of each round`, rounds, (r) => ({
      server: f.int(r.server.result.sendsPerSec),
      baseline: f.int(r.baseline.result.sendsPerSec),
      ratio: f.ratio(r.server.result.sendsPerSec, r.baseline.result.sendsPerSec),
    })),
    { metric: `${label}: deliveries/s`, server: f.int(s.deliveriesPerSec), baseline: f.int(b.deliveriesPerSec), ratio: f.ratio(s.deliveriesPerSec, b.deliveriesPerSec) },
    { metric: `${label}: latency p50 / p99 / max, ms`, server: f.latency(s.latency), baseline: f.latency(b.latency) },
    ...durableRows(rounds, shown, (d) => [
      { metric: `${label}: sends/s ${DURABLE}`, server: f.int(s.sendsPerSec), baseline: f.int(d.result.sendsPerSec), ratio: f.ratio(s.sendsPerSec, d.result.sendsPerSec) },
      ...eachRoundRow(`${label}: sends/s vs the durable baseline, each round`, rounds, (r) => ({
        server: f.int(r.server.result.sendsPerSec),
        baseline: f.int(r.durable!.result.sendsPerSec),
        ratio: f.ratio(r.server.result.sendsPerSec, r.durable!.result.sendsPerSec),
      })),
    ]),
    cpuRow('closed loop', rounds, shown),
    anomalyRow('closed loop', rounds),
  ];
  return { rows, data: { rounds, shownRound: rounds.indexOf(shown), ratio: share(shown), profile } };
}

/** Open loop: RATE sends per second on the clock, latency of every send. */
export async function openLoop(ctx: Context): Promise<ScenarioResult> {
  const { options } = ctx;
  ctx.log(`open loop: ${options.rate} msgs/s, ${options.durationS} s, ${options.rounds} round(s)`);
  const spec: LoadSpec = { name: 'open-loop', job: (t) => ({ ...t, kind: 'open', pairs: options.pairs, rate: options.rate }) };
  const { rounds, profile } = await loadRounds(ctx, spec, 'open loop', { count: options.rounds, durable: options.durable });
  const shown = medianRound(rounds, (r) => r.server.result.latency.p99);
  const s = shown.server.result;
  const b = shown.baseline.result;
  const label = `open loop, ${f.int(options.rate)} msgs/s`;
  const median = rounds.length > 1 ? ` (round of the median p99 of ${rounds.length})` : '';
  const rows: f.Row[] = [
    { metric: `${label}: sends/s achieved`, server: f.int(s.sendsPerSec), baseline: f.int(b.sendsPerSec) },
    {
      metric: `${label}: latency p50 / p99 / max, ms${median}`,
      server: f.latency(s.latency),
      baseline: f.latency(b.latency),
      target: 'p99 ≤ 5 ms',
      ok: s.latency.p99 <= 5,
    },
    ...eachRoundRow(`${label}: latency p99 of each round, ms`, rounds, (r) => ({
      server: f.ms(r.server.result.latency.p99),
      baseline: f.ms(r.baseline.result.latency.p99),
    })),
    ...durableRows(rounds, shown, (d) => [
      { metric: `${label}: latency p50 / p99 / max, ms, ${DURABLE}`, server: f.latency(s.latency), baseline: f.latency(d.result.latency) },
      ...eachRoundRow(`${label}: latency p99 vs the durable baseline, each round, ms`, rounds, (r) => ({
        server: f.ms(r.server.result.latency.p99),
        baseline: f.ms(r.durable!.result.latency.p99),
      })),
    ]),
    {
      metric: `${label}: generator lag p99 / max, ms`,
      server: `${f.ms(s.scheduleLag?.p99 ?? NaN)} / ${f.ms(s.scheduleLag?.max ?? NaN)}`,
      baseline: `${f.ms(b.scheduleLag?.p99 ?? NaN)} / ${f.ms(b.scheduleLag?.max ?? NaN)}`,
    },
    cpuRow('open loop', rounds, shown),
    anomalyRow('open loop', rounds),
  ];
  return { rows, data: { rounds, shownRound: rounds.indexOf(shown), profile } };
}
