import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { DotenvConfigOutput } from 'dotenv';
import type { Config } from './config.js';
import { describeDatabase } from './locations.js';
import { VERSION } from './version.js';

export interface StartFacts {
  /** Where the server listens, as `server.address()` answers (the port is the real one with PORT=0). */
  address: AddressInfo;
  /** The SQLite file did not exist (or was empty) before the server started. */
  newDatabase: boolean;
  /** What dotenv did with `.env` in the working directory. */
  dotenv: DotenvConfigOutput;
}

const EVERY_INTERFACE = new Set(['0.0.0.0', '::', '']);

/**
 * The one line a person reads at start, beside the JSON log: where to open the server, which
 * database and data folder it uses (absolute), its account rules, and whether `.env` was read.
 */
export function startLine(config: Config, facts: StartFacts): string {
  return [
    `dm-server ${VERSION}: open ${whereToOpen(config, facts.address.port)}`,
    `database ${describeDatabase(config)}${facts.newDatabase ? ' (new, empty)' : ''}`,
    `data folder ${path.resolve(config.dataDir)}`,
    `auth mode ${config.authMode}, registration ${config.registration}`,
    dotenvNote(facts.dotenv),
  ].join(' · ');
}

function whereToOpen(config: Config, port: number): string {
  const everywhere = EVERY_INTERFACE.has(config.host);
  // An address that works in a browser on this machine: 0.0.0.0 and :: are none.
  const host = everywhere ? 'localhost' : config.host.includes(':') ? `[${config.host}]` : config.host;
  const local = `http://${host}:${port}/`;
  const listening = everywhere ? 'listening on every interface' : null;
  if (config.publicOrigin !== null) return `${config.publicOrigin}/ (${listening ?? `listening on ${local}`})`;
  return listening ? `${local} (${listening})` : local;
}

function dotenvNote({ error }: DotenvConfigOutput): string {
  if (!error) return `.env read from ${path.resolve('.env')}`;
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `no .env in ${process.cwd()}`;
  return `.env not read: ${error.message}`;
}
