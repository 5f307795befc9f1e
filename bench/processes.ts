import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { request } from './http.js';

/** Every child the bench starts, so that an exit on any path (failure, Ctrl-C) stops them all. */
const live = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const child of live) {
    // Each child by its own pid; children are leaders of nothing, so there is nothing else to reap.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** A port that was free a moment ago on 127.0.0.1 (the server cannot print the port it got from 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface ManagedOptions {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Adds an IPC channel (fd 3) for the load generator. */
  ipc?: boolean;
}

/**
 * A child process with its output kept in a small ring (for error reports) and its pino log lines
 * at warn level or above counted (a server that logs errors under load is a finding).
 */
export class Managed {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly tail: string[] = [];
  warnings = 0;
  errors = 0;
  private stopping = false;

  constructor(readonly options: ManagedOptions) {
    const stdio: StdioOptions = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
    this.child = spawn(process.execPath, options.args, { cwd: options.cwd, env: options.env, stdio });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) this.onLine(line);
      });
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (graceful: the server drains and a --cpu-prof profile gets written), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Rejects as soon as the process dies, unless we stopped it: races against every wait on it. */
  died(): Promise<never> {
    return this.exited.then(({ code, signal }) => {
      if (this.stopping) return new Promise<never>(() => {});
      throw new Error(`${this.options.name} exited (code ${code}, signal ${signal}):\n${this.tail.join('\n')}`);
    });
  }

  private onLine(line: string): void {
    if (line.trim() === '') return;
    this.tail.push(line);
    if (this.tail.length > 40) this.tail.shift();
    // pino: 40 warn, 50 error, 60 fatal.
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level !== undefined) {
      if (Number(level) >= 50) this.errors++;
      else if (Number(level) >= 40) this.warnings++;
    } else if (/error/i.test(line)) {
      this.errors++;
    }
  }
}

/** Resolves with the milliseconds until `GET /healthz` first answered 200; rejects after `timeoutMs`. */
export async function waitHealthy(baseUrl: string, since: number, timeoutMs: number, proc: Managed): Promise<number> {
  const deadline = since + timeoutMs;
  let lastError = '';
  for (let attempt = 0; performance.now() < deadline; attempt++) {
    if (!proc.running) break;
    try {
      const res = await request('GET', `${baseUrl}/healthz`, { timeoutMs: 1000, fresh: true });
      if (res.status === 200) return performance.now() - since;
      lastError = `status ${res.status}`;
    } catch (err) {
      lastError = (err as Error).message;
    }
    // Polled every 2 ms: the poll interval bounds the error of the start-up figure.
    await sleep(2);
  }
  throw new Error(`${proc.options.name} did not answer /healthz (${lastError}):\n${proc.tail.join('\n')}`);
}

/** A memory figure of `/proc/<pid>/status`, in KiB (Linux): VmRSS, or VmHWM (the highest RSS so far). */
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]);
}

/** Resident set size of a process, in KiB (Linux). */
export const rssKb = (pid: number) => statusKb(pid, 'VmRSS');

/** The highest resident set size of a process since it started, in KiB: no spike between samples escapes it. */
export const peakRssKb = (pid: number) => statusKb(pid, 'VmHWM');

/** The soft limit of open files of a process (`self`: this one; Node raises its own to the hard limit as it starts). */
export function openFilesLimit(pid: number | 'self'): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return !match || match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

/** User + system CPU time of a process, in clock ticks (usually 10 ms). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy and total CPU time of the whole machine since boot, in clock ticks, from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** CPU use of the whole machine over `ms`, in % of one core. */
export async function machineBusy(ms = 1000): Promise<number> {
  const a = machineTicks();
  await sleep(ms);
  const b = machineTicks();
  return (100 * os.cpus().length * (b.busy - a.busy)) / Math.max(b.total - a.total, 1);
}

/**
 * Waits (at most `maxMs`) until the machine is quiet, i.e. other processes use less than
 * `thresholdPct` of a core over a second; returns the last reading. Load figures taken while
 * something else runs (tests, a build) measure that, not the server.
 */
export async function waitMachineQuiet(maxMs: number, thresholdPct = 15): Promise<number> {
  const deadline = performance.now() + maxMs;
  let busy = await machineBusy();
  while (busy >= thresholdPct && performance.now() < deadline) busy = await machineBusy();
  return busy;
}

/**
 * Waits until the process has used (almost) no CPU for two intervals in a row: the server has
 * finished the work a burst of connections set off (presence updates) before memory is read.
 */
export async function waitQuiet(pid: number, timeoutMs = 30_000, intervalMs = 300): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let previous = cpuTicks(pid);
  let quietRounds = 0;
  while (performance.now() < deadline) {
    await sleep(intervalMs);
    const now = cpuTicks(pid);
    quietRounds = now - previous <= 2 ? quietRounds + 1 : 0;
    previous = now;
    if (quietRounds >= 2) return true;
  }
  return false;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects after `ms` with a message naming what took too long; every wait in the bench is bounded. */
export async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
