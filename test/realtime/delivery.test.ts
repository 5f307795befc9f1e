import Database from 'better-sqlite3';
import path from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { sqlitePath } from '../../src/config.js';
import type { Connection } from '../../src/gateway/connection.js';
import { login, pair, request, startServer } from '../helpers/server.js';
import { holdFlushes, until } from '../helpers/flushes.js';
import { connect, open, TestSocket, type Frame } from '../helpers/ws-client.js';

t.test('one client_id sent at once over REST and two sockets stores one message', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const phone = await connect(t, server, alice);
  const laptop = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);

  const send = { chat_id: chatId, content: 'once', client_id: 'same-key' };
  phone.send(send);
  laptop.send(send);
  const rest = await Promise.all(
    [1, 2, 3].map(() => request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: send })),
  );
  const id = rest[0]!.body.id;
  t.ok(rest.every((r) => r.status === 201 && r.body.id === id), 'every REST caller gets the same message');
  t.equal((await phone.nextOfType('message')).id, id);
  t.equal((await laptop.nextOfType('message')).id, id);
  const bobMessages = (await bobSocket.settle()).filter((f) => f.type === 'message');
  t.same(bobMessages.map((f) => f.id), [id], 'the other member receives it once');
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.equal(history.body.length, 1, 'one row');
});

t.test('a receiver that drops mid-burst resumes with nothing lost and nothing twice', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const sender = await connect(t, server, alice);
  let receiver = await connect(t, server, bob);
  const TOTAL = 400;
  const received: Frame[] = [];
  const collect = (socket: TestSocket) => socket.ws.on('message', (d) => {
    const frame = JSON.parse(d.toString());
    if (frame.type === 'message') received.push(frame);
  });
  collect(receiver);

  let sent = 0;
  const burst = setInterval(() => {
    for (let i = 0; i < 10 && sent < TOTAL; i++) sender.send({ chat_id: chatId, content: `m${sent++}` });
    if (sent === TOTAL) clearInterval(burst);
  }, 1);
  t.teardown(() => clearInterval(burst));

  while (received.length < 50) await new Promise((r) => setTimeout(r, 2));
  receiver.ws.terminate();
  await receiver.closed;
  // What the client had seen when its socket died (frames parsed after terminate() included).
  const lastSeen = received.at(-1)!.id;
  while (sent < TOTAL / 2) await new Promise((r) => setTimeout(r, 2));

  // Reconnect while the burst goes on: the replay and live messages interleave on the server.
  // Reconnect while the burst goes on: the replay and live messages interleave on the server.
  receiver = await open(t, server.wsUrl, { authorization: `Bearer ${bob.token}` });
  receiver.send({ type: 'resume', after: lastSeen });
  for (let f = await receiver.next(); f.type !== 'resumed'; f = await receiver.next()) received.push(f);
  while (received.length < TOTAL) received.push(await receiver.nextOfType('message'));
  t.same(await receiver.settle(), [], 'nothing more');

  const contents = received.map((f) => f.content);
  t.equal(received.length, TOTAL, 'nothing twice');
  t.same(contents, Array.from({ length: TOTAL }, (_, i) => `m${i}`), 'nothing lost, in order');
  t.ok(received.every((f, i) => i === 0 || f.id > received[i - 1]!.id), 'ids ascend');
});

t.test('resume replays the chat changes among the messages, and nothing of chats the user has left', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const group = await request(server, 'POST', '/v1/chats', { token: alice.token, body: { name: 'g', members: ['bob'] } });
  const send = (chat: number, content: string) =>
    request(server, 'POST', `/v1/chats/${chat}/messages`, { token: alice.token, body: { content } });
  await send(group.body.id, 'group one');
  await send(chatId, 'direct one');
  await request(server, 'DELETE', `/v1/chats/${group.body.id}/members/${bob.user.id}`, { token: bob.token });
  await send(group.body.id, 'group two');

  const socket = await connect(t, server, bob);
  socket.send({ type: 'resume', after: 0 });
  const frames = [];
  for (let f = await socket.next(); f.type !== 'resumed'; f = await socket.next()) frames.push(f);
  const shown = frames.map((f) => (f.type === 'chat' ? `chat ${f.chat.id} ${f.chat.participants.length}` : `${f.type} ${f.content}`));
  // A replayed chat change shows the chat as it is now: the group without bob, twice.
  t.same(shown, [`chat ${chatId} 2`, `chat ${group.body.id} 1`, 'message direct one', `chat ${group.body.id} 1`], 'the group as bob left it, not its messages');
});

