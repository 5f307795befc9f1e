import { runJob } from '../driver.js';
import * as f from '../format.js';
import { Inspector } from '../inspector.js';
import type { IdleResult } from '../protocol.js';
import { rssKb, waitQuiet } from '../processes.js';
import { startTarget, type Target, type TargetKind } from '../servers.js';
import type { Context, ScenarioResult } from './context.js';

interface Reading {
  rssKb: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** False when the process was still busy at the time limit (the reading is then less exact). */
  quiet: boolean;
}

interface IdleRun {
  before: Reading;
  after: Reading;
  result: IdleResult;
  /** RSS growth per open socket, bytes. */
  rssPerSocket: number;
  /** JS heap + external memory growth per open socket, bytes. */
  heapPerSocket: number;
}

/** Waits for the process to go quiet, collects garbage through the inspector, reads memory. */
async function read(target: Target, inspector: Inspector): Promise<Reading> {
  const quiet = await waitQuiet(target.proc.pid, 60_000);
  await inspector.collectGarbage();
  const usage = await inspector.memoryUsage();
  return { rssKb: rssKb(target.proc.pid), heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, quiet };
}

async function idleTarget(ctx: Context, kind: TargetKind): Promise<IdleRun> {
  const { idleSockets, idleSocketsPerUser } = ctx.options;
  const target = await startTarget(kind, { dataDir: ctx.tempDir(`idle-${kind}`), inspect: true });
  const inspector = await Inspector.connect(target.inspectPort!);
  try {
    let before: Reading | undefined;
    let after: Reading | undefined;
    const onStep = async (step: { step: 'logged-in' | 'holding' }) => {
      // Before: users logged in (their accounts and tokens exist), no socket yet. After: all sockets open.
      if (step.step === 'logged-in') before = await read(target, inspector);
      else after = await read(target, inspector);
    };
    const job = runJob(
      { kind: 'idle', baseUrl: target.baseUrl, prefix: `i${kind[0]}_`, sockets: idleSockets, socketsPerUser: idleSocketsPerUser },
      600_000,
      { onStep },
    );
    const result = await Promise.race([job, target.proc.died()]);
    if (!before || !after) throw new Error('the idle run ended without its memory readings');
    const opened = Math.max(result.opened, 1);
    return {
      before,
      after,
      result,
      rssPerSocket: ((after.rssKb - before.rssKb) * 1024) / opened,
      heapPerSocket: (after.heapUsed + after.external - before.heapUsed - before.external) / opened,
    };
  } finally {
    inspector.close();
    await target.proc.stop();
  }
}

/** Memory per idle authenticated socket, the server against the baseline. */
export async function idle(ctx: Context): Promise<ScenarioResult> {
  const n = ctx.options.idleSockets;
  ctx.log(`idle sockets: server, ${f.int(n)} sockets`);
  const server = await idleTarget(ctx, 'server');
  ctx.log('idle sockets: baseline');
  const baseline = await idleTarget(ctx, 'baseline');
  const kb = (bytes: number) => (bytes / 1024).toFixed(2);
  const opened = (r: IdleRun) => `${f.int(r.result.opened)}${r.result.failed ? ` (${r.result.failed} failed)` : ''}`;
  const rows: f.Row[] = [
    { metric: `idle authenticated sockets opened`, server: opened(server), baseline: opened(baseline) },
    {
      metric: `memory per idle socket (RSS growth / socket), KiB`,
      server: kb(server.rssPerSocket),
      baseline: kb(baseline.rssPerSocket),
      ratio: f.ratio(server.rssPerSocket, baseline.rssPerSocket),
      target: '≤ 10 KB',
      ok: server.rssPerSocket <= 10 * 1024 && server.result.failed === 0,
    },
    {
      metric: `memory per idle socket (JS heap + external), KiB`,
      server: kb(server.heapPerSocket),
      baseline: kb(baseline.heapPerSocket),
      ratio: f.ratio(server.heapPerSocket, baseline.heapPerSocket),
    },
  ];
  return { rows, data: { sockets: n, socketsPerUser: ctx.options.idleSocketsPerUser, server, baseline } };
}
