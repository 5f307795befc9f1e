import t from 'tap';
import WebSocket from 'ws';
import { expectError } from '../http/support.js';
import { login, request, startServer } from '../helpers/server.js';
import { asUuid, AuthResponse, call, GENERAL, Message, Messages, RANDOM, Rooms, RoomSocket, statusOf } from '../helpers/rooms-api.js';
import { vec } from '../helpers/dejson.js';
import { ChatInfo } from '../helpers/shindensen.js';
import { connect } from '../helpers/ws-client.js';

// A client written against the rooms server's README, on the same port as the other surfaces:
// register, log in, list the rooms, read the last 50, post, and follow a room over its socket.

const server = await startServer(t);
const uuidOf = (id: number) => asUuid(id);

t.test('register and log in: 200 {token, user}; login never makes an account', async (t) => {
  const registered = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'rita', password: 'correct horse' } });
  t.match(registered.user, { username: 'rita', created_at: /Z$/ });
  t.match(registered.user.id, /^00000000-0000-0000-0000-[0-9a-f]{12}$/);
  const loggedIn = await call(server, 'POST', '/api/login', AuthResponse, { body: { username: 'RITA', password: 'correct horse' } });
  t.same(loggedIn.user, registered.user, 'the same account, any case');

  expectError(t, await request(server, 'POST', '/api/register', { body: { username: 'rita', password: 'another one' } }), 409, 'USERNAME_TAKEN');
  expectError(t, await request(server, 'POST', '/api/register', { body: { username: 'r x', password: 'correct horse' } }), 400, 'VALIDATION_ERROR', 'username');
  expectError(t, await request(server, 'POST', '/api/register', { body: { username: 'short', password: 'short' } }), 400, 'VALIDATION_ERROR', 'password');
  expectError(t, await request(server, 'POST', '/api/login', { body: { username: 'rita', password: 'wrong horse' } }), 401, 'INVALID_CREDENTIALS');
  expectError(t, await request(server, 'POST', '/api/login', { body: { username: 'nobody-here', password: 'whatever1' } }), 401, 'INVALID_CREDENTIALS');
  t.equal((await request(server, 'GET', '/v1/users?username=nobody-here', { token: loggedIn.token })).body.length, 0, 'no account was made');
  await login(server, 'nopass');
  expectError(t, await request(server, 'POST', '/api/login', { body: { username: 'nopass', password: 'anything1' } }), 401, 'INVALID_CREDENTIALS', undefined);

  const me = await request(server, 'GET', '/v1/me', { token: loggedIn.token });
  t.equal(me.status, 200, 'an /api token works on /v1');
  t.equal(uuidOf(me.body.id), registered.user.id, 'and names the same user');
  const native = await login(server, 'nadia');
  t.ok((await call(server, 'GET', '/api/rooms', Rooms, { token: native.token })).length >= 2, 'a /v1 token works on /api');
});

t.test('rooms: the seeded two with their ids, by name; rooms made natively are listed too', async (t) => {
  const { token } = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'lister', password: 'password1' } });
  const before = await call(server, 'GET', '/api/rooms', Rooms, { token });
  t.match(before.find((r: { name: string }) => r.name === 'general'), { id: GENERAL });
  t.match(before.find((r: { name: string }) => r.name === 'random'), { id: RANDOM });
  const native = await login(server, 'maker');
  await request(server, 'POST', '/v1/rooms', { token: native.token, body: { name: 'Aardvarks' } });
  const rooms = await call(server, 'GET', '/api/rooms', Rooms, { token });
  const names = rooms.map((r: { name: string }) => r.name);
  t.same(names, [...names].sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase())), 'by name');
  t.match(rooms[0], { name: 'Aardvarks', id: /^[0-9a-f-]{36}$/ });
  t.equal(await statusOf(call(server, 'GET', '/api/rooms', Rooms)), 401);
});

