import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { TS_LOADER } from '../helpers/child-server.js';
import { postgresSchema, postgresUrl } from '../helpers/server.js';
import { VERSION } from '../../src/version.js';
import { loadConfig } from '../../src/config.js';
import { startLine as startLineOf } from '../../src/start-line.js';
import { MAIN } from './run.js';

t.setTimeout(120_000);

/** Starts `dm-server` in `cwd` with only `env` set of the server's settings; answers its start line, then stops it. */
async function startLine(cwd: string, env: Record<string, string>): Promise<string> {
  const settings = ['HOST', 'PORT', 'DATABASE_URL', 'DATA_DIR', 'JWT_SECRET', 'AUTH_MODE', 'REGISTRATION', 'PUBLIC_URL', 'LOG_LEVEL', 'NODE_ENV'];
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !settings.includes(name)));
  const child = spawn(process.execPath, [`--import=${TS_LOADER}`, MAIN], {
    cwd,
    env: { ...inherited, TS_NODE_TRANSPILE_ONLY: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    return await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (line) => {
        if (line.startsWith('dm-server ')) resolve(line);
      });
      void exited.then((code) => reject(new Error(`the server exited with ${code} before its start line`)));
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

t.test('the start line says where to open the server and which files it uses, as absolute paths', async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'dm-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  // The settings of a .env in the working directory are read: the auth mode here comes from it.
  writeFileSync(path.join(cwd, '.env'), 'AUTH_MODE=password\nHOST=127.0.0.1\n');
  const first = await startLine(cwd, { PORT: '0' });
  const port = /^dm-server [^:]+: open http:\/\/127\.0\.0\.1:(\d+)\/ · /.exec(first)?.[1];
  t.ok(port && Number(port) > 0, `the port listened on, not 0: ${first}`);
  t.equal(
    first,
    `dm-server ${VERSION}: open http://127.0.0.1:${port}/ · database ${cwd}/data/chat.db (new, empty) · data folder ${cwd}/data · ` +
      `auth mode password, registration open · .env read from ${cwd}/.env`,
  );

  rmSync(path.join(cwd, '.env'));
  const again = await startLine(cwd, { HOST: '127.0.0.1', PORT: '0', PUBLIC_URL: 'https://chat.example/app' });
  t.match(again, /: open https:\/\/chat\.example\/ \(listening on http:\/\/127\.0\.0\.1:\d+\/\) · /, 'PUBLIC_URL, and where it listens');
  t.match(again, ` · database ${cwd}/data/chat.db · `, 'the database is not new the second time');
  t.match(again, ` · no .env in ${cwd}`, 'no .env, and where it was looked for');
});

t.test('a server on every interface is shown at an address a browser on the machine opens', async (t) => {
  const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', JWT_SECRET: 'x', HOST: '0.0.0.0', AUTH_MODE: 'password', REGISTRATION: 'invite' });
  const facts = { address: { address: '0.0.0.0', family: 'IPv4', port: 3000 }, newDatabase: false, dotenv: { parsed: {} } };
  t.match(startLineOf(config, facts), /: open http:\/\/localhost:3000\/ \(listening on every interface\) · database in memory/);
  t.match(startLineOf({ ...config, host: '::' }, facts), /: open http:\/\/localhost:3000\/ \(listening on every interface\) · /);
  t.match(startLineOf({ ...config, host: '::1' }, facts), /: open http:\/\/\[::1\]:3000\/ · .* · auth mode password, registration invite · /);
  t.match(startLineOf({ ...config, publicOrigin: 'https://chat.example' }, facts), /: open https:\/\/chat\.example\/ \(listening on every interface\) · /);
});

t.test('on PostgreSQL the start line names the server and database, not the password', { skip: !postgresUrl && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'dm-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const url = new URL(await postgresSchema(t));
  const line = await startLine(cwd, { HOST: '127.0.0.1', PORT: '0', DATABASE_URL: url.toString() });
  t.match(line, ` · database PostgreSQL ${url.hostname}:${url.port || 5432}${url.pathname} · `);
  if (url.password) t.notOk(line.includes(url.password), 'no password');
});
