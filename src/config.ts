import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';

export type AuthMode = 'open' | 'password';
export type Registration = 'open' | 'invite' | 'closed';
export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface Config {
  host: string;
  port: number;
  production: boolean;
  databaseUrl: string;
  /** Folder for runtime files (the SQLite file by default, the generated JWT secret, uploads). */
  dataDir: string;
  redisUrl: string | null;
  /** The pub/sub channel: deployments sharing one Redis each need their own. */
  redisChannel: string;
  /** null: generate one once and keep it in `dataDir`. */
  jwtSecret: string | null;
  jwtTtlSeconds: number;
  authMode: AuthMode;
  /** Who may make an account: anyone, holders of an invite code, or no one. */
  registration: Registration;
  /** Other origins whose pages may call the API and open sockets: '' none, '*' any, or a comma list. */
  corsOrigin: string;
  /** The origin users reach the server at (behind a proxy): its pages may open sockets. */
  publicOrigin: string | null;
  /**
   * Which peers' `X-Forwarded-For` to believe: none (false), that many proxies in front of the
   * server (a hop count), or those addresses and CIDR ranges. Never the whole header.
   */
  trustProxy: false | number | string[];
  logLevel: string;
  sqliteSynchronous: SqliteSynchronous;
  bodyLimitBytes: number;
  /** The largest file `POST /upload` accepts; files are kept in `<dataDir>/uploads/`. */
  maxUploadBytes: number;
  /** The most bytes one user's uploads that still exist may take; 0: no quota. */
  uploadQuotaBytes: number;
  /** An upload that no message (not deleted) references is deleted once it is this old. */
  uploadUnattachedTtlSeconds: number;
  /** Uploads are refused while the disk of the uploads folder has less free space than this; 0: no floor. */
  uploadMinFreeBytes: number;
  ws: {
    maxFrameBytes: number;
    maxBacklogBytes: number;
    idleTimeoutMs: number;
    identifyTimeoutMs: number;
    resumeMaxMessages: number;
    /** Sockets one user may hold on this process, and one client address. */
    maxSocketsPerUser: number;
    maxSocketsPerIp: number;
  };
  presenceGraceMs: number;
  typingThrottleMs: number;
  /** `GET /metrics` (Prometheus) is served: to loopback peers, or with `metricsToken` to anyone who has it. */
  metrics: boolean;
  metricsToken: string | null;
  /** Each limit is a count per window; 0 turns it off. */
  rateLimits: {
    auth: number;
    authWindowMs: number;
    api: number;
    apiWindowMs: number;
    send: number;
    sendWindowMs: number;
    /** Password checks per account (logins, password changes), whatever address they come from. */
    password: number;
    passwordWindowMs: number;
    /** `resume` frames per user. */
    resume: number;
    resumeWindowMs: number;
  };
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; every bad value is reported in one error. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const read = new EnvReader(env, problems);

  const production = env.NODE_ENV === 'production';
  const dataDir = read.string('DATA_DIR', 'data');
  const databaseUrl = read.string('DATABASE_URL', 'sqlite:data/chat.db');
  const jwtSecret = env.JWT_SECRET ? env.JWT_SECRET : null;
  if (jwtSecret !== null && production && jwtSecret.length < 32) {
    problems.push('JWT_SECRET must be at least 32 characters when NODE_ENV=production');
  }
  checkDatabaseUrl(databaseUrl, problems);
  // The generated secret is kept there: an unusable folder is a configuration problem, found now.
  if (jwtSecret === null) checkFolder(path.resolve(dataDir), 'DATA_DIR', 'for the generated JWT secret', problems);

  const config: Config = {
    host: read.string('HOST', '0.0.0.0'),
    port: read.integer('PORT', 3000, 0, 65535),
    production,
    databaseUrl,
    dataDir,
    redisUrl: env.REDIS_URL ? env.REDIS_URL : null,
    redisChannel: read.string('REDIS_CHANNEL', 'dm-server:events'),
    jwtSecret,
    jwtTtlSeconds: read.duration('JWT_TTL', '24h'),
    // Username-only login lets anyone who knows a name in: a production server asks for it by name.
    authMode: read.oneOf('AUTH_MODE', ['open', 'password'] as const, production ? 'password' : 'open'),
    registration: read.oneOf('REGISTRATION', ['open', 'invite', 'closed'] as const, 'open'),
    corsOrigin: read.string('CORS_ORIGIN', ''),
    publicOrigin: publicOrigin(env.PUBLIC_URL, problems),
    trustProxy: trustProxy(read.string('TRUST_PROXY', 'false'), problems),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    sqliteSynchronous: read.oneOf('SQLITE_SYNCHRONOUS', ['FULL', 'NORMAL'] as const, 'FULL'),
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 1024 * 1024, 1024),
    maxUploadBytes: read.integer('MAX_UPLOAD_BYTES', 10 * 1024 * 1024, 1, 2_147_483_647),
    uploadQuotaBytes: read.integer('UPLOAD_QUOTA_BYTES', 1024 * 1024 * 1024, 0),
    uploadUnattachedTtlSeconds: read.duration('UPLOAD_UNATTACHED_TTL', '24h'),
    uploadMinFreeBytes: read.integer('UPLOAD_MIN_FREE_BYTES', 512 * 1024 * 1024, 0),
    ws: {
      maxFrameBytes: read.integer('WS_MAX_FRAME_BYTES', 64 * 1024, 1024),
      maxBacklogBytes: read.integer('WS_MAX_BACKLOG_BYTES', 1024 * 1024, 1024),
      idleTimeoutMs: read.integer('WS_IDLE_TIMEOUT_MS', 30_000, 100),
      identifyTimeoutMs: read.integer('WS_IDENTIFY_TIMEOUT_MS', 10_000, 100),
      resumeMaxMessages: read.integer('RESUME_MAX_MESSAGES', 1000, 1, 100_000),
      maxSocketsPerUser: read.integer('WS_MAX_SOCKETS_PER_USER', 32, 0),
      maxSocketsPerIp: read.integer('WS_MAX_SOCKETS_PER_IP', 256, 0),
    },
    presenceGraceMs: read.integer('PRESENCE_GRACE_MS', 0, 0),
    typingThrottleMs: read.integer('TYPING_THROTTLE_MS', 1000, 0),
    metrics: read.oneOf('METRICS', ['true', 'false'] as const, 'false') === 'true',
    metricsToken: env.METRICS_TOKEN ? env.METRICS_TOKEN : null,
    rateLimits: {
      auth: read.integer('RATE_LIMIT_AUTH', 30, 0),
      authWindowMs: read.integer('RATE_LIMIT_AUTH_WINDOW_MS', 60_000, 1),
      api: read.integer('RATE_LIMIT_API', 600, 0),
      apiWindowMs: read.integer('RATE_LIMIT_API_WINDOW_MS', 60_000, 1),
      send: read.integer('RATE_LIMIT_SEND', 30, 0),
      sendWindowMs: read.integer('RATE_LIMIT_SEND_WINDOW_MS', 10_000, 1),
      password: read.integer('RATE_LIMIT_PASSWORD', 10, 0),
      passwordWindowMs: read.integer('RATE_LIMIT_PASSWORD_WINDOW_MS', 60_000, 1),
      resume: read.integer('RATE_LIMIT_RESUME', 20, 0),
      resumeWindowMs: read.integer('RATE_LIMIT_RESUME_WINDOW_MS', 60_000, 1),
    },
  };

  if (config.redisUrl !== null && !config.databaseUrl.startsWith('postgres')) {
    // Several processes cannot share one SQLite file, and one process needs no Redis.
    problems.push('REDIS_URL is for several processes, which need PostgreSQL: set DATABASE_URL=postgres://…, or unset REDIS_URL');
  }
  // /metrics is outside the rate limits: its token must stand up to guessing on its own.
  if (config.metricsToken !== null && config.metricsToken.length < 16) problems.push('METRICS_TOKEN must be at least 16 characters');
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return config;
}

