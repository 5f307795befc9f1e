import os from 'node:os';
import path from 'node:path';

export const SCENARIOS = ['startup', 'throughput', 'openloop', 'rooms', 'idle', 'history', 'chats', 'storm', 'passwords'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  /** Pairs of users; each pair shares one direct chat and each user holds one socket. */
  pairs: number;
  /** Messages each user keeps in flight in the closed-loop run. */
  window: number;
  /** Measured seconds of each load run (closed and open loop), after the warm-up. */
  durationS: number;
  warmupS: number;
  /**
   * Load runs of the server and of the baseline, alternating; the round with the median figure is
   * reported. The host's speed drifts over tens of seconds: one pair of runs can land on either side.
   */
  rounds: number;
  /**
   * Also run the durable baseline in each round: the bare one storing every send first, the floor
   * that the disk sets (baseline.ts).
   */
  durable: boolean;
  /** Total sends per second of the open-loop run, over all users. */
  rate: number;
  /** Members of the room of the rooms scenario, each holding one socket. */
  roomMembers: number;
  /** Members who post to it. */
  roomSenders: number;
  /** Closed loop: messages each sender keeps on their way to every member. */
  roomWindow: number;
  /** Open loop: messages per second, all senders together. */
  roomRate: number;
  /** Load runs of the server and of the baseline in each loop of the rooms scenario (its setup is long). */
  roomRounds: number;
  /** Authenticated sockets held open to measure memory per idle socket. */
  idleSockets: number;
  /** Sockets per user in the idle run (1: one user per socket, as most clients are). */
  idleSocketsPerUser: number;
  /** The reconnect storms, one per size, each after a restart: sockets, and messages each is behind. */
  stormSizes: StormSize[];
  /** Sockets of each user in a storm (a user's devices and tabs). */
  stormSocketsPerUser: number;
  /** Stored messages of the chats whose history pages are timed. */
  historySizes: number[];
  historyLimit: number;
  /** Chats of the user whose `GET /chats` is timed. */
  chatCount: number;
  /** Timed requests per HTTP measurement (after a few untimed warm-up ones). */
  requests: number;
  /** `PUT /v1/me/password` requests per second in the passwords scenario, all accounts together. */
  passwordRate: number;
  scenarios: ScenarioName[];
  out: string;
  /** Run the throughput server under `--cpu-prof` and summarize the profile. */
  profile: boolean;
  profileDir: string;
  /** Before each load run, wait up to this long for other processes to leave the CPU. */
  waitQuietS: number;
  /** The server's entry point: this checkout's production build unless told otherwise. */
  serverMain: string;
  /** Where the temporary data folders go: a real disk, so that fsync costs what it costs. */
  tmpRoot: string;
}

export interface StormSize {
  sockets: number;
  behind: number;
}

const HELP = `npm run bench [-- --name=value …]   (or the same names as environment variables)

  PAIRS=100            pairs of users (one direct chat and two sockets per pair)
  W=20                 messages each user keeps in flight (closed loop)
  DURATION=10          measured seconds per load run
  WARMUP=2             warm-up seconds before each load run
  ROUNDS=3             server and baseline load runs per loop, alternating; the median round is shown
  DURABLE=1            0: leave out the durable baseline (stores each turn's sends in one SQLite commit)
  RATE=5000            open-loop sends per second, all users together
  ROOM_MEMBERS=1000    members of the rooms scenario's one room, one socket each
  ROOM_SENDERS=8       members who post to it
  ROOM_W=4             closed loop: messages each sender keeps on their way to every member
  ROOM_RATE=65         open loop: messages per second, all senders together
  ROOM_ROUNDS=1        as ROUNDS, for the rooms scenario (a thousand logins, sockets and joins per run)
  IDLE_SOCKETS=10000   authenticated idle sockets for the memory figure
  IDLE_SOCKETS_PER_USER=1
  STORM_SOCKETS=5000   sockets that reconnect and resume at once after a restart (the largest storm)
  STORM_BEHIND=200     messages each of them has not seen
  STORM_SOCKETS_PER_USER=10
  STORM_SIZES=1250x200,2500x200,5000x200,5000x50   the storms run, sockets × behind, each on a fresh
                       database and a restarted server; by default a quarter and half of STORM_SOCKETS
                       at STORM_BEHIND, then all of them at STORM_BEHIND and at a quarter of it
  HISTORY_SIZES=10000,1000000   messages in the chats whose history page is timed
  HISTORY_LIMIT=50     page size of GET /chats/:id/messages
  CHATS=1000           chats of the user whose GET /chats is timed
  REQUESTS=200         timed requests per HTTP figure
  PASSWORD_RATE=7      password changes per second while another user's sends are timed
  SCENARIOS=all        comma list of: ${SCENARIOS.join(', ')}
  OUT=bench/results/<date>.json
  WAIT_QUIET=60        seconds to wait, before each load run, for other processes to leave the CPU
  PROFILE=0            1: run the server of the load runs under --cpu-prof and summarize the profiles
  PROFILE_DIR=bench/results/profiles
  SERVER_MAIN=dist/server/main.js   the server build to measure (e.g. an older one, to compare);
                       with PROFILE=1, dist/src/main.js: the same code, one file per module;
                       run with the node flags of the start script in package.json
  BENCH_TMP=${os.tmpdir()}   parent folder of the temporary databases
`;

