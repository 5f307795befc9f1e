import type { Anomalies, FromLoadgen, LoadResult } from './protocol.js';
import type { Samples } from './stats.js';

export type Mark = Extract<FromLoadgen, { type: 'mark' }>['mark'];

/**
 * The measured window of a load job, which opens `warmupMs` after `schedule` and lasts
 * `durationMs`. The orchestrator is told as it opens and closes: it samples CPU use then.
 */
export class MeasuredWindow {
  start = Infinity;
  end = Infinity;
  /** The generator's own CPU time during the window, ms. */
  cpuMs = 0;

  constructor(private readonly mark: (mark: Mark) => void) {}

  schedule(warmupMs: number, durationMs: number): void {
    this.start = performance.now() + warmupMs;
    this.end = this.start + durationMs;
    let cpuAtStart: NodeJS.CpuUsage;
    setTimeout(() => {
      cpuAtStart = process.cpuUsage();
      this.mark('window-start');
    }, warmupMs);
    setTimeout(() => {
      const used = process.cpuUsage(cpuAtStart);
      this.cpuMs = (used.user + used.system) / 1000;
      this.mark('window-end');
    }, warmupMs + durationMs);
  }

  has(at: number): boolean {
    return at >= this.start && at < this.end;
  }
}

/**
 * Calls `fire` `rate` times a second for `ms`, on the clock, never waiting for answers: a slow
 * server meets the same offered load, and its stalls show in the latency of every message queued
 * behind them. `scheduled` is when call `i` was due, `now` when it went out.
 */
export function onClock(rate: number, ms: number, fire: (i: number, scheduled: number, now: number) => void): Promise<void> {
  const interval = 1000 / rate;
  const total = Math.ceil((ms / 1000) * rate);
  const start = performance.now();
  let issued = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      for (; issued < due; issued++) fire(issued, start + issued * interval, now);
      if (issued >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
}

/** What a load job's run counted, whatever its shape (pairs or a room). */
export interface MeasuredRun {
  sends: number;
  deliveries: number;
  latency: Samples;
  lag: Samples;
  window: MeasuredWindow;
  anomalies: Anomalies;
}

/** The job's figures over its measured window, as the orchestrator reads them. */
export function loadResult(
  kind: LoadResult['kind'],
  run: MeasuredRun,
  at: { setupMs: number; durationMs: number; onClock: boolean; totalSent: number },
): LoadResult {
  const seconds = at.durationMs / 1000;
  return {
    kind,
    setupMs: at.setupMs,
    measuredMs: at.durationMs,
    sends: run.sends,
    deliveries: run.deliveries,
    sendsPerSec: run.sends / seconds,
    deliveriesPerSec: run.deliveries / seconds,
    latency: run.latency.summary(),
    scheduleLag: at.onClock ? run.lag.summary() : undefined,
    totalSent: at.totalSent,
    cpuMs: run.window.cpuMs,
    anomalies: run.anomalies,
  };
}
