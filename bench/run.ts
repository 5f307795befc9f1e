/**
 * `npm run bench`: starts the real server (production build, fresh temporary SQLite databases) and
 * the bare `ws` baseline, drives both with the load generator in a process of its own, and prints
 * a table and writes JSON. Options: `npm run bench -- --help`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { table, type Row } from './format.js';
import { closeHttpAgent } from './http.js';
import { OptionsError, parseOptions, type ScenarioName } from './options.js';
import { killAllChildren, waitMachineQuiet } from './processes.js';
import { formatProfile, type ProfileSummary } from './profile.js';
import type { Context, Scenario, ScenarioResult } from './scenarios/context.js';
import { SERVER_NODE_FLAGS, useServerBuild } from './servers.js';
import { idle } from './scenarios/idle.js';
import { openLoop, throughput } from './scenarios/load.js';
import { passwords } from './scenarios/passwords.js';
import { chats, history, startup } from './scenarios/reads.js';
import { rooms } from './scenarios/rooms.js';
import { storm } from './scenarios/storm.js';

const PROJECT_ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** The run's temporary folder (databases of up to a few hundred MB): removed on every way out. */
let tmpRoot: string | null = null;

function cleanUp(): void {
  killAllChildren();
  if (tmpRoot !== null) rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = null;
}

const scenarios: Record<ScenarioName, Scenario> = { startup, throughput, openloop: openLoop, rooms, idle, history, chats, storm, passwords };

/** Which code was measured: the commit of the checkout, and whether it had changes on top. */
function checkout(): { commit: string; changed: boolean } | null {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git(['rev-parse', 'HEAD']), changed: git(['status', '--porcelain', '--', 'src', 'migrations']) !== '' };
  } catch {
    return null;
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2), process.env, PROJECT_ROOT);
  } catch (err) {
    if (err instanceof OptionsError) {
      (err.help ? console.log : console.error)(err.message);
      return err.help ? 0 : 2;
    }
    throw err;
  }

  useServerBuild(options.serverMain);
  const root = mkdtempSync(path.join(options.tmpRoot, 'dm-bench-'));
  tmpRoot = root;
  const started = Date.now();
  const log = (line: string) => console.error(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  let dirs = 0;
  const ctx: Context = {
    options,
    tempDir: (label) => {
      const dir = path.join(root, `${String(++dirs).padStart(2, '0')}-${label}`);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    log,
    quiet: async (what) => {
      const busy = await waitMachineQuiet(options.waitQuietS * 1000);
      if (busy >= 15) log(`warning: other processes use ${busy.toFixed(0)}% of a core: ${what} will be disturbed`);
      return busy;
    },
  };

  const results: Partial<Record<ScenarioName, ScenarioResult>> = {};
  const failures: Partial<Record<ScenarioName, string>> = {};
  try {
    for (const name of options.scenarios) {
      try {
        results[name] = await scenarios[name](ctx);
      } catch (err) {
        // One scenario failing does not lose the others' figures.
        failures[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
        log(`${name} FAILED: ${failures[name]}`);
        killAllChildren();
      }
    }
  } finally {
    cleanUp();
    closeHttpAgent();
  }

  const rows: Row[] = options.scenarios.flatMap((name) => results[name]?.rows ?? [{ metric: `${name}: FAILED (see above)` }]);
  const report = {
    date: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    machine: machine(),
    server: { main: path.relative(PROJECT_ROOT, options.serverMain), nodeFlags: SERVER_NODE_FLAGS, checkout: checkout() },
    options: { ...options, out: path.relative(PROJECT_ROOT, options.out) },
    scenarios: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.data])),
    failures,
    table: rows,
  };
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);

  const m = report.machine;
  const server = [...SERVER_NODE_FLAGS, report.server.main].join(' ');
  console.log(`\n${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${report.date}, ${report.durationS.toFixed(0)} s; server: node ${server}`);
  console.log(table(rows));
  for (const name of ['throughput', 'openloop', 'rooms'] as const) {
    const profile = results[name]?.data.profile as ProfileSummary | undefined;
    if (profile) console.log(`\n${name}: ${formatProfile(profile)}`);
  }
  console.log(`\nJSON: ${path.relative(process.cwd(), options.out)}`);
  return Object.keys(failures).length > 0 ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(130);
  });
}
// Whatever happens, no server outlives the bench (a SIGKILL of the bench itself aside).
process.on('exit', cleanUp);

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    cleanUp();
    process.exitCode = 1;
  },
);
