import type { LatencySummary } from './stats.js';

/** What the orchestrator asks of the load generator (over the child's IPC channel). */
export type Job = ClosedLoopJob | OpenLoopJob | IdleJob;

interface PairsJob {
  /** `http://127.0.0.1:<port>`; the socket is `ws://…/v1/ws`. */
  baseUrl: string;
  pairs: number;
  /** Makes usernames and client_ids unique to this run. */
  prefix: string;
  warmupMs: number;
  durationMs: number;
}

/** Each user keeps `window` sends in flight; the next goes out when an echo comes back. */
export interface ClosedLoopJob extends PairsJob {
  kind: 'closed';
  window: number;
}

/** Sends go out on the clock at `rate` per second over all users, whatever the echoes do. */
export interface OpenLoopJob extends PairsJob {
  kind: 'open';
  rate: number;
}

/** Logs `sockets / socketsPerUser` users in, pauses, opens the sockets, pauses, closes them. */
export interface IdleJob {
  kind: 'idle';
  baseUrl: string;
  prefix: string;
  sockets: number;
  socketsPerUser: number;
}

export type ToLoadgen = { type: 'run'; job: Job } | { type: 'continue' };

export type FromLoadgen =
  | { type: 'step'; step: 'logged-in' | 'holding'; detail: Record<string, number> }
  /** The measured window opens / closes: the orchestrator samples CPU use at these instants. */
  | { type: 'mark'; mark: 'window-start' | 'window-end' }
  | { type: 'done'; result: LoadResult | IdleResult }
  | { type: 'failed'; error: string };

/** Everything the generator saw go wrong; all zero on a correct server. */
export interface Anomalies {
  /** `{type:"error"}` frames, by code. */
  errorFrames: Record<string, number>;
  /** Sends never echoed to the sender, after the drain at the end. */
  lostEchoes: number;
  /** Sends never delivered to the other member of the pair, after the drain. */
  lostDeliveries: number;
  /** Echoes or deliveries of a client_id already seen on that socket. */
  duplicates: number;
  /** A chat's message arriving with an id not above the previous one on that socket. */
  outOfOrder: number;
  /** Sockets closed by the server during the run, by close code. */
  closes: Record<string, number>;
  /** Frames of a type the generator did not expect (presence frames are expected). */
  unexpectedFrames: number;
}

export interface LoadResult {
  kind: 'closed' | 'open';
  setupMs: number;
  measuredMs: number;
  /** Sends whose echo came back within the measured window (closed) / sent within it (open). */
  sends: number;
  deliveries: number;
  sendsPerSec: number;
  deliveriesPerSec: number;
  /** Send to echo, every send counted. */
  latency: LatencySummary;
  /** Open loop only: how late sends went out against their schedule (the generator's own lag). */
  scheduleLag?: LatencySummary;
  /** Every send of the run, warm-up and drain included. */
  totalSent: number;
  /** The generator's own CPU time during the measured window, ms. */
  cpuMs: number;
  anomalies: Anomalies;
}

export interface IdleResult {
  kind: 'idle';
  users: number;
  opened: number;
  failed: number;
  openMs: number;
  closes: Record<string, number>;
}
