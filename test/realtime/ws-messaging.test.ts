import t from 'tap';
import { login, pair, request, startServer } from '../helpers/server.js';
import { connect, open, type Frame } from '../helpers/ws-client.js';

t.test('authentication by header, query and IDENTIFY', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const byHeader = await connect(t, server, alice, 'header');
  const byQuery = await connect(t, server, alice, 'query');
  const byIdentify = await connect(t, server, bob, 'identify');

  byIdentify.send({ chat_id: chatId, content: 'hello from identify' });
  for (const socket of [byHeader, byQuery, byIdentify]) {
    const frame = await socket.nextOfType('message');
    t.equal(frame.content, 'hello from identify');
    t.equal(frame.sender, 'bob');
  }
});

t.test('READY answers IDENTIFY with the user id', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const socket = await open(t, server.wsUrl);
  socket.send({ op: 'IDENTIFY', d: { token: alice.token } });
  t.same(await socket.next(), { op: 'READY', d: { user_id: alice.user.id } });
});

t.test('a bad token: 401 on the upgrade, 4401 on IDENTIFY', async (t) => {
  const server = await startServer(t);
  await t.rejects(open(t, server.wsUrl, { authorization: 'Bearer nope' }), { message: 'upgrade refused: 401' });
  await t.rejects(open(t, `${server.wsUrl}?token=nope`), { message: 'upgrade refused: 401' });
  const socket = await open(t, server.wsUrl);
  socket.send({ op: 'IDENTIFY', d: { token: 'nope' } });
  t.equal((await socket.closed).code, 4401);
});

t.test('no IDENTIFY in time closes with 4401; frames before it get an error', async (t) => {
  const server = await startServer(t, { WS_IDENTIFY_TIMEOUT_MS: '300' });
  const socket = await open(t, server.wsUrl);
  socket.send({ type: 'ping' });
  t.match(await socket.next(), { type: 'error', code: 'NOT_IDENTIFIED' });
  t.equal((await socket.closed).code, 4401);
});

t.test("a message reaches both of bob's sockets and alice's own", async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const aliceSocket = await connect(t, server, alice);
  const bobPhone = await connect(t, server, bob);
  const bobLaptop = await connect(t, server, bob, 'query');

  aliceSocket.send({ chat_id: chatId, content: 'hi bob', client_id: 'c-1' });
  const frames = await Promise.all([aliceSocket, bobPhone, bobLaptop].map((s) => s.nextOfType('message')));
  for (const frame of frames) {
    t.match(frame, { type: 'message', chat_id: chatId, sender_id: alice.user.id, sender: 'alice', content: 'hi bob', client_id: 'c-1', files: [] });
    t.equal(frame.id, frames[0]!.id);
  }
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.same(history.body.map((m: { id: number }) => m.id), [frames[0]!.id]);
});

t.test('the send frame with "type":"send" works the same', async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  socket.send({ type: 'send', chat_id: chatId, content: 'typed' });
  t.match(await socket.nextOfType('message'), { content: 'typed', client_id: null });
});

t.test("a non-member's send gets an error frame and stores nothing", async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const carol = await login(server, 'carol');
  const socket = await connect(t, server, carol);
  socket.send({ chat_id: chatId, content: 'let me in', client_id: 'x' });
  t.match(await socket.next(), { type: 'error', code: 'CHAT_NOT_FOUND', client_id: 'x' });
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
  t.same(history.body, []);
});

t.test('malformed frames get error frames and the socket keeps working', async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  const cases: [unknown, string][] = [
    ['not json', 'INVALID_JSON'],
    ['[1,2]', 'INVALID_FRAME'],
    ['"text"', 'INVALID_FRAME'],
    ['null', 'INVALID_FRAME'],
    [{ type: 'dance' }, 'UNKNOWN_TYPE'],
    [{ chat_id: chatId }, 'VALIDATION_ERROR'],
    [{ chat_id: 'one', content: 'x' }, 'VALIDATION_ERROR'],
    [{ chat_id: chatId, content: '' }, 'VALIDATION_ERROR'],
    [{ chat_id: chatId, content: 'x'.repeat(4001) }, 'VALIDATION_ERROR'],
    [{ chat_id: chatId, content: 'x', client_id: 'c'.repeat(65) }, 'VALIDATION_ERROR'],
    [{ type: 'read', chat_id: chatId }, 'VALIDATION_ERROR'],
    [{ type: 'resume', after: -1 }, 'VALIDATION_ERROR'],
    [{ op: 'HELLO' }, 'UNKNOWN_OP'],
    [{ op: 'IDENTIFY', d: { token: alice.token } }, 'ALREADY_IDENTIFIED'],
  ];
  for (const [frame, code] of cases) {
    socket.send(frame);
    const error = await socket.next();
    t.match(error, { type: 'error', code, error: String }, `${JSON.stringify(frame).slice(0, 60)} → ${code}`);
  }
  socket.send({ chat_id: chatId, content: 42 });
  t.equal((await socket.next()).field, 'content', 'validation names the field');
  socket.send({ chat_id: chatId, content: 'still here' });
  t.match(await socket.nextOfType('message'), { content: 'still here' });
});

