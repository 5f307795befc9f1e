import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WebSocket } from 'ws';

/** The sockets' surfaces, as their dialects name them: each is reported, at 0 too. */
const SURFACES = ['native', 'shindensen', 'rooms'] as const;

/**
 * Frames written to sockets, counted with one addition each: prom-client's `inc()` builds a
 * labels object per call, and a message to a busy room is a frame for each of its sockets.
 */
export interface FrameCounts {
  /** Events as they happen. */
  live: number;
  /** Events replayed by a `resume`. */
  replayed: number;
}

/** What the gauges read at scrape time, from the structures that hold it. */
export interface MetricSources {
  /** Users with at least one authenticated socket on this process. */
  usersOnline(): number;
  /** Sends and changes waiting for their commit. */
  writerQueue(): number;
}

// From a tenth of a millisecond (a commit of a few rows, an fdatasync on a fast SSD) to seconds (a stalled disk).
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * This process's metrics, in a registry of its own: the tests build many apps in one process, and
 * each process serves its own (Prometheus scrapes every one). Made only with `METRICS=true`: when
 * off, the hot paths find `null` and record nothing.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly frames: FrameCounts = { live: 0, replayed: 0 };
  readonly messagesStored: Counter;
  readonly commitSeconds: Histogram;
  readonly flushSeconds: Histogram;
  private readonly sockets = new Map<string, number>(SURFACES.map((surface) => [surface, 0]));

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    // Process metrics, and the event loop's delay (nodejs_eventloop_lag_*: a monitorEventLoopDelay
    // histogram, reset at each scrape). prom-client cannot stop these collectors: the tests that
    // turn metrics on leave one behind per app, a production process has one app.
    collectDefaultMetrics({ register: this.registry });
    const { frames, sockets } = this;
    new Gauge({
      name: 'dm_sockets_open',
      help: 'Open WebSockets on this process, by surface (native /v1/ws, shindensen /ws, rooms /api/ws), authenticated or not yet',
      labelNames: ['surface'],
      registers,
      collect() {
        for (const [surface, count] of sockets) this.set({ surface }, count);
      },
    });
    new Gauge({
      name: 'dm_users_online',
      help: 'Users with at least one authenticated socket on this process',
      registers,
      collect() {
        this.set(sources.usersOnline());
      },
    });
    new Gauge({
      name: 'dm_log_queue_depth',
      help: 'Sends and changes waiting for the log writer to commit them',
      registers,
      collect() {
        this.set(sources.writerQueue());
      },
    });
    new Counter({
      name: 'dm_events_delivered_total',
      help: 'Events written to sockets, one per socket: live as they happen, or replayed by a resume',
      labelNames: ['via'],
      registers,
      collect() {
        this.reset();
        this.inc({ via: 'live' }, frames.live);
        this.inc({ via: 'resume' }, frames.replayed);
      },
    });
    this.messagesStored = new Counter({
      name: 'dm_messages_stored_total',
      help: 'New messages this process committed and flushed (repeats of a client_id excluded)',
      registers,
    });
    this.commitSeconds = new Histogram({
      name: 'dm_log_commit_seconds',
      help: 'Time to commit one transaction of the log writer: a batch of sends, or one change',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.flushSeconds = new Histogram({
      name: 'dm_log_flush_seconds',
      help:
        'Time to flush the commits to disk before they are confirmed and delivered (the WAL fdatasync; ' +
        'near 0 where a commit is durable by itself: PostgreSQL, SQLITE_SYNCHRONOUS=NORMAL)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** Counts the socket under its surface until it closes. */
  socketOpened(surface: string, socket: WebSocket): void {
    this.sockets.set(surface, (this.sockets.get(surface) ?? 0) + 1);
    socket.once('close', () => this.sockets.set(surface, this.sockets.get(surface)! - 1));
  }
}