export class OptionsError extends Error {
  constructor(
    message: string,
    /** Asked for with --help: printed on stdout, and not a failure. */
    readonly help = false,
  ) {
    super(message);
  }
}

/** Options from `--name=value` flags (which win) and environment variables of the same names. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, projectRoot: string): BenchOptions {
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') values.set(key, value);
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') throw new OptionsError(HELP, true);
    const match = /^--([A-Za-z_-]+)=(.*)$/.exec(arg);
    if (!match) throw new OptionsError(`Unknown argument ${arg}\n\n${HELP}`);
    values.set(match[1]!.toUpperCase().replace(/-/g, '_'), match[2]!);
  }

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < min || n > max) throw new OptionsError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return n;
  };
  const flag = (name: string, fallback = '0'): boolean => ['1', 'true', 'yes', 'on'].includes((values.get(name) ?? fallback).toLowerCase());

  const scenarioList = (values.get('SCENARIOS') ?? 'all').split(',').map((s) => s.trim().toLowerCase());
  const scenarios = scenarioList.includes('all') ? [...SCENARIOS] : scenarioList.filter((s) => s !== '');
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new OptionsError(`SCENARIOS: unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
  }

  const historySizes = (values.get('HISTORY_SIZES') ?? '10000,1000000').split(',').map((s) => {
    const n = Number(s.trim().replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1 || n > 50_000_000) throw new OptionsError(`HISTORY_SIZES: "${s}" is not a count from 1 to 50,000,000`);
    return n;
  });

  const roomMembers = int('ROOM_MEMBERS', 1000, 2, 20_000);

  // The sweep shows how a storm's time and memory grow with sockets and with messages behind.
  const stormSockets = int('STORM_SOCKETS', 5000, 1, 100_000);
  const stormBehind = int('STORM_BEHIND', 200, 0, 100_000);
  const part = (n: number, d: number) => Math.max(1, Math.round(n / d));
  const defaultSizes = [
    { sockets: part(stormSockets, 4), behind: stormBehind },
    { sockets: part(stormSockets, 2), behind: stormBehind },
    { sockets: stormSockets, behind: stormBehind },
    { sockets: stormSockets, behind: Math.round(stormBehind / 4) },
  ];
  const stormSizes = values.has('STORM_SIZES')
    ? values
        .get('STORM_SIZES')!
        .split(',')
        .map((s) => {
          const match = /^\s*(\d[\d_]*)\s*x\s*(\d[\d_]*)\s*$/i.exec(s);
          const size = match && { sockets: Number(match[1]!.replace(/_/g, '')), behind: Number(match[2]!.replace(/_/g, '')) };
          if (!size || size.sockets < 1 || size.sockets > 100_000 || size.behind > 100_000) {
            throw new OptionsError(`STORM_SIZES: "${s}" is not <sockets>x<behind> (1–100,000 sockets, 0–100,000 behind)`);
          }
          return size;
        })
    : // Sizes that coincide (a tiny STORM_SOCKETS) are run once.
      defaultSizes.filter((a, i) => defaultSizes.findIndex((b) => b.sockets === a.sockets && b.behind === a.behind) === i);

  const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
  const resolve = (p: string) => path.resolve(projectRoot, p);
  return {
    pairs: int('PAIRS', 100, 1, 5000),
    window: int('W', 20, 1, 1000),
    durationS: int('DURATION', 10, 1, 600),
    warmupS: int('WARMUP', 2, 0, 60),
    rounds: int('ROUNDS', 3, 1, 20),
    durable: flag('DURABLE', '1'),
    rate: int('RATE', 5000, 1, 1_000_000),
    roomMembers,
    roomSenders: int('ROOM_SENDERS', 8, 1, roomMembers),
    roomWindow: int('ROOM_W', 4, 1, 1000),
    roomRate: int('ROOM_RATE', 65, 1, 100_000),
    roomRounds: int('ROOM_ROUNDS', 1, 1, 20),
    idleSockets: int('IDLE_SOCKETS', 10_000, 1, 100_000),
    idleSocketsPerUser: int('IDLE_SOCKETS_PER_USER', 1, 1, 1000),
    stormSizes,
    stormSocketsPerUser: int('STORM_SOCKETS_PER_USER', 10, 1, 1000),
    historySizes,
    historyLimit: int('HISTORY_LIMIT', 50, 1, 200),
    chatCount: int('CHATS', 1000, 1, 100_000),
    requests: int('REQUESTS', 200, 1, 100_000),
    passwordRate: int('PASSWORD_RATE', 7, 1, 1000),
    scenarios: SCENARIOS.filter((s) => scenarios.includes(s)),
    out: resolve(values.get('OUT') ?? `bench/results/${stamp}.json`),
    profile: flag('PROFILE'),
    profileDir: resolve(values.get('PROFILE_DIR') ?? 'bench/results/profiles'),
    // A profile says where the time goes by file: tsc's output has one per module, the bundle one in all.
    serverMain: resolve(values.get('SERVER_MAIN') ?? (flag('PROFILE') ? 'dist/src/main.js' : 'dist/server/main.js')),
    waitQuietS: int('WAIT_QUIET', 60, 0, 3600),
    tmpRoot: path.resolve(values.get('BENCH_TMP') ?? os.tmpdir()),
  };
}
