import t, { type Test } from 'tap';
import { login, postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { asUuid, AuthResponse, call, GENERAL, Message, Messages, RoomSocket } from '../helpers/rooms-api.js';
import { connect } from '../helpers/ws-client.js';

// A native member of `general` (/v1/ws) and a rooms client (/api/ws/{room_id}) talk in the room:
// each message is stored once and reaches both, each in its own surface's shape.

/** `acrossProcesses`: the two senders' messages may interleave out of id order (issue 17); each sender's stay in order. */
async function talkInGeneral(t: Test, native: TestServer, rooms: TestServer, acrossProcesses = false): Promise<void> {
  const alice = await login(native, 'alice');
  const general = (await request(native, 'GET', '/v1/rooms?q=general', { token: alice.token })).body[0];
  t.equal((await request(native, 'POST', `/v1/rooms/${general.id}/join`, { token: alice.token })).status, 200);
  const rita = await call(rooms, 'POST', '/api/register', AuthResponse, { body: { username: 'rita', password: 'password1' } });
  const aliceSocket = await connect(t, native, alice);
  const ritaSocket = await RoomSocket.open(t, rooms, GENERAL, rita.token);

  const rounds = 10;
  const posts = [];
  for (let i = 0; i < rounds; i++) {
    aliceSocket.send({ chat_id: general.id, content: `native ${i}`, client_id: `n${i}` });
    posts.push(call(rooms, 'POST', '/api/messages', Message, { token: rita.token, body: { room_id: GENERAL, content: `rooms ${i}` } }));
  }
  // Posted concurrently: their order is the order of their ids.
  const posted = (await Promise.all(posts)).sort((a, b) => (a.id < b.id ? -1 : 1)).map((m) => m.content);
  const onRooms = (await ritaSocket.received(2 * rounds)).map((f) => f.message);
  const onNative = [];
  for (let i = 0; i < 2 * rounds; i++) onNative.push(await aliceSocket.nextOfType('message'));

  const ids = onNative.map((m) => m.id as number).sort((a, b) => a - b);
  t.same(onRooms.map((m) => m.id).sort(), ids.map(asUuid).sort(), 'both sockets get the same messages, once each');
  if (!acrossProcesses) {
    t.same(onNative.map((m) => m.id), ids, 'the native socket gets them in id order');
    t.same(onRooms.map((m) => m.id), ids.map(asUuid), 'the room socket gets them in id order');
  }
  for (const sender of ['native', 'rooms']) {
    const expected = sender === 'rooms' ? posted : Array.from({ length: rounds }, (_, i) => `${sender} ${i}`);
    t.same(onNative.filter((m) => m.content.startsWith(sender)).map((m) => m.content), expected, `${sender} sends reach the native socket in order`);
    t.same(onRooms.filter((m) => m.content.startsWith(sender)).map((m) => m.content), expected, `${sender} sends reach the room socket in order`);
  }
  t.same(ritaSocket.undecodable, []);
  t.match(onNative.find((m) => m.content === 'rooms 0'), { type: 'message', chat_id: general.id, sender: 'rita', client_id: null });

  const last = await call(native, 'GET', `/api/messages/${GENERAL}`, Messages, { token: rita.token });
  t.same(last.map((m: { id: string }) => m.id), ids.map(asUuid), 'each message stored once, in the /api list');
  const history = await request(rooms, 'GET', `/v1/chats/${general.id}/messages`, { token: alice.token });
  t.same(history.body.map((m: { id: number }) => m.id), ids, 'and in the native history');
  t.match((await request(rooms, 'GET', '/v1/rooms?q=general', { token: rita.token })).body, [{ member_count: 2, joined: true }]);
}

t.test('one process on SQLite', async (t) => {
  const server = await startServer(t);
  await talkInGeneral(t, server, server);
});

const redisUrl = process.env.TEST_REDIS_URL;
if (!postgresUrl || !redisUrl) {
  t.comment('TEST_DATABASE_URL or TEST_REDIS_URL is not set: skipping the PostgreSQL + Redis rooms test (.ci/run sets them)');
} else {
  t.test('two processes on PostgreSQL + Redis (the rooms server\'s own stack): native on one, /api on the other', async (t) => {
    const redis = { REDIS_URL: redisUrl, REDIS_CHANNEL: `dm-test:${process.pid}:${Date.now()}` };
    const one = await startServer(t, redis, { postgres: true });
    const two = await startServer(t, { ...redis, DATABASE_URL: one.config.databaseUrl });
    await talkInGeneral(t, one, two, true);
  });
}
