// `npm run package`: dist/dm-server, the server as one Linux executable (Node's single executable
// applications): a copy of this node binary with the server inside it, which runs with nothing else
// installed. Inside: one CommonJS bundle of src/main.ts, with every package in it (pg and ioredis
// too: the executable's require() loads Node's own modules only), and the files it extracts on
// first need (src/runtime/files-executable.ts): the web client, Swagger UI's files, the threads'
// entry points and better-sqlite3's addon. `node scripts/package.mjs <file>` writes elsewhere (the test).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { build } from 'esbuild';

const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const require = createRequire(import.meta.url);
const outputName = process.argv[2] ?? 'dist/dm-server';
const output = path.resolve(outputName);
const parts = `${output}.parts`;
const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

// postject writes ELF only here; macOS and Windows executables also need signing, untested.
if (process.platform !== 'linux') throw new Error(`npm run package builds a Linux executable; this is ${process.platform}`);
// The executable is this node: node:sea's assets, which it reads its files with, came in 20.12.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major === 20 && minor < 12) throw new Error(`npm run package needs Node 20.12 or later; this is ${process.version}`);

rmSync(parts, { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/main.ts', 'checkpoint-worker': 'src/db/checkpoint-worker.ts', 'hash-worker': 'src/auth/hash-worker.ts' },
  outdir: parts,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: {
    __DM_SERVER_VERSION__: JSON.stringify(version),
    // ws's switches for its optional native helpers, which are not installed: it would try require().
    'process.env.WS_NO_BUFFER_UTIL': '"1"',
    'process.env.WS_NO_UTF_8_VALIDATE': '"1"',
  },
  plugins: [executableFiles()],
  // import.meta is empty in CommonJS: checked below in what the build kept, not in what it read.
  logOverride: { 'empty-import-meta': 'silent' },
  logLevel: 'warning',
});
for (const file of readdirSync(parts)) {
  if (/\bimport_meta\d*\b/.test(readFileSync(path.join(parts, file), 'utf8'))) {
    throw new Error(`${file} reads import.meta, which is empty in the executable: find files through src/runtime/files.ts`);
  }
}

const packageFolder = (name) => path.dirname(require.resolve(`${name}/package.json`));
/** Extracted at run time: the name it is extracted as → the file here. */
const files = {
  ...folder('web', 'web'),
  ...folder('swagger-ui', path.join(packageFolder('@fastify/swagger-ui'), 'static')),
  'checkpoint-worker.cjs': path.join(parts, 'checkpoint-worker.cjs'),
  'hash-worker.cjs': path.join(parts, 'hash-worker.cjs'),
  'better_sqlite3.node': path.join(packageFolder('better-sqlite3'), 'build', 'Release', 'better_sqlite3.node'),
};
const hash = createHash('sha256');
for (const [name, file] of Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${name}\0`).update(readFileSync(file));
writeFileSync(path.join(parts, 'files.json'), JSON.stringify({ key: `${version}-${hash.digest('hex').slice(0, 16)}`, files: Object.keys(files) }));

const seaConfig = path.join(parts, 'sea-config.json');
const blob = path.join(parts, 'sea.blob');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: path.join(parts, 'main.cjs'),
    output: blob,
    disableExperimentalSEAWarning: true,
    // V8's compiled code for the bundle, made now: each start skips compiling what it runs.
    useCodeCache: true,
    assets: { 'files.json': path.join(parts, 'files.json'), ...files },
  }),
);
run(process.execPath, ['--experimental-sea-config', seaConfig]);
mkdirSync(path.dirname(output), { recursive: true });
copyFileSync(process.execPath, output);
chmodSync(output, 0o755);
run(process.execPath, [require.resolve('postject/dist/cli.js'), output, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE]);
rmSync(parts, { recursive: true, force: true });
process.stdout.write(`${outputName}: dm-server ${version}, ${(statSync(output).size / 2 ** 20).toFixed(1)} MiB\n`);

/** The web client's and Swagger UI's files, as `<prefix>/<path in folder>`. */
function folder(prefix, dir) {
  const entries = readdirSync(dir, { recursive: true }).filter((name) => statSync(path.join(dir, name)).isFile());
  return Object.fromEntries(entries.map((name) => [`${prefix}/${name}`, path.join(dir, name)]));
}

/** The executable finds the server's files with src/runtime/files-executable.ts in src/runtime/files.ts's place. */
function executableFiles() {
  const sources = path.resolve('src/runtime/files.js');
  return {
    name: 'executable-files',
    setup(build) {
      build.onResolve({ filter: /\/files\.js$/ }, (args) =>
        path.resolve(args.resolveDir, args.path) === sources ? { path: path.resolve('src/runtime/files-executable.ts') } : undefined,
      );
    },
  };
}

/** Quiet unless it fails: postject prints a warning for each ELF note it does not know. */
function run(command, args) {
  try {
    execFileSync(command, args, { stdio: 'pipe' });
  } catch (err) {
    process.stderr.write(err.stdout ?? '');
    process.stderr.write(err.stderr ?? '');
    throw err;
  }
}
