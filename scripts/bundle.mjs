// The server build that `npm start` runs: dist/server/main.js, its threads' entry points and chunks
// beside it, bundled from the sources (`npm run build` type-checks them first). One file loads far
// faster than Fastify, its plugins, TypeBox and Kysely as thousands of small modules from
// node_modules (README, Performance). Left out: native code (better-sqlite3) and the drivers that
// are loaded only when configured (pg, ioredis), which code splitting keeps out of start-up.
// `node scripts/bundle.mjs <folder>` writes elsewhere (the bundle test).
import { readFileSync, rmSync } from 'node:fs';
import process from 'node:process';
import { build } from 'esbuild';

const EXTERNAL = ['better-sqlite3', 'pg', 'ioredis'];
const outdir = process.argv[2] ?? 'dist/server';
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

rmSync(outdir, { recursive: true, force: true });
await build({
  // main.js is the server and the operator's commands alike (src/main.ts); the checkpoint and
  // password hashing threads start from files beside it (src/runtime/files.ts).
  entryPoints: {
    main: 'src/main.ts',
    'checkpoint-worker': 'src/db/checkpoint-worker.ts',
    'hash-worker': 'src/auth/hash-worker.ts',
  },
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: EXTERNAL,
  // The bundled CommonJS packages call require() for Node's own modules, which ES modules lack.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  define: { __DM_SERVER_VERSION__: JSON.stringify(version) },
  sourcemap: 'linked',
  logLevel: 'warning',
});
