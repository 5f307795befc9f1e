import t from 'tap';
import { PNG } from '../helpers/files.js';
import { request, startServer, login as nativeLogin } from '../helpers/server.js';
import {
  AuthResponse,
  call,
  ChatInfo,
  FileUploadResponse,
  GetHistoryResponse,
  InitiateChatResponse,
  ShindensenSocket,
  statusOf,
  UserInfoResponse,
} from '../helpers/shindensen.js';
import { vec } from '../helpers/dejson.js';
import { connect } from '../helpers/ws-client.js';
import { RFC3339_MS } from '../http/support.js';

// The shindensen client's whole flow, request for request, each answer and frame decoded as its
// DeJson decoder does: one unknown key, missing key or non-integer id fails the test.

t.test("the shindensen client's flow decodes strictly end to end", async (t) => {
  const server = await startServer(t);
  const alice = await call(server, 'POST', '/login', AuthResponse, { body: { username: 'alice' } });
  const bob = await call(server, 'POST', '/login', AuthResponse, { body: { username: 'bob' } });

  // The client opens its socket and IDENTIFYs; the other one authenticates on the upgrade.
  const aliceSocket = await ShindensenSocket.open(t, server, alice.token, 'identify');
  const bobSocket = await ShindensenSocket.open(t, server, bob.token, 'header');

  const [me] = await call(server, 'GET', '/users?username=alice', vec(UserInfoResponse), { token: alice.token });
  t.same(me, { id: me.id, username: 'alice', display_name: null, bio: null, image_id: null });
  const bobInfo = (await call(server, 'GET', '/users?username=bob', vec(UserInfoResponse), { token: alice.token }))[0];
  t.same(await call(server, 'GET', `/users/${bobInfo.id}`, UserInfoResponse, { token: alice.token }), bobInfo);
  t.same(await call(server, 'GET', '/users/BOB', UserInfoResponse, { token: alice.token }), bobInfo, 'older revisions look users up by name');
  for (const missing of ['999999', '99999999999999999999', 'nobody']) {
    t.equal(await statusOf(call(server, 'GET', `/users/${missing}`, UserInfoResponse, { token: alice.token })), 404, `/users/${missing}`);
  }

  t.same(await call(server, 'GET', '/chats', vec(ChatInfo), { token: alice.token }), []);
  const started = await call(server, 'POST', '/chats/initiate', InitiateChatResponse, { token: alice.token, body: { target_id: bobInfo.id } });
  t.equal(started.status, 'created', 'created, with a 200: the only status the client accepts');
  const again = await call(server, 'POST', '/chats/initiate', InitiateChatResponse, { token: bob.token, body: { target_id: me.id } });
  t.same(again, { chat_id: started.chat_id, status: 'exists' });
  const chatId = started.chat_id;
  const [chat] = await call(server, 'GET', '/chats', vec(ChatInfo), { token: alice.token });
  t.same(chat, { id: chatId, name: null, chat_type: 'direct', created_at: chat.created_at, participants: [me.id, bobInfo.id] });
  t.match(chat.created_at, RFC3339_MS);
  t.same(await call(server, 'GET', `/chats/${chatId}`, ChatInfo, { token: bob.token }), chat);
  t.same(await call(server, 'GET', `/chats/${chatId}/messages`, GetHistoryResponse, { token: alice.token }), { chat_id: chatId, messages: [] });

  // The client's send frame, as it writes it.
  aliceSocket.send({ chat_id: chatId, content: 'hello bob', files: [] });
  const [first] = await bobSocket.received(1);
  t.same(first, { id: first.id, chat_id: chatId, sender_id: me.id, content: 'hello bob', timestamp: first.timestamp, files: [] });
  t.same((await aliceSocket.received(1))[0], first, "the sender's own socket gets it too");

  // A file: uploaded, then sent by the url the upload gave, without content.
  const form = new FormData();
  form.append('file', new Blob([PNG], { type: 'image/png' }), 'cat.png');
  const up = await call(server, 'POST', '/upload', FileUploadResponse, { token: bob.token, form });
  t.match(up, { filename: 'cat.png', mime_type: 'image/png', size_bytes: PNG.length, url: /^\/files\/\d+\/cat\.png\?sig=/ });
  bobSocket.send({ chat_id: chatId, content: null, files: [{ type: 'picture', url: up.url, filename: 'cat.png', mime_type: 'image/png', size_bytes: PNG.length }] });
  const [, withFile] = await aliceSocket.received(2);
  t.match(withFile, { chat_id: chatId, sender_id: bobInfo.id, content: null });
  t.same(withFile.files, [
    { id: withFile.files[0].id, type: 'picture', url: up.url, filename: 'cat.png', mime_type: 'image/png', size_bytes: PNG.length, created_at: withFile.files[0].created_at },
  ]);
  const bytes = await fetch(server.url + up.url);
  t.equal(bytes.status, 200, 'the url needs no header');
  t.same(Buffer.from(await bytes.arrayBuffer()), PNG);

  const history = await call(server, 'GET', `/chats/${chatId}/messages`, GetHistoryResponse, { token: alice.token });
  t.same(history, { chat_id: chatId, messages: [first, withFile] }, 'history holds what the sockets received');

  // A native client's typing, read markers, edits and presence are nothing the client can decode: not sent.
  const native = await nativeLogin(server, 'bob');
  const nativeSocket = await connect(t, server, native);
  nativeSocket.send({ type: 'typing', chat_id: chatId });
  await request(server, 'POST', `/v1/chats/${chatId}/read`, { token: native.token, body: { message_id: first.id } });
  await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${withFile.id}`, { token: native.token, body: { content: 'edited' } });
  const created = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: native.token, body: { content: 'from the web', client_id: 'w1' } });
  const [, , fromNative] = await aliceSocket.received(3);
  t.same(fromNative, { id: created.body.id, chat_id: chatId, sender_id: bobInfo.id, content: 'from the web', timestamp: created.body.timestamp, files: [] });
  await new Promise((r) => setTimeout(r, 200));
  for (const socket of [aliceSocket, bobSocket]) {
    t.same(socket.undecodable, [], 'no frame the client could not decode');
    t.equal(socket.messages.length, 3, 'only the three messages');
  }
});

t.test('a refused frame gets no frame back and the socket stays open', async (t) => {
  const server = await startServer(t);
  const alice = await call(server, 'POST', '/login', AuthResponse, { body: { username: 'alice' } });
  const bob = await nativeLogin(server, 'bob');
  const socket = await ShindensenSocket.open(t, server, alice.token, 'identify');
  const { chat_id: chatId } = (await request(server, 'POST', '/v1/chats/initiate', { token: bob.token, body: { target_username: 'alice' } })).body;
  const carol = await nativeLogin(server, 'carol');
  const { body: carolsFile } = await request(server, 'POST', '/v1/chats/initiate', { token: carol.token, body: { target_username: 'bob' } });
  for (const frame of [
    'not json',
    '[1]',
    '{"op":"HELLO"}',
    JSON.stringify({ op: 'IDENTIFY', d: { token: alice.token } }),
    JSON.stringify({ chat_id: chatId, content: null, files: [] }),
    JSON.stringify({ chat_id: chatId, content: '' }),
    JSON.stringify({ chat_id: 'x', content: 'hi' }),
    JSON.stringify({ chat_id: carolsFile.chat_id, content: 'not my chat' }),
    JSON.stringify({ chat_id: chatId, content: 'x', files: [{ url: '/files/1/cat.png?sig=forged' }] }),
    JSON.stringify({ chat_id: chatId, content: 'x'.repeat(4001) }),
    JSON.stringify({ type: 'typing', chat_id: chatId }),
  ]) {
    socket.ws.send(frame);
  }
  socket.send({ chat_id: chatId, content: 'still here', files: null });
  const [message] = await socket.received(1);
  t.equal(message.content, 'still here');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(socket.messages.length, 1, 'nothing for the refused frames');
  t.same(socket.undecodable, []);
});

t.test('the unprefixed paths are the shindensen surface only', async (t) => {
  const server = await startServer(t);
  const { token } = await call(server, 'POST', '/login', AuthResponse, { body: { username: 'alice' } });
  for (const [method, path] of [
    ['GET', '/me'],
    ['POST', '/register'],
    ['PATCH', '/me'],
  ] as const) {
    const res = await request(server, method, path, { token, body: method === 'GET' ? undefined : {} });
    t.equal(res.status, 404, `${method} ${path} is native only (/v1)`);
  }
  // The token works on every surface.
  t.equal((await request(server, 'GET', '/v1/me', { token })).body.username, 'alice');
});

t.test('history: the newest 1000 without a query, pages with before, after and limit', async (t) => {
  const server = await startServer(t);
  const alice = await nativeLogin(server, 'alice');
  await nativeLogin(server, 'bob');
  const { chat_id: chatId } = (await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'bob' } })).body;
  const ids: number[] = [];
  for (let i = 0; i < 1005; i++) {
    ids.push((await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: `m${i}` } })).body.id);
  }
  const all = await call(server, 'GET', `/chats/${chatId}/messages`, GetHistoryResponse, { token: alice.token });
  t.same(all.messages.map((m: { id: number }) => m.id), ids.slice(5), 'the newest 1000, oldest first');
  const before = await call(server, 'GET', `/chats/${chatId}/messages?before=${ids[5]}&limit=3`, GetHistoryResponse, { token: alice.token });
  t.same(before.messages.map((m: { id: number }) => m.id), ids.slice(2, 5));
  const after = await call(server, 'GET', `/chats/${chatId}/messages?after=${ids[1000]}`, GetHistoryResponse, { token: alice.token });
  t.same(after.messages.map((m: { id: number }) => m.id), ids.slice(1001));
  t.equal(await statusOf(call(server, 'GET', `/chats/${chatId}/messages?limit=1001`, GetHistoryResponse, { token: alice.token })), 400);
  const both = await request(server, 'GET', `/chats/${chatId}/messages?before=5&after=1`, { token: alice.token });
  t.match(both, { status: 400, body: { code: 'VALIDATION_ERROR', field: 'before' } });
  const carol = await nativeLogin(server, 'carol');
  t.equal(await statusOf(call(server, 'GET', `/chats/${chatId}/messages`, GetHistoryResponse, { token: carol.token })), 404);
  t.equal(await statusOf(call(server, 'GET', `/chats/${chatId}`, ChatInfo, { token: carol.token })), 404);
});

t.test('/login shares the auth rate limit of /v1/login and /v1/register', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_AUTH: '2' });
  await nativeLogin(server, 'one');
  await call(server, 'POST', '/login', AuthResponse, { body: { username: 'two' } });
  const third = await request(server, 'POST', '/login', { body: { username: 'three' } });
  t.match(third, { status: 429, body: { code: 'RATE_LIMITED' } });
  t.ok(third.headers.get('retry-after'));
});
