import t, { type Test } from 'tap';
import { login, postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { AuthResponse, call, GetHistoryResponse, ShindensenSocket } from '../helpers/shindensen.js';
import { connect } from '../helpers/ws-client.js';

// A native client (/v1/ws) and a shindensen client (/ws) chat with each other: each message is
// stored once and reaches both, each in its own surface's shape, in id order.

/**
 * `acrossProcesses`: each process publishes after its own commit, so the two senders' messages may
 * interleave out of id order (issue 17 delivers in commit order); each sender's stay in order.
 */
async function chatBothWays(t: Test, native: TestServer, compat: TestServer, acrossProcesses = false): Promise<void> {
  const alice = await login(native, 'alice');
  const bob = await call(compat, 'POST', '/login', AuthResponse, { body: { username: 'bob' } });
  const { chat_id: chatId } = (await request(native, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'bob' } })).body;
  const aliceSocket = await connect(t, native, alice);
  const bobSocket = await ShindensenSocket.open(t, compat, bob.token, 'identify');

  const rounds = 10;
  for (let i = 0; i < rounds; i++) {
    aliceSocket.send({ chat_id: chatId, content: `native ${i}`, client_id: `n${i}` });
    bobSocket.send({ chat_id: chatId, content: `shindensen ${i}`, files: [] });
  }
  const onCompat = await bobSocket.received(2 * rounds);
  const onNative = [];
  for (let i = 0; i < 2 * rounds; i++) onNative.push(await aliceSocket.nextOfType('message'));

  const sorted = (list: { id?: number }[]) => list.map((m) => m.id!).sort((a, b) => a - b);
  const ids = sorted(onNative);
  t.same(sorted(onCompat), ids, 'both sockets get the same messages');
  if (!acrossProcesses) {
    t.same(onNative.map((m) => m.id), ids, 'the native socket gets them in id order');
    t.same(onCompat.map((m) => m.id), ids, 'the shindensen socket gets them in id order');
  }
  for (const sender of ['native', 'shindensen']) {
    for (const [surface, received] of [['native', onNative], ['shindensen', onCompat]] as const) {
      t.same(
        received.filter((m) => m.content.startsWith(sender)).map((m) => m.content),
        Array.from({ length: rounds }, (_, i) => `${sender} ${i}`),
        `${sender} sends reach the ${surface} socket in the order sent`,
      );
    }
  }
  t.same(bobSocket.undecodable, []);
  t.match(onNative.find((m) => m.content === 'shindensen 0'), { type: 'message', sender: 'bob', client_id: null, files: [] });

  const history = await call(compat, 'GET', `/chats/${chatId}/messages`, GetHistoryResponse, { token: bob.token });
  t.same(history.messages.map((m: { id: number }) => m.id), ids, 'each message stored once, in the shindensen history');
  const native_ = await request(native, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
  t.same(native_.body.map((m: { id: number }) => m.id), ids, 'and in the native one');
}

t.test('one process on SQLite', async (t) => {
  const server = await startServer(t);
  await chatBothWays(t, server, server);
});

const redisUrl = process.env.TEST_REDIS_URL;
if (!postgresUrl || !redisUrl) {
  t.comment('TEST_DATABASE_URL or TEST_REDIS_URL is not set: skipping the PostgreSQL + Redis surfaces test (.ci/run sets them)');
} else {
  t.test('two processes on PostgreSQL + Redis: native on one, shindensen on the other', async (t) => {
    const redis = { REDIS_URL: redisUrl, REDIS_CHANNEL: `dm-test:${process.pid}:${Date.now()}` };
    const one = await startServer(t, redis, { postgres: true });
    const two = await startServer(t, { ...redis, DATABASE_URL: one.config.databaseUrl });
    await chatBothWays(t, one, two, true);
  });
}
