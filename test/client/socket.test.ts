import t from 'tap';
import { pair, request, startServer } from '../helpers/server.js';
import { connected, twoClients, cutOff, history, increasing, mapStorage, newClient, nextStatus, record, waitFor, type Client } from './helpers.js';

// web/client.js's socket: connect, the outbox, sends made offline, resume, refusals, reconnecting.

/** Sends a last message and waits until `receiver` has it: whatever was sent before has arrived too. */
async function flush(sender: Client, receiver: Client, chatId: number): Promise<void> {
  const got = record(receiver, 'message');
  const { client_id } = sender.send(chatId, 'flush');
  await waitFor(() => got.some((m) => m.client_id === client_id), 'the flush message');
}

t.test('connect, send: the message arrives once, its echo empties the outbox', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId, a, b } = await twoClients(t, server);
  const statuses = record(a, 'status');
  t.equal(a.status, 'offline');
  await connected(a);
  t.same(statuses, [{ status: 'connecting' }, { status: 'online' }]);
  t.equal(a.status, 'online');
  await connected(b);

  const atBob = record(b, 'message');
  const atAlice = record(a, 'message');
  const outboxes = record(a, 'outbox');
  const entry = a.send(chatId, 'Hello Bob');
  t.match(entry, { chat_id: chatId, content: 'Hello Bob', files: [], status: 'pending' });
  t.match(entry.client_id, /^[0-9a-f]{32}$/, 'a fresh client_id');
  t.same(a.pending(), [entry], 'in the outbox until its echo');
  t.same(a.pending(chatId + 1), [], 'pending(chatId) keeps that chat only');
  await waitFor(() => atBob.length === 1 && a.pending().length === 0, 'delivery and echo');
  t.match(atBob[0], { chat_id: chatId, content: 'Hello Bob', sender_id: alice.user.id, client_id: entry.client_id });
  t.notOk('type' in atBob[0], 'the detail is the message object');
  t.same(atAlice, atBob, 'the echo is emitted as a message to the sender too');
  t.same(outboxes, [[entry], []], 'outbox events: sent, then confirmed');

  // The echo of a send made again (same client_id, as after a drop) is not a new message.
  a.ws!.send(JSON.stringify({ chat_id: chatId, content: 'Hello Bob', client_id: entry.client_id }));
  const reply = b.send(chatId, 'Hi Alice');
  await waitFor(() => atAlice.length === 2 && b.pending().length === 0, 'the reply');
  await flush(a, b, chatId);
  t.same(atBob.filter((m) => m.client_id === entry.client_id).length, 1, 'the message reached Bob once');
  t.same(atBob.filter((m) => m.client_id === reply.client_id).length, 1, 'his reply came back once');
  t.same(atAlice.filter((m) => m.client_id === entry.client_id).length, 1, 'a repeated echo is not emitted again');
  t.ok(increasing(atBob.map((m) => m.id)), 'in id order');
  t.same((await history(server, bob.token, chatId)).map((m) => m.content), ['Hello Bob', 'Hi Alice', 'flush']);
});

t.test('sends made before connect and during a drop go out on connect, stored and delivered once', async (t) => {
  const server = await startServer(t);
  const { bob, chatId, a, b } = await twoClients(t, server);
  await connected(b);
  const atBob = record(b, 'message');

  a.send(chatId, 'before 1');
  a.send(chatId, 'before 2');
  t.same(a.pending().map((e) => e.status), ['pending', 'pending'], 'kept while offline');
  await connected(a);
  await waitFor(() => a.pending().length === 0, 'the sends made before connect');

  // A send whose frame may or may not leave before the socket is cut: it has no echo either way.
  a.send(chatId, 'at the drop');
  const offline = nextStatus(a, 'offline');
  cutOff(a);
  const { retryInMs } = await offline;
  t.type(retryInMs, 'number', 'a reconnect is planned');
  for (const text of ['during 1', 'during 2', 'during 3']) a.send(chatId, text);
  t.equal(a.pending().length, 4);
  await nextStatus(a, 'online'); // by itself
  await waitFor(() => a.pending().length === 0, 'the outbox to empty');
  await flush(a, b, chatId);

  const expected = ['before 1', 'before 2', 'at the drop', 'during 1', 'during 2', 'during 3', 'flush'];
  const stored = await history(server, bob.token, chatId);
  t.same(stored.map((m) => m.content), expected, 'each stored once, in the order sent');
  t.equal(new Set(stored.map((m) => m.client_id)).size, expected.length);
  t.same(atBob.map((m) => m.content), expected, 'each delivered once');
  t.same(atBob.map((m) => m.id), stored.map((m) => m.id), 'in id order');
});