t.test('messages: post, then the last 50 oldest first; the poster becomes a member', async (t) => {
  const { token, user } = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'poster', password: 'password1' } });
  const posted = [];
  for (let i = 0; i < 55; i++) {
    posted.push(await call(server, 'POST', '/api/messages', Message, { token, body: { room_id: RANDOM, content: `m${i}` } }));
  }
  t.match(posted[0], { room_id: RANDOM, user_id: user.id, username: 'poster', content: 'm0', created_at: /Z$/ });
  const last = await call(server, 'GET', `/api/messages/${RANDOM}`, Messages, { token });
  t.equal(last.length, 50);
  t.same(last.map((m: { content: string }) => m.content), posted.slice(5).map((m) => m.content), 'the last 50, oldest first');
  t.same(last.at(-1), posted.at(-1));
  t.same((await call(server, 'GET', `/api/messages/${RANDOM.toUpperCase()}`, Messages, { token })).length, 50, 'a UUID in any case');

  const chats = await request(server, 'GET', '/v1/chats', { token });
  t.match(chats.body, [{ chat_type: 'room', name: 'random', member_count: 1, unread_count: 0 }], 'the room is now one of the poster\'s chats');

  const other = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'reader', password: 'password1' } });
  t.equal((await call(server, 'GET', `/api/messages/${RANDOM}`, Messages, { token: other.token })).length, 50, 'anyone may read');
  t.same((await request(server, 'GET', '/v1/chats', { token: other.token })).body, [], 'reading does not make a member');

  // A message deleted natively leaves the list; one edited shows its new text.
  const chatId = chats.body[0].id;
  const native = await request(server, 'GET', `/v1/chats/${chatId}/messages?limit=2`, { token });
  await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${native.body[1].id}`, { token });
  await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${native.body[0].id}`, { token, body: { content: 'edited' } });
  const after = await call(server, 'GET', `/api/messages/${RANDOM}`, Messages, { token });
  t.equal(after.length, 50);
  t.same(after.slice(-2).map((m: { content: string }) => m.content), ['m52', 'edited']);

  const unknown = '123e4567-e89b-12d3-a456-426614174000';
  expectError(t, await request(server, 'GET', `/api/messages/${unknown}`, { token }), 404, 'ROOM_NOT_FOUND');
  expectError(t, await request(server, 'GET', '/api/messages/not-a-uuid', { token }), 404, 'ROOM_NOT_FOUND');
  expectError(t, await request(server, 'POST', '/api/messages', { token, body: { room_id: unknown, content: 'x' } }), 404, 'ROOM_NOT_FOUND');
  expectError(t, await request(server, 'POST', '/api/messages', { token, body: { room_id: 'general', content: 'x' } }), 400, 'VALIDATION_ERROR', 'room_id');
  expectError(t, await request(server, 'POST', '/api/messages', { token, body: { room_id: GENERAL, content: '' } }), 400, 'VALIDATION_ERROR', 'content');
  expectError(t, await request(server, 'POST', '/api/messages', { token, body: { room_id: GENERAL } }), 400, 'VALIDATION_ERROR', 'content');
  expectError(t, await request(server, 'POST', '/api/messages', { body: { room_id: GENERAL, content: 'x' } }), 401);
  // A group is no room, whatever form its id is written in.
  const group = await request(server, 'POST', '/v1/chats', { token, body: { name: 'private', members: [] } });
  expectError(t, await request(server, 'GET', `/api/messages/${asUuid(group.body.id)}`, { token }), 404, 'ROOM_NOT_FOUND');
});

