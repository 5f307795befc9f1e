import SQLite from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import ts from 'typescript';
import { loadOrCreateSecret } from '../../src/auth/jwt-secret.js';
import { buildApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { MigrationError } from '../../src/db/migrate.js';
import { login, startServer, type Teardown } from '../helpers/server.js';
import { call, decodeClaims } from './support.js';

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What `fn` throws (undefined when it does not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** The smallest environment that loads: a database in a folder of the test's own. */
function baseEnv(dir: string): Record<string, string> {
  return { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' };
}

t.test('loadConfig: the defaults', async (t) => {
  const dir = tempDir(t);
  const config = loadConfig(baseEnv(dir));
  t.match(config, {
    host: '0.0.0.0',
    port: 3000,
    production: false,
    redisUrl: null,
    jwtSecret: null,
    jwtTtlSeconds: 86_400,
    authMode: 'open',
    corsOrigin: '',
    registration: 'open',
    publicOrigin: null,
  });
  const durations: [string, number][] = [['90', 90], ['90s', 90], ['15m', 900], ['24h', 86_400], ['7d', 604_800]];
  for (const [raw, seconds] of durations) t.equal(loadConfig({ ...baseEnv(dir), JWT_TTL: raw }).jwtTtlSeconds, seconds, `JWT_TTL=${raw}`);
  t.equal(loadConfig({ ...baseEnv(dir), AUTH_MODE: 'password' }).authMode, 'password');
  t.equal(loadConfig({ ...baseEnv(dir), PORT: '8080' }).port, 8080);
  t.equal(loadConfig({ ...baseEnv(dir), RATE_LIMIT_AUTH: '0' }).rateLimits.auth, 0, 'a rate limit of 0 (off) is allowed');
});

t.test('loadConfig refuses bad values with a ConfigError that names them', async (t) => {
  const dir = tempDir(t);
  const cases: [string, Record<string, string>, RegExp][] = [
    ['a non-numeric PORT', { PORT: 'eighty' }, /PORT.*"eighty"/],
    ['a PORT out of range', { PORT: '70000' }, /PORT/],
    ['a negative limit', { RATE_LIMIT_AUTH: '-1' }, /RATE_LIMIT_AUTH/],
    ['an unknown AUTH_MODE', { AUTH_MODE: 'sometimes' }, /AUTH_MODE.*open, password.*"sometimes"/],
    ['an unknown LOG_LEVEL', { LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    ['a bad JWT_TTL', { JWT_TTL: 'forever' }, /JWT_TTL/],
    ['an unknown database', { DATABASE_URL: 'mysql://localhost/chat' }, /DATABASE_URL/],
    ['a short JWT_SECRET in production', { NODE_ENV: 'production', JWT_SECRET: 'short' }, /JWT_SECRET.*32.*production/],
    ['Redis on SQLite', { REDIS_URL: 'redis://127.0.0.1:6379' }, /REDIS_URL.*PostgreSQL/],
  ];
  for (const [name, env, message] of cases) {
    const err = thrown(() => loadConfig({ ...baseEnv(dir), ...env }));
    t.ok(err instanceof ConfigError, `${name}: a ConfigError`);
    t.match(err, { message }, `${name}: the message says what is wrong`);
  }
  const many = () => loadConfig({ ...baseEnv(dir), PORT: 'x', AUTH_MODE: 'y' });
  t.throws(many, { message: /PORT[\s\S]*AUTH_MODE/ }, 'every problem is reported at once');
  t.doesNotThrow(() => loadConfig({ ...baseEnv(dir), NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }), 'a long secret is fine');
  t.doesNotThrow(() => loadConfig({ ...baseEnv(dir), JWT_SECRET: 'short' }), 'a short secret is fine outside production');
  t.doesNotThrow(() => loadConfig({ ...baseEnv(dir), NODE_ENV: 'production' }), 'production without a secret generates one');
});

t.test('loadConfig refuses a database folder it cannot use', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, 'not a folder');
  const env = { ...baseEnv(dir), DATABASE_URL: `sqlite:${path.join(file, 'sub', 'chat.db')}` };
  const err = thrown(() => loadConfig(env));
  t.ok(err instanceof ConfigError, 'a ConfigError');
  t.match(err, { message: /DATABASE_URL.*a-file/ }, 'the message names the variable and the folder');

  const dataDir = { ...baseEnv(dir), DATA_DIR: path.join(file, 'data') };
  const unusable = thrown(() => loadConfig(dataDir));
  t.ok(unusable instanceof ConfigError, 'DATA_DIR, where the generated secret goes: a ConfigError');
  t.match(unusable, { message: /DATA_DIR.*a-file.*JWT secret/ });
  t.doesNotThrow(() => loadConfig({ ...dataDir, JWT_SECRET: 'configured' }), 'not needed with a JWT_SECRET');
});

t.test('the generated JWT secret: created once with mode 0600, then reused', async (t) => {
  const dir = tempDir(t);
  const nested = path.join(dir, 'not', 'yet');
  const secret = loadOrCreateSecret(nested);
  const file = path.join(nested, 'jwt-secret');
  t.ok(secret.length >= 32, 'long enough');
  t.equal(readFileSync(file, 'utf8').trim(), secret, 'kept in the data folder');
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by the owner only');
  t.equal(loadOrCreateSecret(nested), secret, 'reused');
  t.not(loadOrCreateSecret(path.join(dir, 'other')), secret, 'another folder, another secret');
});

t.test('processes creating the secret at the same moment all read one complete secret', async (t) => {
  // Threads stand in for processes: each round, four of them call loadOrCreateSecret on a new
  // folder at once (a barrier lines them up). The module is the real source, transpiled, because
  // workers do not inherit tap's TypeScript loader.
  const ROUNDS = 100;
  const THREADS = 4;
  const base = tempDir(t);
  const dirs = Array.from({ length: ROUNDS }, (_, i) => path.join(base, String(i)));
  const source = readFileSync(new URL('../../src/auth/jwt-secret.ts', import.meta.url), 'utf8');
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const moduleUrl = `data:text/javascript;base64,${Buffer.from(js.outputText).toString('base64')}`;
  const arrived = new Int32Array(new SharedArrayBuffer(4));
  const worker = `
    const { parentPort, workerData: { moduleUrl, arrived, dirs, threads } } = require('node:worker_threads');
    import(moduleUrl).then(({ loadOrCreateSecret }) => {
      const secrets = [];
      dirs.forEach((dir, round) => {
        Atomics.add(arrived, 0, 1);
        Atomics.notify(arrived, 0);
        for (let now; (now = Atomics.load(arrived, 0)) < (round + 1) * threads; ) Atomics.wait(arrived, 0, now, 50);
        secrets.push(loadOrCreateSecret(dir));
      });
      parentPort.postMessage(secrets);
    });
  `;
  const results = await Promise.all(
    Array.from(
      { length: THREADS },
      () =>
        new Promise<string[]>((resolve, reject) => {
          const thread = new Worker(worker, { eval: true, workerData: { moduleUrl, arrived, dirs, threads: THREADS } });
          thread.once('message', resolve);
          thread.once('error', reject);
        }),
    ),
  );
  const split = dirs.filter((_, round) => new Set(results.map((secrets) => secrets[round])).size !== 1);
  t.same(split, [], 'every thread read the same secret in every round');
  t.notOk(results.flat().includes(''), 'nobody read an empty secret');
  t.same(readdirSync(dirs[0]!), ['jwt-secret'], 'no temporary files are left behind');
});

t.test('without JWT_SECRET, tokens survive a restart', async (t) => {
  const dir = tempDir(t);
  const env = { ...baseEnv(dir), JWT_SECRET: '' };
  const first = await startServer(t, env);
  const session = await login(first, 'restarter');
  await first.app.close();
  t.equal(statSync(path.join(dir, 'jwt-secret')).mode & 0o777, 0o600);

  const second = await startServer(t, env);
  const me = await call(second, 'GET', '/v1/me', { token: session.token });
  t.equal(me.status, 200, 'the first server’s token is still good');
  t.equal(me.body.id, session.user.id);
  t.equal(decodeClaims(session.token).sub, String(session.user.id));

  const elsewhere = await startServer(t, { JWT_SECRET: '' });
  t.equal((await call(elsewhere, 'GET', '/v1/me', { token: session.token })).status, 401, 'another data folder has another secret');
});

t.test('the server refuses a database migrated by a newer version', async (t) => {
  const dir = tempDir(t);
  const env = { ...baseEnv(dir), JWT_SECRET: 'test-secret-that-is-long-enough-for-production' };
  const first = await startServer(t, env);
  await login(first, 'survivor');
  await first.app.close();

  const db = new SQLite(path.join(dir, 'chat.db'));
  const applied = db.prepare('select name from kysely_migration').all() as { name: string }[];
  t.ok(applied.length > 0, 'the first start ran the migrations');
  db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('2999-01-01-001-from-the-future', new Date().toISOString());
  db.close();

  const config = loadConfig(env);
  const err = await buildApp(config, { logger: false }).then(
    async (app) => {
      await app.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  t.ok(err instanceof MigrationError, 'a MigrationError');
  t.match(err, { message: /newer version.*2999-01-01-001-from-the-future/ }, 'the message says why');

  const check = new SQLite(path.join(dir, 'chat.db'), { readonly: true });
  const users = check.prepare('select username from users').all() as { username: string }[];
  check.close();
  t.same(users, [{ username: 'survivor' }], 'the data was left alone');
});

t.test('a database the server migrated itself starts again', async (t) => {
  const dir = tempDir(t);
  const env = { ...baseEnv(dir), JWT_SECRET: 'test-secret-that-is-long-enough-for-production' };
  const first = await startServer(t, env);
  const session = await login(first, 'returning');
  await first.app.close();
  const second = await startServer(t, env);
  const again = await login(second, 'returning');
  t.equal(again.user.id, session.user.id, 'the same account after a restart');
});

t.test('loadConfig: the upload quota, the sweep of unattached uploads and the free-disk floor', async (t) => {
  const dir = tempDir(t);
  t.match(loadConfig(baseEnv(dir)), { uploadQuotaBytes: 1024 ** 3, uploadUnattachedTtlSeconds: 86_400, uploadMinFreeBytes: 512 * 1024 ** 2 }, 'the defaults');
  const set = loadConfig({ ...baseEnv(dir), UPLOAD_QUOTA_BYTES: '0', UPLOAD_UNATTACHED_TTL: '7d', UPLOAD_MIN_FREE_BYTES: '0' });
  t.match(set, { uploadQuotaBytes: 0, uploadUnattachedTtlSeconds: 604_800, uploadMinFreeBytes: 0 }, '0 turns the quota and the floor off');
  const bad = thrown(() => loadConfig({ ...baseEnv(dir), UPLOAD_QUOTA_BYTES: '1GB', UPLOAD_UNATTACHED_TTL: '0', UPLOAD_MIN_FREE_BYTES: '-1' }));
  t.ok(bad instanceof ConfigError);
  t.match(bad, { message: /UPLOAD_QUOTA_BYTES.*"1GB"[\s\S]*UPLOAD_UNATTACHED_TTL[\s\S]*UPLOAD_MIN_FREE_BYTES/ }, 'each bad value is named');
});