/**
 * `true` is one proxy in front: the address that proxy saw is the rightmost of `X-Forwarded-For`.
 * Believing the whole header (Fastify's `true`) would take the leftmost, which the client writes.
 */
function trustProxy(raw: string, problems: string[]): false | number | string[] {
  const value = raw.trim();
  if (value === 'false' || value === '') return false;
  if (value === 'true') return 1;
  if (/^\d+$/.test(value)) return Number(value);
  const addresses = value.split(',').map((a) => a.trim());
  if (addresses.every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a))) return addresses;
  problems.push(`TRUST_PROXY must be false, true, a number of proxies, or proxy addresses and CIDR ranges separated by commas (got "${raw}")`);
  return false;
}

/** The origin of `PUBLIC_URL` (`https://chat.example:8443`), which must be an http(s) URL. */
function publicOrigin(raw: string | undefined, problems: string[]): string | null {
  if (raw === undefined || raw.trim() === '') return null;
  const url = URL.canParse(raw.trim()) ? new URL(raw.trim()) : null;
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.push(`PUBLIC_URL must be the http:// or https:// address users open (got "${raw}")`);
    return null;
  }
  return url.origin;
}

/** The SQLite file path of a `sqlite:` URL, or null for an in-memory or non-SQLite database. */
export function sqlitePath(databaseUrl: string): string | null {
  if (!databaseUrl.startsWith('sqlite:')) return null;
  const file = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return file === ':memory:' ? null : file;
}

function checkDatabaseUrl(url: string, problems: string[]): void {
  if (/^postgres(ql)?:\/\//.test(url)) return;
  if (!url.startsWith('sqlite:')) {
    problems.push(`DATABASE_URL must start with sqlite: or postgres:// (got "${url}")`);
    return;
  }
  const file = sqlitePath(url);
  if (file === null) return;
  checkFolder(path.dirname(path.resolve(file)), 'DATABASE_URL', 'for the database', problems);
}

/** Makes `dir` if needed and checks that the server can read and write in it. */
function checkFolder(dir: string, variable: string, purpose: string, problems: string[]): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.R_OK | constants.W_OK);
  } catch (err) {
    problems.push(`${variable}: cannot use folder ${dir} ${purpose} (${(err as Error).message})`);
  }
}

class EnvReader {
  constructor(
    private readonly env: Env,
    private readonly problems: string[],
  ) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  integer(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const match = allowed.find((option) => option.toLowerCase() === raw.toLowerCase());
    if (match === undefined) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return match;
  }

  /** A duration such as `90`, `90s`, `15m`, `24h` or `7d`, in seconds. */
  duration(name: string, fallback: string): number {
    const raw = this.string(name, fallback).trim();
    const seconds = parseDuration(raw);
    if (seconds === null) {
      this.problems.push(`${name} must be a positive duration such as 3600, 15m, 24h or 7d (got "${raw}")`);
      return 86_400;
    }
    return seconds;
  }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `15m`, `24h` or `7d` in seconds; null for anything else, or for no time at all. */
export function parseDuration(raw: string): number | null {
  const match = /^(\d+)\s*([smhd]?)$/.exec(raw.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] || 's']! : 0;
  return seconds > 0 ? seconds : null;
}
