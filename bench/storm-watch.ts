/**
 * What the orchestrator watches of the server during a storm, from outside it: its memory, its
 * CPU and the machine's, the kernel's dropped connections, and how long a health check waits.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { request } from './http.js';
import { cpuTicks, machineTicks, peakRssKb, rssKb, sleep } from './processes.js';
import { Samples, type LatencySummary } from './stats.js';

/** The server's RSS is read this often (VmHWM, read at the end, catches what falls between). */
export const SAMPLE_MS = 50;
/** A health check goes this long after the previous one has answered. */
const PROBE_MS = 100;
const TICK_MS = 10; // USER_HZ is 100 on Linux

export interface Watched {
  /** KiB: as the storm ended; the highest sample since the watch began; VmHWM at the end. */
  memory: { endKb: number; peakSampledKb: number; samples: number; hwmKb: number };
  /** % of one core over the storm; `other` is every other process of the machine; the server's CPU time, ms. */
  cpu: { server: number; generator: number; other: number; serverMs: number };
  /** During the storm, all processes of the machine together (see `tcpCounters`). */
  tcp: { listenOverflows: number; synRetransmits: number };
  /**
   * `GET /healthz` during the storm, one after another on a kept-alive connection: what a health
   * check sees. It reads the database, so it waits behind queued queries as well as a busy event loop.
   */
  health: { latency: LatencySummary; failed: number };
}

/**
 * The kernel's counts of connections dropped because a listening socket's accept queue was full,
 * and of handshakes it sent again (Linux, for the whole network namespace). A dropped connection
 * is retried after 1 s, then 3 s, 7 s…: what a storm's slowest upgrades wait for, if not the server.
 */
function tcpCounters(): Watched['tcp'] {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const read = (name: string) => Number(values[names.indexOf(name)] ?? NaN);
  return { listenOverflows: read('ListenOverflows'), synRetransmits: read('TCPSynRetrans') };
}

type Sample = { server: number; machine: ReturnType<typeof machineTicks>; tcp: Watched['tcp']; at: number };

/** Asks for `/healthz` one request after another until stopped. */
function probeHealth(baseUrl: string, timeoutMs: number) {
  const latency = new Samples(1024);
  let failed = 0;
  let running = true;
  const probing = (async () => {
    while (running) {
      const res = await request('GET', `${baseUrl}/healthz`, { timeoutMs }).catch(() => null);
      if (res?.status === 200) latency.push(res.ms);
      else failed++;
      await sleep(PROBE_MS);
    }
  })();
  return async (): Promise<Watched['health']> => {
    running = false;
    await probing;
    return { latency: latency.summary(), failed };
  };
}

/**
 * Samples the server's RSS from its creation; samples CPU and TCP counters, and checks its health,
 * between the generator's marks of the storm's start and end (`onMark`).
 */
export class ServerWatch {
  private start: Sample | undefined;
  private end: Sample | undefined;
  private endKb = 0;
  private hwmKb = 0;
  private peakKb = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;
  private stopProbe: (() => Promise<Watched['health']>) | undefined;
  private health: Promise<Watched['health']> | undefined;

  constructor(
    private readonly pid: number,
    private readonly baseUrl: string,
    private readonly probeTimeoutMs: number,
  ) {
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), SAMPLE_MS);
  }

  readonly onMark = (mark: 'window-start' | 'window-end') => {
    const now: Sample = { server: cpuTicks(this.pid), machine: machineTicks(), tcp: tcpCounters(), at: performance.now() };
    if (mark === 'window-start') {
      this.start = now;
      this.stopProbe = probeHealth(this.baseUrl, this.probeTimeoutMs);
      return;
    }
    this.end = now;
    this.stop();
    this.endKb = rssKb(this.pid);
    this.hwmKb = peakRssKb(this.pid);
  };

  /** Stops sampling (also when the storm failed). */
  stop(): void {
    clearInterval(this.timer);
    this.health ??= this.stopProbe?.();
  }

  /**
   * What was watched, with the generator's CPU: it measures its own, over its own clock of the
   * storm. Undefined when the storm did not mark both its start and its end.
   */
  async result(generator: { cpuMs: number; durationMs: number }): Promise<Watched | undefined> {
    const { start, end } = this;
    if (!start || !end || !this.health) return undefined;
    const ms = Math.max(end.at - start.at, 1);
    const serverMs = (end.server - start.server) * TICK_MS;
    const server = (100 * serverMs) / ms;
    const machine = (100 * os.cpus().length * (end.machine.busy - start.machine.busy)) / Math.max(end.machine.total - start.machine.total, 1);
    const generatorPct = (100 * generator.cpuMs) / Math.max(generator.durationMs, 1);
    return {
      memory: { endKb: this.endKb, peakSampledKb: Math.max(this.peakKb, this.endKb), samples: this.samples, hwmKb: this.hwmKb },
      cpu: { server, generator: generatorPct, other: Math.max(0, machine - server - generatorPct), serverMs },
      tcp: {
        listenOverflows: end.tcp.listenOverflows - start.tcp.listenOverflows,
        synRetransmits: end.tcp.synRetransmits - start.tcp.synRetransmits,
      },
      health: await this.health,
    };
  }

  private sampleRss(): void {
    try {
      this.peakKb = Math.max(this.peakKb, rssKb(this.pid));
      this.samples++;
    } catch {
      // The process is gone: its death is reported where it is awaited.
    }
  }
}
