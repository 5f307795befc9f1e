import t from 'tap';
import { login, pair, request, startServer, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

const send = (server: TestServer, token: string, chatId: number, content: string) =>
  request(server, 'POST', `/v1/chats/${chatId}/messages`, { token, body: { content } }).then((r) => r.body);
const unread = async (server: TestServer, token: string, chatId: number) =>
  (await request(server, 'GET', '/v1/chats', { token })).body.find((c: { id: number }) => c.id === chatId).unread_count;

t.test('read markers: forward only, unread counts, read frames to the other members', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const m1 = await send(server, alice.token, chatId, 'one');
  const m2 = await send(server, alice.token, chatId, 'two');
  const m3 = await send(server, alice.token, chatId, 'three');
  t.equal(await unread(server, bob.token, chatId), 3);
  t.equal(await unread(server, alice.token, chatId), 0, "one's own messages are never unread");

  bobSocket.send({ type: 'read', chat_id: chatId, message_id: m2.id });
  t.same(await aliceSocket.nextOfType('read'), { type: 'read', chat_id: chatId, user_id: bob.user.id, message_id: m2.id });
  t.equal(await unread(server, bob.token, chatId), 1);

  const back = await request(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body: { message_id: m1.id } });
  t.equal(back.status, 204);
  t.equal(await unread(server, bob.token, chatId), 1, 'the marker never moves back');
  await request(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body: { message_id: m3.id } });
  t.equal((await aliceSocket.nextOfType('read')).message_id, m3.id);
  t.equal(await unread(server, bob.token, chatId), 0);

  const frames = [...(await bobSocket.settle())].filter((f) => f.type === 'read');
  t.same(frames, [], 'the reader is not sent its own read frames');

  await send(server, alice.token, chatId, 'four');
  const reply = await send(server, bob.token, chatId, 'reply');
  t.equal(await unread(server, bob.token, chatId), 0, 'sending marks the chat read up to the sent message');
  t.equal(await unread(server, alice.token, chatId), 1);
  const mine = await request(server, 'POST', `/v1/chats/${chatId}/read`, { token: alice.token, body: { message_id: reply.id + 100 } });
  t.equal(mine.status, 404, 'a message that is not in the chat');
});

t.test('typing: relayed to the other members only, throttled, members only', async (t) => {
  const server = await startServer(t, { TYPING_THROTTLE_MS: '60000' });
  const { alice, bob, chatId } = await pair(server);
  const carol = await login(server, 'carol');
  const alicePhone = await connect(t, server, alice);
  const aliceLaptop = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const carolSocket = await connect(t, server, carol);

  alicePhone.send({ type: 'typing', chat_id: chatId });
  t.same(await bobSocket.nextOfType('typing'), { type: 'typing', chat_id: chatId, user_id: alice.user.id, username: 'alice' });
  for (let i = 0; i < 5; i++) alicePhone.send({ type: 'typing', chat_id: chatId });
  await alicePhone.ping();
  t.same((await bobSocket.settle()).filter((f) => f.type === 'typing'), [], 'a spamming client is throttled');
  t.same((await aliceLaptop.settle()).filter((f) => f.type === 'typing'), [], "not echoed to the typer's sockets");
  t.same((await alicePhone.settle()).filter((f) => f.type === 'typing'), []);

  carolSocket.send({ type: 'typing', chat_id: chatId });
  t.match(await carolSocket.next(), { type: 'error', code: 'CHAT_NOT_FOUND' });
  t.same((await bobSocket.settle()).filter((f) => f.type === 'typing'), [], 'a non-member cannot type into a chat');
});

t.test('presence: first socket online, last socket offline, only to users sharing a chat', async (t) => {
  const server = await startServer(t);
  const { alice, bob } = await pair(server);
  const stranger = await login(server, 'stranger');
  const bobSocket = await connect(t, server, bob);
  const strangerSocket = await connect(t, server, stranger);

  const first = await connect(t, server, alice);
  const online = await bobSocket.nextOfType('presence');
  t.match(online, { type: 'presence', user_id: alice.user.id, online: true, last_seen_at: String });
  const second = await connect(t, server, alice);
  const user = (await request(server, 'GET', `/v1/users/${alice.user.id}`, { token: bob.token })).body;
  t.match(user, { online: true, last_seen_at: String });
  const chats = (await request(server, 'GET', '/v1/chats', { token: bob.token })).body;
  t.match(chats[0].members.find((m: { id: number }) => m.id === alice.user.id), { online: true });

  await first.close();
  await second.ping();
  t.same((await bobSocket.settle()).filter((f) => f.type === 'presence'), [], 'still online while one socket remains');
  await second.close();
  t.match(await bobSocket.nextOfType('presence'), { user_id: alice.user.id, online: false, last_seen_at: String });
  t.equal((await request(server, 'GET', `/v1/users/${alice.user.id}`, { token: bob.token })).body.online, false);
  t.same((await strangerSocket.settle()).filter((f) => f.type === 'presence'), [], 'no presence frames to strangers');
});

