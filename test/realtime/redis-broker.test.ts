import t from 'tap';
import { login, postgresUrl, request, startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// Two server instances over one database and one Redis channel: events cross between them.

const redisUrl = process.env.TEST_REDIS_URL;

if (!redisUrl || !postgresUrl) {
  t.comment('TEST_REDIS_URL or TEST_DATABASE_URL is not set: skipping the Redis tests (.ci/run sets both)');
  t.pass('skipped: no Redis or PostgreSQL');
} else {
  t.test('a message sent through one process reaches sockets on the other', async (t) => {
    const redis = { REDIS_URL: redisUrl, REDIS_CHANNEL: `dm-test:${process.pid}:${Date.now()}` };
    const one = await startServer(t, redis, { postgres: true });
    const two = await startServer(t, { ...redis, DATABASE_URL: one.config.databaseUrl });

    const alice = await login(one, 'alice');
    const bob = await login(two, 'bob');
    const started = await request(two, 'POST', '/v1/chats/initiate', { token: bob.token, body: { target_username: 'alice' } });
    const chatId = started.body.chat_id;
    const aliceSocket = await connect(t, one, alice);
    const bobOnOne = await connect(t, one, bob);
    const bobOnTwo = await connect(t, two, bob);

    for (let i = 0; i < 20; i++) aliceSocket.send({ chat_id: chatId, content: `m${i}`, client_id: `c${i}` });
    for (const socket of [aliceSocket, bobOnOne, bobOnTwo]) {
      const contents = [];
      while (contents.length < 20) contents.push((await socket.nextOfType('message')).content);
      t.same(contents, Array.from({ length: 20 }, (_, i) => `m${i}`));
    }

    bobOnTwo.send({ type: 'typing', chat_id: chatId });
    t.match(await aliceSocket.nextOfType('typing'), { user_id: bob.user.id });
    const rest = await request(two, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: 'via two' } });
    t.match(await aliceSocket.nextOfType('message'), { id: rest.body.id, content: 'via two' });
  });

  t.test('an unreachable Redis stops start-up with a clear message', async (t) => {
    await t.rejects(startServer(t, { REDIS_URL: 'redis://127.0.0.1:1' }, { postgres: true }), /Cannot reach Redis/);
  });
}
