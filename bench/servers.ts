import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, Managed, waitHealthy } from './processes.js';
import { startFlags } from './start-flags.js';

/** The production build next to this file, unless SERVER_MAIN names another one (to compare two builds). */
let serverMain = fileURLToPath(new URL('../server/main.js', import.meta.url));

export function useServerBuild(main: string): void {
  serverMain = path.resolve(main);
}
const BASELINE_MAIN = fileURLToPath(new URL('./baseline.js', import.meta.url));

/** The server runs as `npm start` runs it. */
export const SERVER_NODE_FLAGS = startFlags(new URL('../../package.json', import.meta.url));

const START_TIMEOUT_MS = 30_000;

/** The server, the bare baseline, or the baseline that stores every send first (baseline.ts). */
export type TargetKind = 'server' | 'baseline' | 'durable';

/** A running server (the real one or a baseline) on 127.0.0.1. */
export interface Target {
  kind: TargetKind;
  baseUrl: string;
  proc: Managed;
  /** From spawn to the first 200 of `GET /healthz`. */
  startupMs: number;
  /** Set when started with `inspectPort`. */
  inspectPort?: number;
}

export interface StartOptions {
  /** The server's data folder (its SQLite file is `<dataDir>/chat.db`); also its working folder. */
  dataDir: string;
  /** Extra node flags: `--cpu-prof …`. */
  nodeArgs?: string[];
  /** Opens the inspector on 127.0.0.1 (forced GC for memory figures). */
  inspect?: boolean;
}

/** One secret per bench run, 40 characters (production refuses short ones). */
const JWT_SECRET = randomBytes(20).toString('hex');

export function serverEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  return {
    // The bench's own environment passes through, so that e.g. SQLITE_SYNCHRONOUS=NORMAL can be measured.
    ...process.env,
    NODE_ENV: 'production',
    // The load generator logs in by username, which production refuses unless asked for.
    AUTH_MODE: process.env.AUTH_MODE ?? 'open',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: `sqlite:${dataDir}/chat.db`,
    JWT_SECRET,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_AUTH: '0',
    RATE_LIMIT_API: '0',
    RATE_LIMIT_SEND: '0',
  };
}

export async function startTarget(kind: TargetKind, options: StartOptions): Promise<Target> {
  const port = await freePort();
  const inspectPort = options.inspect ? await freePort() : undefined;
  const args = [...(kind === 'server' ? SERVER_NODE_FLAGS : []), ...(options.nodeArgs ?? [])];
  if (inspectPort !== undefined) args.push(`--inspect=127.0.0.1:${inspectPort}`);
  args.push(kind === 'server' ? serverMain : BASELINE_MAIN);
  const env =
    kind === 'server'
      ? serverEnv(options.dataDir, port)
      : { ...process.env, PORT: String(port), NODE_ENV: 'production', BASELINE_DB: kind === 'durable' ? path.join(options.dataDir, 'chat.db') : undefined };

  const started = performance.now();
  // The data folder as working folder: a .env file of the project cannot leak into the run.
  const proc = new Managed({ name: kind, args, env, cwd: options.dataDir });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    const startupMs = await Promise.race([waitHealthy(baseUrl, started, START_TIMEOUT_MS, proc), proc.died()]);
    return { kind, baseUrl, proc, startupMs, inspectPort };
  } catch (err) {
    await proc.stop(2000);
    throw err;
  }
}
