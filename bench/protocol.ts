import type { LatencySummary } from './stats.js';

/** What the orchestrator asks of the load generator (over the child's IPC channel). */
export type Job = ClosedLoopJob | OpenLoopJob | RoomJob | IdleJob | StormJob;
export type LoadJob = Exclude<Job, IdleJob | StormJob>;

/** A job that loads the target and measures a window after a warm-up. */
export interface TimedJob {
  /** `http://127.0.0.1:<port>`; the socket is `ws://…/v1/ws`. */
  baseUrl: string;
  /** Makes usernames and client_ids unique to this run. */
  prefix: string;
  warmupMs: number;
  durationMs: number;
}

interface PairsJob extends TimedJob {
  pairs: number;
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

/**
 * One room of `members` users, each holding one socket, of whom the first `senders` post to it.
 * A message is done once every member's socket has it (the sender's echo included).
 */
export interface RoomJob extends TimedJob {
  kind: 'room';
  members: number;
  senders: number;
  /** Open loop: sends per second, all senders together, on the clock. Null: closed loop. */
  rate: number | null;
  /** Closed loop: messages each sender keeps under way; the next goes when one is done. */
  window: number;
}

/** Logs `sockets / socketsPerUser` users in, pauses, opens the sockets, pauses, closes them. */
export interface IdleJob {
  kind: 'idle';
  baseUrl: string;
  prefix: string;
  sockets: number;
  socketsPerUser: number;
}

/**
 * A reconnect storm: `sockets` sockets opened at once, socket i for user `i % tokens.length`, each
 * sending `resume` as soon as it is open. Users 2p and 2p + 1 share direct chat `chatIds[p]`, whose
 * message r (0 ≤ r < `behind`) has id `firstId + p + r × chatIds.length`: the ids each socket must
 * get, each once, in order, before its `resumed`.
 */
export interface StormJob {
  kind: 'storm';
  baseUrl: string;
  tokens: string[];
  sockets: number;
  chatIds: number[];
  after: number;
  firstId: number;
  behind: number;
  /** Bound of the storm itself (upgrades and replays): sockets not done by then count as unfinished. */
  timeoutMs: number;
}

export type ToLoadgen = { type: 'run'; job: Job } | { type: 'continue' };

export type FromLoadgen =
  | { type: 'step'; step: 'logged-in' | 'holding'; detail: Record<string, number> }
  /** The measured window opens / closes: the orchestrator samples CPU use at these instants. */
  | { type: 'mark'; mark: 'window-start' | 'window-end' }
  | { type: 'done'; result: LoadResult | IdleResult | StormResult }
  | { type: 'failed'; error: string };

/** Everything the generator saw go wrong; all zero on a correct server. */
export interface Anomalies {
  /** `{type:"error"}` frames, by code. */
  errorFrames: Record<string, number>;
  /** Sends never echoed to the sender, after the drain at the end. */
  lostEchoes: number;
  /** After the drain: sends the peer never had (pairs), or each member without a send (room). */
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

export const noAnomalies = (): Anomalies => ({
  errorFrames: {},
  lostEchoes: 0,
  lostDeliveries: 0,
  duplicates: 0,
  outOfOrder: 0,
  closes: {},
  unexpectedFrames: 0,
});

export interface LoadResult {
  kind: 'closed' | 'open' | 'room';
  setupMs: number;
  measuredMs: number;
  /** Sends done (echoed; in a room, at every member) within the measured window. */
  sends: number;
  /** Messages received by members other than the sender (pairs), by every member (room). */
  deliveries: number;
  sendsPerSec: number;
  deliveriesPerSec: number;
  /**
   * Send to echo (pairs), to the last member's frame (room), of every send done in the window
   * (closed loop) or sent in it (open loop).
   */
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

/** What a storm saw go wrong; all zero on a correct server. */
export interface StormAnomalies {
  /** Expected messages a socket had not got when its `resumed` came. */
  missing: number;
  /** A message a socket had already got. */
  duplicates: number;
  /** A message with an id below one the socket had already got. */
  outOfOrder: number;
  /** Message frames that are not among the socket's expected ones (another chat, an older id). */
  unexpected: number;
  /** Message frames after the socket's `resumed` (nothing is sent during the storm). */
  late: number;
  /** `resumed` frames whose `last_id` is not the socket's last expected id, or not `complete`. */
  badResumed: number;
  /** Upgrades that failed, by status code or error. */
  refused: Record<string, number>;
  /** Sockets closed by the server during the storm, by close code. */
  closes: Record<string, number>;
  /** Sockets still without `resumed` at the storm's time limit. */
  unfinished: number;
  errorFrames: Record<string, number>;
  /** Frames of a type the storm does not expect (presence frames are expected). */
  unexpectedFrames: number;
}

export interface StormResult {
  kind: 'storm';
  sockets: number;
  /** From the storm's start to the last socket's `resumed`; null when some socket never got there. */
  allCaughtUpMs: number | null;
  /** From the storm's start until every socket was resumed or failed, or the time limit. */
  durationMs: number;
  /** Per socket, from the storm's start: its upgrade answered (`open`); its `resumed` frame. */
  open: LatencySummary;
  caughtUp: LatencySummary;
  /** Per socket, from its `open` to its `resumed`: the replay itself. */
  replay: LatencySummary;
  /** Message frames received, all sockets together. */
  messages: number;
  /** The generator's own CPU time from the storm's start to its end, ms. */
  cpuMs: number;
  anomalies: StormAnomalies;
}
