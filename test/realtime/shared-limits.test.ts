import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { connectLimitStore, tokenBuckets } from '../../src/rate-limit-store.js';
import { postgresSchema, postgresUrl, request, startServer, type Teardown } from '../helpers/server.js';

// The rate limits that processes behind one balancer share through Redis: the token buckets
// themselves, the HTTP limits across two servers, and failing open when Redis goes away.

const redisUrl = process.env.TEST_REDIS_URL;

/** A logger that keeps the warnings' messages. */
function recordingLog() {
  const warnings: string[] = [];
  return { warnings, log: { warn: (_obj: unknown, message?: string) => void warnings.push(message ?? '') } };
}

t.test('without Redis, the buckets are the in-memory RateLimiter', async (t) => {
  const buckets = tokenBuckets<number>(2, 60_000, null, 'unused', recordingLog().log);
  t.teardown(() => buckets.stop());
  t.equal(await buckets.take(1), 0);
  t.equal(await buckets.take(1), 0);
  t.ok((await buckets.take(1)) > 0, 'the third is refused');
  t.equal(await buckets.take(2), 0, 'each key has its own bucket');
});

t.test('an unreachable Redis stops start-up with a clear message', async (t) => {
  await t.rejects(connectLimitStore('redis://127.0.0.1:1', recordingLog().log), /Cannot reach Redis at REDIS_URL for the rate limits/);
});

if (!redisUrl || !postgresUrl) {
  t.comment('TEST_REDIS_URL or TEST_DATABASE_URL is not set: skipping the Redis tests (.ci/run sets both)');
  t.pass('skipped: no Redis or PostgreSQL');
} else {
  const unique = () => `dm-test:${process.pid}:${Date.now()}:${Math.random().toString(36).slice(2, 8)}`;

  t.test('the Redis token bucket', async (t) => {
    const { log, warnings } = recordingLog();
    // Two clients, as two processes would have.
    const one = await connectLimitStore(redisUrl, log);
    const two = await connectLimitStore(redisUrl, log);
    t.teardown(() => {
      one.disconnect();
      two.disconnect();
    });

    t.test('a burst of the limit, through two processes, then a refusal with the wait for one token', async (t) => {
      const prefix = `${unique()}:send`;
      const a = tokenBuckets<number>(3, 3000, one, prefix, log);
      const b = tokenBuckets<number>(3, 3000, two, prefix, log);
      t.same([await a.take(7), await b.take(7), await a.take(7)], [0, 0, 0]);
      const wait = await b.take(7);
      t.ok(wait > 0 && wait <= 1000, `refused for at most window/limit (${wait} ms)`);
      t.ok((await a.take(7)) > 0, 'refused in the other process too');
      t.equal(await a.take(8), 0, 'another key has its own bucket');
      a.stop();
      t.ok((await b.take(7)) > 0, 'stopping one process leaves the shared bucket to the others');
    });

    t.test('refills over the window, and the key expires when idle', async (t) => {
      const prefix = `${unique()}:typing`;
      const buckets = tokenBuckets<string>(2, 400, one, prefix, log);
      t.same([await buckets.take('1:5'), await buckets.take('1:5')], [0, 0]);
      const wait = await buckets.take('1:5');
      t.ok(wait > 0 && wait <= 200, `one token refills in window/limit (${wait} ms)`);
      const ttl = await one.pttl(`${prefix}:1:5`);
      t.ok(ttl > 0 && ttl <= 400, `the key lives one window (${ttl} ms)`);
      await sleep(wait + 20);
      t.equal(await buckets.take('1:5'), 0, 'allowed once a token has refilled');
      t.ok((await buckets.take('1:5')) > 0, 'but only one');
      await sleep(450);
      t.equal(await one.exists(`${prefix}:1:5`), 0, 'gone after a window without a take');
    });

    t.test('a limit of 0 is off and never asks Redis', async (t) => {
      const untouchable = new Proxy({}, { get: () => t.fail('Redis was used') }) as Redis;
      const buckets = tokenBuckets<number>(0, 1000, untouchable, unique(), log);
      t.same([await buckets.take(1), await buckets.take(1), await buckets.take(1)], [0, 0, 0]);
      buckets.stop();
    });

    t.equal(warnings.length, 0, 'no warning while Redis answers');
  });

  t.test('Redis gone: the buckets fail open with one warning', async (t) => {
    const redis = await privateRedis(t);
    const { log, warnings } = recordingLog();
    const client = await connectLimitStore(redis.url, log);
    t.teardown(() => client.disconnect());
    const buckets = tokenBuckets<number>(1, 60_000, client, unique(), log);
    t.equal(await buckets.take(1), 0);
    t.ok((await buckets.take(1)) > 0, 'limited while Redis answers');
    await redis.stop();
    t.same([await buckets.take(1), await buckets.take(1), await buckets.take(1)], [0, 0, 0]);
    t.equal(warnings.filter((w) => /could not reach Redis/.test(w)).length, 1, 'one warning for the outage');
  });

  t.test('the HTTP limits count across two servers', async (t) => {
    const env = { REDIS_URL: redisUrl, REDIS_CHANNEL: unique(), RATE_LIMIT_AUTH: '3', RATE_LIMIT_API: '100' };
    const one = await startServer(t, env, { postgres: true });
    const two = await startServer(t, { ...env, DATABASE_URL: one.config.databaseUrl });
    const servers = [one, two, one, two, one];
    const logins = [];
    for (const [i, server] of servers.entries()) {
      logins.push(await request(server, 'POST', '/v1/login', { body: { username: `shared${i}` } }));
    }
    t.same(
      logins.map((res) => res.status),
      [200, 200, 200, 429, 429],
      'three logins in all, not three per server',
    );
    const refused = logins[4]!;
    t.match(refused.body, { error: String, code: 'RATE_LIMITED' });
    t.ok(Number(refused.headers.get('retry-after')) >= 1, 'with Retry-After');
    // The API budget is a limiter of its own: the spent auth budget does not touch it.
    const me = await request(two, 'GET', '/v1/me', { token: logins[0]!.body.token });
    t.equal(me.status, 200);
  });

  t.test('a Redis that stops answering does not turn the HTTP limits into errors', async (t) => {
    const redis = await privateRedis(t);
    const dir = mkdtempSync(path.join(tmpdir(), 'dm-limits-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const config = loadConfig({
      DATABASE_URL: await postgresSchema(t),
      DATA_DIR: dir,
      JWT_SECRET: 'test-secret-that-is-long-enough-for-production',
      REDIS_URL: redis.url,
      REDIS_CHANNEL: unique(),
      RATE_LIMIT_AUTH: '2',
      RATE_LIMIT_API: '2',
    });
    const logged: string[] = [];
    const app = await buildApp(config, { logger: { level: 'warn', stream: { write: (line: string) => void logged.push(JSON.parse(line).msg) } } });
    t.teardown(() => app.close());
    const login = () => app.inject({ method: 'POST', url: '/v1/login', payload: { username: 'alice' } });
    const { token } = (await login()).json();
    await redis.stop();
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await login()).statusCode);
      statuses.push((await app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode);
    }
    t.same(statuses, [200, 200, 200, 200, 200, 200], 'let through, past both limits');
    t.equal(logged.filter((m) => /HTTP rate limits could not reach Redis/.test(m)).length, 1, 'one warning for the outage');
  });
}

/** A redis-server of the test's own on a free port, so that the test can stop it. */
async function privateRedis(t: Teardown): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  t.teardown(stop);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server did not start:\n${output}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop };
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