/** Sends `resume` and collects what it replays, up to its `resumed` frame. */
async function resumeOn(socket: TestSocket, after: number) {
  socket.send({ type: 'resume', after });
  const frames: Frame[] = [];
  for (let f = await socket.next(); f.type !== 'resumed'; f = await socket.next()) frames.push(f);
  return frames;
}

t.test('a resume replays everything up to the present, in pages of RESUME_MAX_MESSAGES', async (t) => {
  const server = await startServer(t, { RESUME_MAX_MESSAGES: '5' });
  const { alice, bob, chatId } = await pair(server);
  for (let i = 0; i < 12; i++) {
    await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: `m${i}` } });
  }
  const socket = await connect(t, server, bob);
  socket.send({ type: 'resume', after: 0 });
  const frames: Frame[] = [];
  let f = await socket.next();
  for (; f.type !== 'resumed'; f = await socket.next()) if (f.type === 'message') frames.push(f);
  t.same(frames.map((m) => m.content), Array.from({ length: 12 }, (_, i) => `m${i}`), 'three pages, one replay');
  t.same(f, { type: 'resumed', last_id: frames.at(-1)!.id, complete: true });
  t.same(await resumeOn(socket, frames.at(-1)!.id), [], 'nothing after the newest');
});

t.test('resume replays the edits, deletes and read markers made while the device was away, in the order they were made', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const post = async (content: string) =>
    (await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content } })).body;
  const first = await post('first');
  const second = await post('second');
  const socket = await connect(t, server, bob);
  const bobs = (await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: 'bob' } })).body;
  const highest = bobs.id;
  await socket.close();

  // While bob is away: alice edits one message, deletes the other, reads bob's, and writes again.
  await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${first.id}`, { token: alice.token, body: { content: 'first, edited' } });
  await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${second.id}`, { token: alice.token });
  await request(server, 'POST', `/v1/chats/${chatId}/read`, { token: alice.token, body: { message_id: bobs.id } });
  const third = await post('third');
  await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${third.id}`, { token: alice.token, body: { content: 'third, edited' } });

  const back = await connect(t, server, bob);
  const frames = await resumeOn(back, highest);
  t.same(
    frames.map((f) => [f.type, f.message?.content ?? f.content ?? f.id ?? f.message_id]),
    [
      ['message_updated', 'first, edited'],
      ['message_deleted', second.id],
      ['read', bobs.id],
      // A replayed message shows its current text; its edit follows, as it happened.
      ['message', 'third, edited'],
      ['message_updated', 'third, edited'],
    ],
  );
  // The edit after the newest message is replayed again after its id (changes are idempotent),
  // and not after `last_id`, which counts the events too.
  back.send({ type: 'resume', after: third.id });
  t.match(await back.next(), { type: 'message_updated', message: { id: third.id } });
  const resumed = await back.next();
  t.equal(resumed.type, 'resumed');
  t.same(await resumeOn(back, resumed.last_id), [], 'nothing after last_id');
});

t.test('a resume after an id the log has not reached yet does not keep new messages from the socket', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const socket = await connect(t, server, bob);
  t.same(await resumeOn(socket, 2 ** 31 - 1), []);
  const sent = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'still here' } });
  t.match(await socket.nextOfType('message'), { id: sent.body.id });
});

t.test('a device that drops in the middle of a replay and resumes after its highest id loses nothing', async (t) => {
  // The failure this prevents: live frames released between pages put the client's highest id
  // ahead of the replay, and a resume after it skipped what the replay had not reached.
  const server = await startServer(t, { RESUME_MAX_MESSAGES: '100' });
  const { alice, bob, chatId } = await pair(server);
  const sender = await connect(t, server, alice);
  for (let i = 0; i < 400; i++) sender.send({ chat_id: chatId, content: `old ${i}`, client_id: `o${i}` });
  for (let n = 0; n < 400; n++) await sender.nextOfType('message');

  const first = await connect(t, server, bob);
  first.send({ type: 'resume', after: 0 });
  // New messages arrive while the replay runs.
  for (let i = 0; i < 50; i++) sender.send({ chat_id: chatId, content: `new ${i}`, client_id: `n${i}` });
  const seen: Frame[] = [];
  while (seen.length < 150) seen.push(await first.nextOfType('message'));
  first.ws.terminate();
  t.same(seen.map((m) => m.content), Array.from({ length: 150 }, (_, i) => `old ${i}`), 'the replay comes before anything live');

  const second = await connect(t, server, bob);
  const highest = Math.max(...seen.map((m) => m.id));
  const rest = await resumeOn(second, highest);
  for (let n = 0; n < 50; n++) await sender.nextOfType('message');
  await second.ping();
  rest.push(...second.drain().filter((m) => m.type === 'message'));
  const all = [...seen, ...rest].map((m) => m.content);
  t.same(all, [...Array.from({ length: 400 }, (_, i) => `old ${i}`), ...Array.from({ length: 50 }, (_, i) => `new ${i}`)], 'every message once, in order');
});

t.test('a replay waits for a slow reader instead of overrunning its backlog bound', async (t) => {
  const server = await startServer(t, { WS_MAX_BACKLOG_BYTES: '65536' });
  const { alice, bob, chatId } = await pair(server);
  const content = 'x'.repeat(3900);
  const sender = await connect(t, server, alice);
  for (let i = 0; i < 200; i++) sender.send({ chat_id: chatId, content, client_id: `big${i}` });
  for (let n = 0; n < 200; n++) await sender.nextOfType('message');

  // ~800 KB to replay through a 64 KiB bound: the most the server holds for the socket at any
  // moment is sampled after each frame it hands to `ws`.
  const socket = await connect(t, server, bob);
  const connection = [...server.app.realtime.hub.subscribers()].find((sub) => sub.user?.id === bob.user.id) as Connection;
  let peak = 0;
  const send = connection.socket.send.bind(connection.socket);
  connection.socket.send = ((...args: Parameters<typeof send>) => {
    send(...args);
    peak = Math.max(peak, connection.backlogBytes);
  }) as typeof send;
  socket.send({ type: 'resume', after: 0 });
  const frames: Frame[] = [];
  let f = await socket.next();
  for (; f.type !== 'resumed'; f = await socket.next()) if (f.type === 'message') frames.push(f);
  t.equal(frames.length, 200, 'the whole replay arrives');
  t.same(frames.map((m) => m.client_id), Array.from({ length: 200 }, (_, i) => `big${i}`), 'in order');
  t.match(f, { complete: true });
  t.ok(peak <= 65536, `at most ${peak} bytes waited for the peer at once, within the bound`);
  t.ok(connection.open, 'and the socket is still open');
});

t.test('a socket that stops answering pings is terminated and counted offline', async (t) => {
  const server = await startServer(t, { WS_IDLE_TIMEOUT_MS: '600' });
  const { alice, bob } = await pair(server);
  const bobSocket = await connect(t, server, bob);
  const ws = new WebSocket(server.wsUrl, { headers: { authorization: `Bearer ${alice.token}` }, autoPong: false });
  const silent = new TestSocket(ws);
  t.teardown(() => ws.terminate());
  await new Promise((resolve) => ws.once('open', resolve));
  t.match(await bobSocket.nextOfType('presence'), { user_id: alice.user.id, online: true });
  t.equal((await silent.closed).code, 1006, 'terminated without a close handshake');
  t.match(await bobSocket.nextOfType('presence'), { user_id: alice.user.id, online: false });
  await bobSocket.ping();
  t.ok(bobSocket.ws.readyState === WebSocket.OPEN, 'a socket that answers pings stays open');
});

t.test('a reader that never reads is closed with 1013 while the others keep receiving', async (t) => {
  // Headroom over what is in flight (50 × 4 KB), so that the healthy reader, which shares this
  // process with the server, is never over the bound; the slow one gets 16 MB.
  const server = await startServer(t, { WS_MAX_BACKLOG_BYTES: String(512 * 1024) });
  const { alice, bob, chatId } = await pair(server);
  const sender = await connect(t, server, alice);
  const healthy = await connect(t, server, bob);
  const slow = await connect(t, server, bob);
  const slowTcp = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  slowTcp.pause();

  // Enough to fill the kernel's socket buffers on both ends and then the bounded backlog.
  const TOTAL = 4000;
  const content = 'x'.repeat(4000);
  let echoed = 0;
  let delivered = 0;
  sender.ws.on('message', () => echoed++);
  healthy.ws.on('message', (d) => {
    if (JSON.parse(d.toString()).type === 'message') delivered++;
  });
  for (let sent = 0; sent < TOTAL; ) {
    while (sent < TOTAL && sent - echoed < 50) sender.send({ chat_id: chatId, content, client_id: `c${sent++}` });
    await new Promise((r) => setTimeout(r, 1));
  }
  while (delivered < TOTAL) await new Promise((r) => setTimeout(r, 5));
  t.equal(delivered, TOTAL, 'the healthy socket received every message');
  const bobSockets = [...server.app.realtime.hub.subscribers()].filter((c) => c.user?.id === bob.user.id);
  t.equal(bobSockets.length, 1, 'the slow socket is out of the hub: nothing more is queued for it');
  slowTcp.resume();
  t.equal((await slow.closed).code, 1013);
});

t.test('the per-user send rate limit answers RATE_LIMITED and keeps the socket', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_SEND: '3', RATE_LIMIT_SEND_WINDOW_MS: '60000' });
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  for (let i = 0; i < 5; i++) socket.send({ chat_id: chatId, content: `m${i}`, client_id: `c${i}` });
  const frames = [];
  for (let i = 0; i < 5; i++) frames.push(await socket.next());
  t.equal(frames.filter((f) => f.type === 'message').length, 3);
  const limited = frames.filter((f) => f.type === 'error');
  t.equal(limited.length, 2);
  t.match(limited[0], { code: 'RATE_LIMITED', client_id: String, retry_after_ms: Number });
  await socket.ping();
  const rest = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'x' } });
  t.equal(rest.status, 429);
  t.match(rest.body, { code: 'RATE_LIMITED' });
  t.ok(Number(rest.headers.get('retry-after')) >= 1, 'Retry-After in seconds');
});

const storedClientIds = (server: { config: { databaseUrl: string } }) => {
  const db = new Database(path.resolve(sqlitePath(server.config.databaseUrl)!), { readonly: true });
  try {
    return db.prepare('select client_id from messages order by id').all().map((r) => (r as { client_id: string }).client_id);
  } finally {
    db.close();
  }
};

/** Alice and Bob in a chat, Alice's send `a` committed, and its flush held. */
async function firstFlushHeld(t: Test) {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const flushes = holdFlushes(t);
  socket.send({ chat_id: chatId, content: 'first', client_id: 'a' });
  await until(() => flushes.waiting === 1, 'a flush');
  return { server, chatId, socket, bobSocket, flushes };
}

t.test('sends that arrive during a slow flush are committed meanwhile, and confirmed in order after a flush of their own', async (t) => {
  const { server, chatId, socket, bobSocket, flushes } = await firstFlushHeld(t);
  socket.send({ chat_id: chatId, content: 'second', client_id: 'b' });
  socket.send({ chat_id: chatId, content: 'third', client_id: 'c' });
  await until(() => storedClientIds(server).length === 3, 'the later sends committed');
  t.same(storedClientIds(server), ['a', 'b', 'c'], 'committed while the first flush still runs');
  t.equal(flushes.waiting, 1, 'no second flush before the first ends');
  t.same(await bobSocket.settle(), [], 'nothing delivered yet');

  flushes.release();
  t.match(await socket.nextOfType('message'), { client_id: 'a' }, 'the first flush confirms the first send');
  await until(() => flushes.waiting === 1, 'a flush');
  t.same((await socket.settle()).filter((f) => f.type === 'message'), [], 'the later sends wait for a flush that began after their commit');
  flushes.release();
  const echoes = [await socket.nextOfType('message'), await socket.nextOfType('message')];
  t.same(echoes.map((f) => f.client_id), ['b', 'c']);
  const delivered = [await bobSocket.nextOfType('message'), await bobSocket.nextOfType('message'), await bobSocket.nextOfType('message')];
  t.same(delivered.map((f) => f.client_id), ['a', 'b', 'c'], 'delivered once each, in id order');
  t.ok(delivered[0]!.id < delivered[1]!.id && delivered[1]!.id < delivered[2]!.id);
});

t.test('when a flush fails, its batch and the sends committed while it ran are refused, and each can be sent again', async (t) => {
  const { server, chatId, socket, bobSocket, flushes } = await firstFlushHeld(t);
  socket.send({ chat_id: chatId, content: 'second', client_id: 'b' });
  await until(() => storedClientIds(server).length === 2, 'the second send committed');
  // A later flush could succeed without the pages the failed one lost: neither send may be confirmed.
  flushes.release(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
  const errors = [await socket.nextOfType('error'), await socket.nextOfType('error')];
  t.same(errors.map((f) => [f.code, f.client_id]), [['STORE_UNAVAILABLE', 'a'], ['STORE_UNAVAILABLE', 'b']]);
  t.same((await bobSocket.settle()).filter((f) => f.type === 'message'), [], 'nothing delivered');

  // From here on every flush goes through, however the two sends are batched.
  const passFlushes = setInterval(() => {
    while (flushes.waiting > 0) flushes.release();
  }, 1);
  t.teardown(() => clearInterval(passFlushes));
  socket.send({ chat_id: chatId, content: 'first', client_id: 'a' });
  socket.send({ chat_id: chatId, content: 'second', client_id: 'b' });
  const echoes = [await socket.nextOfType('message'), await socket.nextOfType('message')];
  t.same(echoes.map((f) => f.client_id), ['a', 'b'], 'sent again, both are confirmed');
  t.same(storedClientIds(server), ['a', 'b'], 'and stored once');
  const delivered = [await bobSocket.nextOfType('message'), await bobSocket.nextOfType('message')];
  t.same(delivered.map((f) => [f.id, f.client_id]), echoes.map((f) => [f.id, f.client_id]), 'and delivered to the other member, in order');
});

t.test('over REST, a send whose flush fails answers 503 STORE_UNAVAILABLE; sent again, it is stored once, under a new id, and delivered', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const bobSocket = await connect(t, server, bob);
  const flushes = holdFlushes(t);
  const post = (client_id: string) => request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'maybe', client_id } });
  const send = () => post('r1');
  const before = post('r0');
  await until(() => flushes.waiting === 1, 'the first flush');
  flushes.release();
  const first = (await before).body;
  t.match(await bobSocket.nextOfType('message'), { id: first.id });
  // Alice's other chat has a message after it: the refused send must not make this one the latest.
  // Its creation is in the log too, and waits for a flush of its own.
  const pairing = pair(server, 'alice', 'carol');
  await until(() => flushes.waiting === 1, 'the new chat\'s flush');
  flushes.release();
  const { chatId: otherChat } = await pairing;
  const other = request(server, 'POST', `/v1/chats/${otherChat}/messages`, { token: alice.token, body: { content: 'hi carol', client_id: 'c0' } });
  await until(() => flushes.waiting === 1, 'the other chat\'s flush');
  flushes.release();
  t.equal((await other).status, 201);

  const refused = send();
  await until(() => flushes.waiting === 1, 'the flush');
  flushes.release(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
  const answer = await refused;
  t.equal(answer.status, 503);
  t.match(answer.body, { code: 'STORE_UNAVAILABLE', error: String });
  t.same((await bobSocket.settle()).filter((f) => f.type === 'message'), [], 'nothing delivered');
  const chat = await request(server, 'GET', `/v1/chats/${chatId}`, { token: bob.token });
  t.equal(chat.body.last_message?.id, first.id, 'the chat shows its last confirmed message');
  const chats = await request(server, 'GET', '/v1/chats', { token: alice.token });
  t.same(chats.body.map((c: { id: number }) => c.id), [otherChat, chatId], 'and is ordered by it');

  const again = send();
  await until(() => flushes.waiting === 1, 'the next flush');
  flushes.release();
  const stored = await again;
  t.equal(stored.status, 201);
  t.match(stored.body, { content: 'maybe', client_id: 'r1' });
  t.ok(stored.body.id > first.id, 'under a new id');
  t.same(storedClientIds(server), ['r0', 'c0', 'r1'], 'stored once');
  t.match(await bobSocket.nextOfType('message'), { id: stored.body.id, client_id: 'r1' }, 'delivered once stored');
});

t.test('shutdown confirms every accepted send before closing sockets with 1001', async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  const echoed = new Set<string>();
  const refused = new Set<string>();
  socket.ws.on('message', (d) => {
    const frame = JSON.parse(d.toString());
    if (frame.type === 'message') echoed.add(frame.client_id);
    if (frame.type === 'error') refused.add(frame.client_id);
  });
  for (let i = 0; i < 300; i++) socket.send({ chat_id: chatId, content: `m${i}`, client_id: `c${i}` });
  await new Promise((r) => setTimeout(r, 5));
  await server.app.close();
  t.equal((await socket.closed).code, 1001);

  const db = new Database(path.resolve(sqlitePath(server.config.databaseUrl)!), { readonly: true });
  t.teardown(() => db.close());
  const stored = new Set(db.prepare('select client_id from messages').all().map((r) => (r as { client_id: string }).client_id));
  t.ok(echoed.size > 0, `${echoed.size} sends confirmed before the close`);
  t.same([...stored].filter((c) => !echoed.has(c)), [], 'nothing stored without its echo');
  t.same([...echoed].filter((c) => !stored.has(c)), [], 'every echo is stored');
  t.ok([...refused].every((c) => !stored.has(c)), 'refused sends were not stored');
});

t.test('a frame sent right behind IDENTIFY waits for its answer instead of being refused', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const socket = await open(t, server.wsUrl);
  socket.send({ op: 'IDENTIFY', d: { token: alice.token } });
  socket.send({ type: 'resume', after: 0 });
  t.match(await socket.next(), { op: 'READY' });
  t.same(await socket.next(), { type: 'resumed', last_id: 0, complete: true }, 'a frame right behind IDENTIFY waits for it');
});