t.test('a client that only listens (never sends a frame) still receives every message', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  // Opened and left alone: the initial hold (which waits for a possible resume) must end by itself.
  const listener = await open(t, server.wsUrl, { authorization: `Bearer ${bob.token}` });
  const sent = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'for a listener' } });
  t.same(await listener.nextOfType('message', 3000), { type: 'message', ...sent.body });
});

t.test('a frame over the size limit closes the socket with 1009', async (t) => {
  const server = await startServer(t, { WS_MAX_FRAME_BYTES: '2048' });
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  socket.send({ chat_id: chatId, content: 'x'.repeat(3000) });
  t.equal((await socket.closed).code, 1009);
});

t.test('ping is answered by pong', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const socket = await connect(t, server, alice);
  socket.send({ type: 'ping' });
  t.same(await socket.next(), { type: 'pong' });
});

t.test('REST sends are delivered like WebSocket sends', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const bobSocket = await connect(t, server, bob);
  const aliceSocket = await connect(t, server, alice);
  const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'over rest' } });
  t.equal(res.status, 201);
  t.same(await bobSocket.nextOfType('message'), { type: 'message', ...res.body });
  t.same(await aliceSocket.nextOfType('message'), { type: 'message', ...res.body });
});

t.test('frames from one socket are handled in order, with ids increasing', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  for (let i = 0; i < 50; i++) aliceSocket.send({ chat_id: chatId, content: `m${i}` });
  const received: Frame[] = [];
  for (let i = 0; i < 50; i++) received.push(await bobSocket.nextOfType('message'));
  t.same(received.map((m) => m.content), Array.from({ length: 50 }, (_, i) => `m${i}`));
  t.ok(received.every((m, i) => i === 0 || m.id > received[i - 1]!.id), 'ids increase');
});

t.test('one batch of new sends and a repeat of a stored client_id: each new send gets its own id, the repeat the stored message', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  aliceSocket.send({ chat_id: chatId, content: 'first', client_id: 'k' });
  const stored = await aliceSocket.nextOfType('message');
  await bobSocket.nextOfType('message');

  // Sent together, these are committed in one batch.
  aliceSocket.send({ chat_id: chatId, content: 'a' });
  aliceSocket.send({ chat_id: chatId, content: 'first again', client_id: 'k' });
  aliceSocket.send({ chat_id: chatId, content: 'b', client_id: 'k2' });
  aliceSocket.send({ chat_id: chatId, content: 'c' });
  const echoes: Frame[] = [];
  for (let i = 0; i < 4; i++) echoes.push(await aliceSocket.nextOfType('message'));
  const byContent = new Map(echoes.map((m) => [m.content, m]));
  t.same(byContent.get('first'), stored, 'the repeat is answered with the stored message');
  const fresh = ['a', 'b', 'c'].map((content) => byContent.get(content)!);
  t.ok(fresh.every((m, i) => m && m.id > stored.id && (i === 0 || m.id > fresh[i - 1]!.id)), 'new ids, in the order sent');
  t.same(fresh.map((m) => m.client_id), [null, 'k2', null]);
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.same(
    history.body.map((m: Frame) => [m.id, m.content]),
    [stored, ...fresh].map((m) => [m.id, m.content]),
    'each echo carries the id its message was stored under',
  );
  const delivered: Frame[] = [];
  for (let i = 0; i < 3; i++) delivered.push(await bobSocket.nextOfType('message'));
  t.same(delivered.map((m) => m.content), ['a', 'b', 'c'], 'the other member gets only the new ones');
  t.same((await bobSocket.settle()).filter((f) => f.type === 'message'), []);
});

t.test('Origin: pages of this server always, other origins only when CORS_ORIGIN allows them', async (t) => {
  const server = await startServer(t, { CORS_ORIGIN: 'https://chat.example' });
  const alice = await login(server, 'alice');
  const auth = { authorization: `Bearer ${alice.token}` };
  const own = new URL(server.url).origin;
  await (await open(t, server.wsUrl, { ...auth, origin: own })).ping();
  await (await open(t, server.wsUrl, { ...auth, origin: 'https://chat.example' })).ping();
  await t.rejects(open(t, server.wsUrl, { ...auth, origin: 'https://evil.example' }), { message: 'upgrade refused: 403' });
});
