import t, { type Test } from 'tap';
import { spawnServer } from '../helpers/child-server.js';
import { serverBuild } from '../helpers/cluster.js';
import { pair, postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { connect, open, type TestSocket } from '../helpers/ws-client.js';

// Presence across processes: each process counts its sockets in Redis, so a user is online while
// it has a socket on any of them, and every change is announced once.

const redisUrl = process.env.TEST_REDIS_URL;

if (!redisUrl || !postgresUrl) {
  t.comment('TEST_REDIS_URL or TEST_DATABASE_URL is not set: skipping the presence tests across processes (.ci/run sets both)');
  t.pass('skipped: no Redis or PostgreSQL');
} else {
  const cluster = async (t: Test, env: Record<string, string> = {}) => {
    const redis = { REDIS_URL: redisUrl, REDIS_CHANNEL: `dm-presence:${process.pid}:${Math.random()}`, ...env };
    const one = await startServer(t, redis, { postgres: true });
    const two = await startServer(t, { ...redis, DATABASE_URL: one.config.databaseUrl });
    return { one, two, redis };
  };
  const onlineThrough = async (server: TestServer, token: string, userId: number) =>
    (await request(server, 'GET', `/v1/users/${userId}`, { token })).body.online as boolean;
  const presenceOf = (socket: TestSocket, userId: number) => socket.next((f) => f.type === 'presence' && f.user_id === userId);
  const until = async (check: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  t.test('a user is online while it has a socket on any process, and each change is announced once', async (t) => {
    const { one, two } = await cluster(t);
    const { alice, bob } = await pair(one);
    const bobSocket = await connect(t, one, bob);
    t.notOk(await onlineThrough(two, bob.token, alice.user.id), 'alice starts offline');

    const aliceOnTwo = await connect(t, two, alice);
    t.match(await presenceOf(bobSocket, alice.user.id), { online: true }, 'bob, on the other process, hears she came');
    await until(() => onlineThrough(one, bob.token, alice.user.id), 'alice online through process one');
    t.ok(await onlineThrough(two, bob.token, alice.user.id), 'and through process two');

    const aliceOnOne = await connect(t, one, alice);
    await aliceOnTwo.close();
    t.same((await bobSocket.settle(300)).filter((f) => f.type === 'presence'), [], 'a second socket elsewhere: no second online, no offline');
    t.ok(await onlineThrough(two, bob.token, alice.user.id), 'still online through the process she left');

    await aliceOnOne.close();
    t.match(await presenceOf(bobSocket, alice.user.id), { online: false, last_seen_at: String }, 'offline once her last socket anywhere is gone');
    await until(async () => !(await onlineThrough(two, bob.token, alice.user.id)), 'alice offline through process two');
    const seen = (await request(two, 'GET', `/v1/users/${alice.user.id}`, { token: bob.token })).body.last_seen_at;
    t.ok(seen, 'her last_seen_at was recorded');
  });

  t.test('PRESENCE_GRACE_MS holds across processes: a reconnect to another process does not flap', async (t) => {
    const { one, two } = await cluster(t, { PRESENCE_GRACE_MS: '400' });
    const { alice, bob } = await pair(one);
    const bobSocket = await connect(t, one, bob);
    const first = await connect(t, one, alice);
    t.match(await presenceOf(bobSocket, alice.user.id), { online: true });
    await first.close();
    await connect(t, two, alice);
    await new Promise((r) => setTimeout(r, 700));
    t.same(bobSocket.drain().filter((f) => f.type === 'presence'), [], 'no offline, no second online');
  });

  t.test('a killed process takes its users offline', async (t) => {
    const { one, redis } = await cluster(t);
    const { alice, bob } = await pair(one);
    const bobSocket = await connect(t, one, bob);
    const child = await spawnServer(
      {
      ...redis,
      DATABASE_URL: one.config.databaseUrl,
      JWT_SECRET: one.config.jwtSecret!,
      RATE_LIMIT_AUTH: '0',
      RATE_LIMIT_API: '0',
      RATE_LIMIT_SEND: '0',
        LOG_LEVEL: 'info',
      },
      { main: await serverBuild(t) },
    );
    t.teardown(() => child.process.kill('SIGKILL'));
    const aliceThere = await open(t, child.wsUrl, { authorization: `Bearer ${alice.token}` });
    aliceThere.send({ type: 'ping' });
    t.match(await presenceOf(bobSocket, alice.user.id), { online: true });
    child.process.kill('SIGKILL');
    await child.exited;
    t.match(await bobSocket.next((f) => f.type === 'presence' && f.user_id === alice.user.id, 8000), { online: false }, 'offline once its heartbeat has stopped');
    t.notOk(await onlineThrough(one, bob.token, alice.user.id));
  });
}
