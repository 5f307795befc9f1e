// The server build that `npm start` runs: dist/server/main.js (and the checkpoint thread beside it),
// made from tsc's output in dist/src. Loading ~1,000 small ES modules (TypeBox, Kysely, our own)
// took a third of the start-up time; in one file they load at once. Other packages stay in
// node_modules: native code (better-sqlite3), files they read from their own folder
// (@fastify/swagger-ui, @fastify/static), and drivers loaded only when configured (pg, ioredis).
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const BUNDLED = new Set(['typebox', 'kysely']);
// Run by `npm run build`, from the project folder.
const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8'));

await build({
  // The checkpoint thread is started from a file beside the code that starts it (checkpointer.ts).
  entryPoints: { main: 'dist/src/main.js', 'checkpoint-worker': 'dist/src/db/checkpoint-worker.js' },
  outdir: 'dist/server',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: Object.keys(dependencies).filter((name) => !BUNDLED.has(name)),
  sourcemap: 'linked',
  logLevel: 'warning',
});
