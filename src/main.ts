import closeWithGrace from 'close-with-grace';
import { config as loadDotenv } from 'dotenv';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { MigrationError } from './db/migrate.js';
import { startupWarnings } from './startup-warnings.js';

// Variables already set in the environment win over .env.
loadDotenv({ quiet: true });

async function main(): Promise<void> {
  const config = loadConfig();
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
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof MigrationError) {
    console.error(err.message);
  } else {
    console.error('The server could not start:', err);
  }
  process.exit(1);
});