t.test('PRESENCE_GRACE_MS: a quick reconnect does not flap', async (t) => {
  const server = await startServer(t, { PRESENCE_GRACE_MS: '400' });
  const { alice, bob } = await pair(server);
  const bobSocket = await connect(t, server, bob);
  const first = await connect(t, server, alice);
  t.match(await bobSocket.nextOfType('presence'), { online: true });
  await first.close();
  const again = await connect(t, server, alice);
  t.same((await bobSocket.settle(500)).filter((f) => f.type === 'presence'), [], 'no offline/online pair');
  await again.close();
  t.match(await bobSocket.nextOfType('presence', 3000), { user_id: alice.user.id, online: false });
});

t.test('edits and deletes: the sender only, frames to every member, tombstones in history', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const message = await send(server, alice.token, chatId, 'typo');
  await aliceSocket.nextOfType('message');
  await bobSocket.nextOfType('message');

  const forbidden = await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${message.id}`, { token: bob.token, body: { content: 'mine now' } });
  t.equal(forbidden.status, 403);
  t.equal((await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${message.id}`, { token: bob.token })).status, 403);

  const edited = await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${message.id}`, { token: alice.token, body: { content: 'fixed' } });
  t.equal(edited.status, 200);
  t.match(edited.body, { id: message.id, content: 'fixed', edited_at: String, deleted_at: null });
  for (const socket of [aliceSocket, bobSocket]) {
    t.same(await socket.nextOfType('message_updated'), { type: 'message_updated', message: edited.body });
  }

  t.equal((await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${message.id}`, { token: alice.token })).status, 204);
  for (const socket of [aliceSocket, bobSocket]) {
    t.same(await socket.nextOfType('message_deleted'), { type: 'message_deleted', chat_id: chatId, id: message.id });
  }
  const history = (await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token })).body;
  t.match(history, [{ id: message.id, content: null, deleted_at: String }]);
  const again = await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${message.id}`, { token: alice.token, body: { content: 'back' } });
  t.equal(again.status, 409, 'a tombstone cannot be edited');
});

t.test('chat events: started, created, members added and removed', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const bob = await login(server, 'bob');
  const carol = await login(server, 'carol');
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const carolSocket = await connect(t, server, carol);

  const direct = await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'bob' } });
  for (const socket of [aliceSocket, bobSocket]) {
    t.match(await socket.nextOfType('chat'), { type: 'chat', chat: { id: direct.body.chat_id, chat_type: 'direct' } });
  }
  await request(server, 'POST', '/v1/chats/initiate', { token: bob.token, body: { target_username: 'alice' } });
  t.same((await bobSocket.settle()).filter((f) => f.type === 'chat'), [], 'no event when the chat already existed');

  const group = (await request(server, 'POST', '/v1/chats', { token: alice.token, body: { name: 'trio', members: ['bob'] } })).body;
  for (const socket of [aliceSocket, bobSocket]) t.match(await socket.nextOfType('chat'), { chat: { id: group.id, name: 'trio' } });

  await request(server, 'POST', `/v1/chats/${group.id}/members`, { token: bob.token, body: { username: 'carol' } });
  for (const socket of [aliceSocket, bobSocket, carolSocket]) {
    const { chat } = await socket.nextOfType('chat');
    t.same(chat.participants.sort(), [alice.user.id, bob.user.id, carol.user.id].sort());
  }

  // The owner removes bob: his sockets get a last chat frame without him, then nothing of the chat.
  await send(server, alice.token, group.id, 'before');
  await bobSocket.nextOfType('message');
  await carolSocket.nextOfType('message');
  const removed = await request(server, 'DELETE', `/v1/chats/${group.id}/members/${bob.user.id}`, { token: alice.token });
  t.equal(removed.status, 204);
  const last = await bobSocket.nextOfType('chat');
  t.notOk(last.chat.participants.includes(bob.user.id));
  await carolSocket.nextOfType('chat');
  await send(server, alice.token, group.id, 'after');
  carolSocket.send({ type: 'typing', chat_id: group.id });
  t.match(await carolSocket.nextOfType('message'), { content: 'after' });
  t.same(await bobSocket.settle(), [], 'no events after removal');
  t.equal((await request(server, 'GET', `/v1/chats/${group.id}`, { token: bob.token })).status, 404);
  t.equal((await request(server, 'GET', `/v1/chats/${group.id}/messages`, { token: bob.token })).status, 404);
  bobSocket.send({ chat_id: group.id, content: 'let me back' });
  t.match(await bobSocket.next(), { type: 'error', code: 'CHAT_NOT_FOUND' });
});

t.test('GET /chats: latest activity first, with last_message', async (t) => {
  const server = await startServer(t);
  const { alice, chatId: withBob } = await pair(server);
  await login(server, 'carol');
  const withCarol = (await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'carol' } })).body.chat_id;
  let chats = (await request(server, 'GET', '/v1/chats', { token: alice.token })).body;
  t.same(chats.map((c: { id: number }) => c.id), [withCarol, withBob], 'the newest chat first');
  await send(server, alice.token, withBob, 'bump');
  chats = (await request(server, 'GET', '/v1/chats', { token: alice.token })).body;
  t.same(chats.map((c: { id: number }) => c.id), [withBob, withCarol], 'a new message moves its chat up');
  t.match(chats[0].last_message, { content: 'bump', sender: 'alice' });
  t.equal(chats[1].last_message, null);
});
