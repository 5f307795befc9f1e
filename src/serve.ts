import { statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import closeWithGrace from 'close-with-grace';
import type { DotenvConfigOutput } from 'dotenv';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { MigrationError } from './db/migrate.js';
import { databaseFile } from './locations.js';
import { startLine } from './start-line.js';
import { startupWarnings } from './startup-warnings.js';

/** Starts the server and keeps it running until a signal; exits with 1 when it cannot start. */
export function serve(dotenv: DotenvConfigOutput): void {
  start(dotenv).catch((err: unknown) => {
    if (err instanceof ConfigError || err instanceof MigrationError) {
      console.error(err.message);
    } else {
      console.error('The server could not start:', err);
    }
    process.exit(1);
  });
}

async function start(dotenv: DotenvConfigOutput): Promise<void> {
  const config = loadConfig();
  const file = databaseFile(config);
  // Looked at before the database is opened, which makes the file.
  const newDatabase = file !== null && isMissingOrEmpty(file);
  const app = await buildApp(config);
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });
  // A restart brings every client back at once: Node's default queue of 511 unaccepted
  // connections overflows, and clients wait for SYN retries (the kernel caps it at somaxconn).
  await app.listen({ host: config.host, port: config.port, backlog: 4096 });
  for (const warning of startupWarnings(config)) app.log.warn(warning);
  console.error(startLine(config, { address: app.server.address() as AddressInfo, newDatabase, dotenv }));
}

function isMissingOrEmpty(file: string): boolean {
  try {
    return statSync(file).size === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}