t.test('resume: a client that was away gets every message once, in order, and the changes made meanwhile', async (t) => {
  const server = await startServer(t);
  const { alice, chatId, a, b } = await twoClients(t, server);
  await connected(a);
  await connected(b);
  const first = record(b, 'message');
  a.send(chatId, 'seen live');
  await waitFor(() => first.length === 1, 'the live message');

  b.disconnect();
  t.equal(b.status, 'offline');
  const sent = ['away 1', 'away 2', 'away 3', 'away 4'].map((text) => a.send(chatId, text));
  await waitFor(() => a.pending().length === 0, 'the echoes');
  const echoes = await history(server, alice.token, chatId);
  const byContent = new Map(echoes.map((m) => [m.content, m]));
  const token = alice.token;
  await request(server, 'PATCH', `/v1/chats/${chatId}/messages/${first[0].id}`, { token, body: { content: 'seen live, edited' } });
  await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${byContent.get('away 2').id}`, { token });
  const group = (await request(server, 'POST', '/v1/chats', { token, body: { name: 'Weekend', members: ['bob'] } })).body;
  a.send(group.id, 'in the group');
  await waitFor(() => a.pending().length === 0, 'the group message');

  const log: { type: string; detail: any }[] = [];
  for (const type of ['message', 'message_updated', 'message_deleted', 'chat', 'resumed']) {
    b.on(type, (detail: any) => log.push({ type, detail }));
  }
  await connected(b);
  await waitFor(() => log.some((e) => e.type === 'resumed'), 'the end of the replay');
  await flush(a, b, chatId);

  const messages = log.filter((e) => e.type === 'message').map((e) => e.detail);
  const ids = messages.map((m) => m.id);
  t.ok(increasing(ids), 'in increasing id order, none twice');
  t.same(
    messages.slice(0, 4).map((m) => m.id),
    sent.map((e) => echoes.find((m) => m.client_id === e.client_id).id),
    'the messages sent meanwhile, as stored',
  );
  t.same(
    messages.map((m) => m.content),
    ['away 1', null, 'away 3', 'away 4', 'in the group', 'flush'],
    'every message once; the deleted one as it is now',
  );
  t.notOk(ids.includes(first[0].id), 'nothing already delivered');
  t.match(log.find((e) => e.type === 'message_updated')?.detail, { id: first[0].id, content: 'seen live, edited' });
  t.same(log.find((e) => e.type === 'message_deleted')?.detail, { chat_id: chatId, id: byContent.get('away 2').id });
  t.match(log.find((e) => e.type === 'chat')?.detail, { chat: { id: group.id, name: 'Weekend' } });
  t.match(log.find((e) => e.type === 'resumed')?.detail, { complete: true });
  const types = log.map((e) => e.type);
  t.ok(types.indexOf('chat') < types.indexOf('message', types.indexOf('chat')), 'the group\'s chat frame comes before its message');
  t.ok(types.indexOf('resumed') < types.lastIndexOf('message'), 'the replay, then live frames');
});

t.test('the outbox survives the client: a new client with the same storage and session sends it', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const storage = mapStorage();
  const first = newClient(t, server, { session: alice, storage });
  const entry = first.send(chatId, 'written offline');
  const key = `dm.outbox.${alice.user.id}`;
  t.same(JSON.parse(storage.map.get(key)!).map((e: any) => e.client_id), [entry.client_id], 'saved as it is written');
  // The page is closed: `first` is never used again.

  const b = newClient(t, server, { session: bob });
  await connected(b);
  const atBob = record(b, 'message');
  const again = newClient(t, server, { session: alice, storage });
  t.same(again.pending(), [entry], 'restored from storage');
  await connected(again);
  await waitFor(() => again.pending().length === 0, 'the echo');
  t.notOk(storage.map.has(key), 'storage emptied once confirmed');
  await flush(again, b, chatId);
  t.same(atBob.map((m) => m.content), ['written offline', 'flush'], 'delivered once');
  t.same((await history(server, bob.token, chatId)).map((m) => m.client_id), [entry.client_id, atBob[1].client_id], 'stored once');

  storage.setItem(key, '{not json');
  t.same(newClient(t, server, { session: alice, storage }).pending(), [], 'a damaged entry restores nothing');
});

t.test('a send refused for good fails with its code; retry, discard', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const storage = mapStorage();
  const a = newClient(t, server, { session: alice, storage });
  const b = newClient(t, server, { session: bob });
  await connected(a);
  await connected(b);
  const errors = record(a, 'error');

  const entry = a.send(999_999, 'to no chat');
  await waitFor(() => errors.length === 1, 'the refusal');
  t.match(a.pending(), [{ client_id: entry.client_id, status: 'failed', code: 'CHAT_NOT_FOUND', error: String }]);
  t.match(errors[0], { code: 'CHAT_NOT_FOUND', client_id: entry.client_id, entry: { status: 'failed' } });
  t.match(JSON.parse(storage.getItem(`dm.outbox.${alice.user.id}`)!), [{ status: 'failed', code: 'CHAT_NOT_FOUND' }], 'saved as failed');

  // It does not block the others, and a reconnect does not send it again.
  const offline = nextStatus(a, 'offline');
  cutOff(a);
  await offline;
  await nextStatus(a, 'online');
  await flush(a, b, chatId);
  t.equal(errors.length, 1, 'a failed send is not sent again by itself');
  t.equal(a.pending().length, 1);

  a.retry(entry.client_id);
  const retried: any = a.pending()[0];
  t.equal(retried.status, 'pending', 'retry: pending again');
  t.notOk('code' in retried || 'error' in retried, 'the refusal is forgotten');
  await waitFor(() => errors.length === 2, 'the second refusal');
  t.match(a.pending(), [{ client_id: entry.client_id, status: 'failed', code: 'CHAT_NOT_FOUND' }], 'sent again with the same client_id');

  const outboxes = record(a, 'outbox');
  a.discard(entry.client_id);
  t.same(a.pending(), []);
  t.same(outboxes, [[]], 'discard emits outbox, so that a page showing the outbox drops the entry');
  a.discard(entry.client_id);
  t.same(outboxes, [[]], 'discarding what is not there changes nothing, emits nothing');
  t.equal(storage.getItem(`dm.outbox.${alice.user.id}`), null, 'removed from storage');
  a.retry('no-such-id');
  t.same(a.pending(), [], 'retry of an unknown id does nothing');
  t.same((await history(server, bob.token, chatId)).map((m) => m.content), ['flush']);
});

t.test('reconnectNow: while waiting for a backoff, connects at once', async (t) => {
  const server = await startServer(t);
  const { alice } = await pair(server);
  const a = newClient(t, server, { session: alice });
  await connected(a);
  const socket = a.ws;
  a.reconnectNow();
  t.equal(a.ws, socket, 'a socket that is up is left alone');

  // As after many failed attempts: the next one would be 7.5 to 15 s away.
  a.attempt = 20;
  const offline = nextStatus(a, 'offline');
  cutOff(a);
  t.ok((await offline).retryInMs! >= 7500, 'a long wait is planned');
  const statuses = record(a, 'status');
  a.reconnectNow();
  t.same(statuses, [{ status: 'connecting' }], 'connecting at once');
  await nextStatus(a, 'online', 5000);
  t.equal(a.attempt, 0, 'the backoff starts over');
  t.not(a.ws, null);
});

t.test('connect() while connected replaces the socket: one stays open', async (t) => {
  const server = await startServer(t);
  const { chatId, a, b } = await twoClients(t, server);
  await connected(a);
  await connected(b);
  const first = a.ws!;
  const closed = new Promise<number>((resolve) => first.addEventListener('close', (e: { code: number }) => resolve(e.code)));
  await connected(a);
  t.not(a.ws, first, 'a new socket');
  t.equal(await closed, 1000, 'the old one is closed');
  const atAlice = record(a, 'message');
  await flush(b, a, chatId);
  t.equal(atAlice.length, 1, 'messages arrive once');
  a.disconnect();
  t.equal(a.ws, null);
});

t.test('reconnect(): drops the socket and comes back by itself after the backoff', async (t) => {
  const server = await startServer(t);
  const { chatId, a, b } = await twoClients(t, server);
  await connected(a);
  await connected(b);
  const first = a.ws!;
  const statuses = record(a, 'status');
  a.reconnect();
  t.match(statuses, [{ status: 'offline', retryInMs: Number }], 'offline, a reconnect planned');
  t.equal(a.ws, null);
  a.send(chatId, 'while dropped');
  await nextStatus(a, 'online');
  t.not(a.ws, first);
  const atBob = record(b, 'message');
  await waitFor(() => a.pending().length === 0, 'the send made meanwhile');
  await flush(a, b, chatId);
  t.same(atBob.map((m) => m.content), ['while dropped', 'flush']);

  a.disconnect();
  const none = record(a, 'status');
  a.reconnect();
  t.same(none, [], 'nothing after disconnect()');
});

t.test('settle(message): a message found in a history page takes its entry out of the outbox', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const storage = mapStorage();
  const key = `dm.outbox.${alice.user.id}`;
  // The page wrote a message, the server stored it, and the page was closed before the echo came.
  const entry = newClient(t, server, { session: alice, storage }).send(chatId, 'stored, echo lost');
  const other = newClient(t, server, { session: alice, storage }).send(chatId, 'not stored');
  await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: entry.content, client_id: entry.client_id } });
  // Bob's message with the same client_id (a key is the pair sender, client_id) is not Alice's.
  await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: 'Bob', client_id: other.client_id } });

  const a = newClient(t, server, { session: alice, storage });
  t.same(a.pending().map((e) => e.client_id), [entry.client_id, other.client_id], 'both restored');
  const outboxes = record(a, 'outbox');
  const page = await a.request('GET', `/chats/${chatId}/messages`);
  for (const message of page) a.settle(message);
  t.same(a.pending().map((e) => e.client_id), [other.client_id], 'only Alice\'s stored message is settled');
  t.same(outboxes, [a.pending()], 'an outbox event');
  t.same(JSON.parse(storage.map.get(key)!).map((e: any) => e.client_id), [other.client_id], 'saved');
  a.settle(page[0]);
  a.settle({ ...page[0], client_id: null });
  t.equal(outboxes.length, 1, 'settling again, or a message without client_id, changes nothing');

  const b = newClient(t, server, { session: bob });
  await connected(b);
  await connected(a);
  await waitFor(() => a.pending().length === 0, 'the other entry\'s echo');
  await flush(a, b, chatId);
  t.same(
    (await history(server, bob.token, chatId)).map((m) => m.content),
    ['stored, echo lost', 'Bob', 'not stored', 'flush'],
    'the settled message was not sent again',
  );
});
