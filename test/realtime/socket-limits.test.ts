import t from 'tap';
import { login, pair, request, startServer } from '../helpers/server.js';
import { connect, open } from '../helpers/ws-client.js';

t.test('one user holds at most WS_MAX_SOCKETS_PER_USER sockets; a closed one frees its place', async (t) => {
  const server = await startServer(t, { WS_MAX_SOCKETS_PER_USER: '3' });
  const alice = await login(server, 'alice');
  const sockets = [await connect(t, server, alice), await connect(t, server, alice, 'query'), await connect(t, server, alice, 'identify')];
  await t.rejects(connect(t, server, alice), { message: 'upgrade refused: 429' }, 'with the token on the upgrade: 429');
  const late = await open(t, server.wsUrl);
  late.send({ op: 'IDENTIFY', d: { token: alice.token } });
  t.same(await late.closed, { code: 1008, reason: 'Too many sockets for this user' }, 'by IDENTIFY: closed with 1008');
  await (await connect(t, server, await login(server, 'bob'))).ping();

  await sockets[0]!.close();
  // The server hears the close a moment after the client sees it.
  for (let i = 0; i < 50 && server.app.realtime.hub.count(alice.user.id) > 2; i++) await new Promise((r) => setTimeout(r, 20));
  await (await connect(t, server, alice)).ping();
});

t.test('one client address holds at most WS_MAX_SOCKETS_PER_IP sockets, whoever they are for', async (t) => {
  const server = await startServer(t, { WS_MAX_SOCKETS_PER_IP: '2' });
  const users = await Promise.all(['a1', 'a2', 'a3'].map((name) => login(server, name)));
  const first = await connect(t, server, users[0]!);
  await connect(t, server, users[1]!);
  await t.rejects(connect(t, server, users[2]!), { message: 'upgrade refused: 429' });
  // Unauthenticated sockets count too: they hold memory until IDENTIFY or its timeout.
  await t.rejects(open(t, server.wsUrl), { message: 'upgrade refused: 429' });
  await first.close();
  for (let attempt = 0; ; attempt++) {
    const socket = await connect(t, server, users[2]!).catch((err: Error) => err);
    if (!(socket instanceof Error)) break;
    if (attempt === 50) t.fail(`no place freed: ${socket.message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
});

t.test('resumes are paced per user: past RATE_LIMIT_RESUME one waits its turn, and misses nothing', async (t) => {
  // Two at once, then one a second.
  const server = await startServer(t, { RATE_LIMIT_RESUME: '2', RATE_LIMIT_RESUME_WINDOW_MS: '2000' });
  const { alice, bob, chatId } = await pair(server);
  const post = (content: string) => request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content } });
  const first = (await post('before')).body;
  const socket = await connect(t, server, alice);
  for (let i = 0; i < 2; i++) {
    socket.send({ type: 'resume', after: 0 });
    t.match(await socket.nextOfType('resumed'), { last_id: first.id, complete: true });
  }
  t.equal(socket.drain().filter((f) => f.type === 'message').length, 2, 'each replayed the one message');

  socket.send({ type: 'resume', after: first.id - 1 });
  // A second resume while the first waits is refused; the first goes on.
  socket.send({ type: 'resume', after: 0 });
  t.match(await socket.nextOfType('error'), { code: 'RESUME_IN_PROGRESS' });
  const live = (await post('while waiting')).body;
  const frames = [];
  for (let frame = await socket.next(); ; frame = await socket.next()) {
    frames.push(frame);
    if (frame.type === 'message' && frame.id === live.id) break;
  }
  t.same(
    frames.map((f) => f.type === 'message' ? f.content : f.type),
    ['before', 'resumed', 'while waiting'],
    'the paced resume replays, then the live frame held meanwhile follows',
  );
});

t.test('only ?token= authenticates a socket: ?%74oken= is no token', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  await (await open(t, `${server.wsUrl}?token=${alice.token}`)).ping();
  // Without a token the native socket waits for IDENTIFY: frames before it are refused.
  const encoded = await open(t, `${server.wsUrl}?%74oken=${alice.token}`);
  encoded.send({ type: 'ping' });
  t.match(await encoded.nextOfType('error'), { code: 'NOT_IDENTIFIED' });
  await t.rejects(open(t, `${server.url.replace('http', 'ws')}/api/ws/00000000-0000-0000-0000-000000000001?%74oken=${alice.token}`), {
    message: 'upgrade refused: 401',
  });
});