t.test('the room socket: every new message of its room, from any surface, and nothing else', async (t) => {
  const alice = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'sockalice', password: 'password1' } });
  const bob = await login(server, 'sockbob');
  const room = (await request(server, 'POST', '/v1/rooms', { token: bob.token, body: { name: 'sockroom' } })).body;
  const roomUuid = (await call(server, 'GET', '/api/rooms', Rooms, { token: bob.token })).find((r: { name: string }) => r.name === 'sockroom').id;

  const socket = await RoomSocket.open(t, server, roomUuid, alice.token);
  const chats = await request(server, 'GET', '/v1/chats', { token: alice.token });
  t.match(chats.body, [{ id: room.id }], 'opening the socket made a member');
  // Another of alice's rooms: its messages must not come through this socket.
  await call(server, 'POST', '/api/messages', Message, { token: alice.token, body: { room_id: GENERAL, content: 'elsewhere' } });
  const bobSocket = await connect(t, server, bob);

  socket.ws.send('{"type":"hello"}');
  socket.ws.send('not json');
  socket.ws.send(JSON.stringify({ room_id: roomUuid, content: 'sent on the socket' }));
  const fromApi = await call(server, 'POST', '/api/messages', Message, { token: alice.token, body: { room_id: roomUuid, content: 'from /api' } });
  const fromNative = (await request(server, 'POST', `/v1/chats/${room.id}/messages`, { token: bob.token, body: { content: 'from /v1' } })).body;
  bobSocket.send({ chat_id: room.id, content: 'from /v1/ws', client_id: 'w1' });

  const frames = await socket.received(3);
  t.same(socket.undecodable, [], 'every frame decodes as the client\'s struct');
  t.same(frames.map((f) => f.type), ['new_message', 'new_message', 'new_message']);
  t.same(frames.map((f) => f.room_id), [roomUuid, roomUuid, roomUuid]);
  t.same(frames[0].message, fromApi, 'the frame carries the message as POST answered it');
  t.match(frames[1].message, { id: asUuid(fromNative.id), user_id: asUuid(bob.user.id), username: 'sockbob', content: 'from /v1' });
  t.match(frames[2].message, { content: 'from /v1/ws' });
  t.match(await bobSocket.nextOfType('message'), { content: 'from /api', sender: 'sockalice' }, 'the native member gets the /api post');

  await new Promise((r) => setTimeout(r, 200));
  t.equal(socket.messages.length, 3, 'nothing else: not the other room, not what the socket sent');
  t.equal(socket.ws.readyState, WebSocket.OPEN, 'frames from the client are ignored, the socket stays open');
  t.equal((await call(server, 'GET', `/api/messages/${roomUuid}`, Messages, { token: alice.token })).length, 3, 'nothing was posted by the socket');
});

t.test('the room socket refuses a bad token (401) and an unknown room (404) on the upgrade', async (t) => {
  const alice = await login(server, 'upgrader');
  const status = (room: string, token: string) => RoomSocket.open(t, server, room, token).then(() => 101, (err) => err.status);
  t.equal(await status(GENERAL, 'not-a-token'), 401);
  t.equal(await status(GENERAL, ''), 401, 'no token');
  t.equal(await status('123e4567-e89b-12d3-a456-426614174000', alice.token), 404);
  t.equal(await status('general', alice.token), 404);
  t.equal(await status(GENERAL, alice.token), 101);
});

t.test('/api/register and /api/login share the auth rate limit of the other surfaces', async (t) => {
  const limited = await startServer(t, { RATE_LIMIT_AUTH: '2' });
  await login(limited, 'one');
  await call(limited, 'POST', '/api/register', AuthResponse, { body: { username: 'two', password: 'password1' } });
  const third = await request(limited, 'POST', '/api/login', { body: { username: 'two', password: 'password1' } });
  t.match(third, { status: 429, body: { code: 'RATE_LIMITED' } });
  t.ok(third.headers.get('retry-after'));
});

t.test('a room is in the shindensen client\'s chats too, with every member, decoded as it decodes', async (t) => {
  const rita = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'shinrita', password: 'password1' } });
  const sam = await login(server, 'shinsam');
  const room = (await request(server, 'POST', '/v1/rooms', { token: sam.token, body: { name: 'shinroom' } })).body;
  const roomUuid = (await call(server, 'GET', '/api/rooms', Rooms, { token: rita.token })).find((r: { name: string }) => r.name === 'shinroom').id;
  await call(server, 'POST', '/api/messages', Message, { token: rita.token, body: { room_id: roomUuid, content: 'hi' } });
  const chats = await call(server, 'GET', '/chats', vec(ChatInfo), { token: rita.token });
  const listed = chats.find((c: { id: number }) => c.id === room.id);
  t.match(listed, { name: 'shinroom', chat_type: 'room' });
  t.same([...listed.participants].sort((a: number, b: number) => a - b), [sam.user.id, Number.parseInt(rita.user.id.slice(-12), 16)].sort((a, b) => a - b));
});
