import t from 'tap';
import { login, pair, startServer, type Session } from '../helpers/server.js';
import { call, expectError, RFC3339_MS } from './support.js';

// One server: every subtest works in a chat of its own, between users of its own.
const server = await startServer(t);

let counter = 0;
/** A direct chat between two fresh users, and a third who is in no chat. */
async function chat() {
  counter += 1;
  const { alice, bob, chatId } = await pair(server, `alice${counter}`, `bob${counter}`);
  const eve = await login(server, `eve${counter}`);
  return { alice, bob, eve, chatId };
}

async function send(session: Session, chatId: number, content: string, clientId?: string) {
  const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, {
    token: session.token,
    body: clientId === undefined ? { content } : { content, client_id: clientId },
  });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function history(session: Session, chatId: number, query = '') {
  return call(server, 'GET', `/v1/chats/${chatId}/messages${query}`, { token: session.token });
}

const contents = (messages: { content: string }[]) => messages.map((m) => m.content);
const MESSAGE_KEYS = ['id', 'chat_id', 'sender_id', 'sender', 'content', 'timestamp', 'client_id', 'edited_at', 'deleted_at', 'files'];

t.test('POST /chats/:chat_id/messages: 201 with the message object', async (t) => {
  const { alice, bob, chatId } = await chat();
  const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'hello bob' } });
  t.equal(res.status, 201);
  t.match(res.body, {
    id: Number,
    chat_id: chatId,
    sender_id: alice.user.id,
    sender: alice.user.username,
    content: 'hello bob',
    timestamp: RFC3339_MS,
    client_id: null,
    edited_at: null,
    deleted_at: null,
  });
  t.same(res.body.files, []);
  for (const key of MESSAGE_KEYS) t.ok(key in res.body, `message has ${key}`);
  const seen = await history(bob, chatId);
  t.same(seen.body, [res.body], 'the other member finds it in the history as sent');

  const withId = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: 'hi', client_id: 'k-1' } });
  t.equal(withId.status, 201);
  t.equal(withId.body.client_id, 'k-1', 'client_id is echoed');
  t.ok(withId.body.id > res.body.id, 'ids increase');
});

t.test('a repeated client_id answers with the message stored the first time', async (t) => {
  const { alice, bob, chatId } = await chat();
  const first = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'once', client_id: 'same' } });
  const second = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'once', client_id: 'same' } });
  t.equal(first.status, 201);
  t.ok(second.status === 200 || second.status === 201, 'a success');
  t.same(second.body, first.body, 'the same message');
  const changed = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'other text', client_id: 'same' } });
  t.equal(changed.body.id, first.body.id, 'even with other content');
  t.equal(changed.body.content, 'once');

  const concurrent = await Promise.all(
    Array.from({ length: 10 }, () => call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'burst', client_id: 'burst' } })),
  );
  t.equal(new Set(concurrent.map((r) => r.body.id)).size, 1, 'concurrent repeats make one message');

  const bobs = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: 'mine', client_id: 'same' } });
  t.equal(bobs.status, 201);
  t.not(bobs.body.id, first.body.id, "another sender's client_id is its own");

  const all = await history(bob, chatId);
  t.same(contents(all.body), ['once', 'burst', 'mine'], 'one row per client_id and sender');
});

t.test('POST message: content 1 to 4000 characters, client_id 1 to 64', async (t) => {
  const { alice, chatId } = await chat();
  const longest = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'x'.repeat(4000), client_id: 'c'.repeat(64) } });
  t.equal(longest.status, 201);
  t.equal(longest.body.content.length, 4000);
  const invalid: [unknown, string][] = [
    [{ content: 'x'.repeat(4001) }, 'content'],
    [{ content: '' }, 'content'],
    [{ content: 123 }, 'content'],
    [{ content: null }, 'content'],
    [{}, 'content'],
    [{ content: 'ok', client_id: '' }, 'client_id'],
    [{ content: 'ok', client_id: 'c'.repeat(65) }, 'client_id'],
    [{ content: 'ok', client_id: 7 }, 'client_id'],
  ];
  for (const [body, field] of invalid) {
    const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body });
    expectError(t, res, 400, 'VALIDATION_ERROR', field);
  }
  t.equal((await history(alice, chatId)).body.length, 1, 'refused sends stored nothing');
});

t.test('POST message: a non-member and a missing chat get 404', async (t) => {
  const { alice, eve, chatId } = await chat();
  const outsider = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: eve.token, body: { content: 'intrude' } });
  expectError(t, outsider, 404, 'CHAT_NOT_FOUND');
  const missing = await call(server, 'POST', '/v1/chats/999999/messages', { token: eve.token, body: { content: 'void' } });
  expectError(t, missing, 404, 'CHAT_NOT_FOUND');
  t.same(outsider.body, missing.body, 'existence is not leaked');
  t.same((await history(alice, chatId)).body, []);
});

t.test('GET /chats/:chat_id/messages: limit, before and after', async (t) => {
  const { alice, bob, chatId } = await chat();
  const sent = [];
  for (let i = 1; i <= 10; i++) sent.push(await send(i % 2 ? alice : bob, chatId, `m${i}`));
  const ids = sent.map((m) => m.id as number);

  const all = await history(bob, chatId);
  t.equal(all.status, 200);
  t.same(all.body.map((m: { id: number }) => m.id), ids, 'oldest first');
  t.same(all.body, sent, 'the stored objects');

  t.same(contents((await history(bob, chatId, '?limit=3')).body), ['m8', 'm9', 'm10'], 'the newest `limit`, oldest first');
  t.same(contents((await history(bob, chatId, `?limit=2&before=${ids[4]}`)).body), ['m3', 'm4'], 'the newest `limit` before `before`');
  t.same(contents((await history(bob, chatId, `?before=${ids[2]}`)).body), ['m1', 'm2']);
  t.same((await history(bob, chatId, `?before=${ids[0]}`)).body, [], 'nothing before the first');
  t.same(contents((await history(bob, chatId, `?limit=2&after=${ids[4]}`)).body), ['m6', 'm7'], 'the oldest `limit` after `after`');
  t.same(contents((await history(bob, chatId, `?after=${ids[7]}`)).body), ['m9', 'm10']);
  t.same(contents((await history(bob, chatId, '?after=0&limit=3')).body), ['m1', 'm2', 'm3'], 'after=0: from the start');
  t.same((await history(bob, chatId, `?after=${ids[9]}`)).body, [], 'nothing after the last');

  // Paging backwards with `before` and forwards with `after` each walk the whole history once.
  const backwards: string[] = [];
  let page = (await history(alice, chatId, '?limit=4')).body;
  while (page.length > 0) {
    backwards.unshift(...contents(page));
    page = (await history(alice, chatId, `?limit=4&before=${page[0].id}`)).body;
  }
  t.same(backwards, sent.map((m) => m.content));
  const forwards: string[] = [];
  page = (await history(alice, chatId, '?limit=4&after=0')).body;
  while (page.length > 0) {
    forwards.push(...contents(page));
    page = (await history(alice, chatId, `?limit=4&after=${page[page.length - 1].id}`)).body;
  }
  t.same(forwards, sent.map((m) => m.content));
});

t.test('GET messages: limit defaults to 50, at most 200', async (t) => {
  const { alice, chatId } = await chat();
  const sent = [];
  for (let i = 0; i < 210; i += 30) {
    sent.push(...(await Promise.all(Array.from({ length: 30 }, (_, j) => send(alice, chatId, `n${i + j}`)))));
  }
  const ids = sent.map((m) => m.id as number).sort((a, b) => a - b);
  const byDefault = await history(alice, chatId);
  t.same(byDefault.body.map((m: { id: number }) => m.id), ids.slice(-50), 'the newest 50, oldest first');
  t.same((await history(alice, chatId, '?limit=200')).body.map((m: { id: number }) => m.id), ids.slice(-200));
  t.same((await history(alice, chatId, '?limit=1')).body.map((m: { id: number }) => m.id), ids.slice(-1));
  t.same((await history(alice, chatId, '?after=0')).body.map((m: { id: number }) => m.id), ids.slice(0, 50), 'after: the oldest 50');
});

t.test('GET messages: bad queries are 400, a non-member 404', async (t) => {
  const { alice, eve, chatId } = await chat();
  await send(alice, chatId, 'only');
  const invalid: [string, string][] = [
    ['?limit=0', 'limit'],
    ['?limit=201', 'limit'],
    ['?limit=-5', 'limit'],
    ['?limit=ten', 'limit'],
    ['?before=0', 'before'],
    ['?before=abc', 'before'],
    ['?after=-1', 'after'],
    ['?after=x', 'after'],
  ];
  for (const [query, field] of invalid) {
    expectError(t, await history(alice, chatId, query), 400, 'VALIDATION_ERROR', field);
  }
  expectError(t, await history(alice, chatId, '?before=5&after=1'), 400, 'VALIDATION_ERROR');
  const outsider = await history(eve, chatId);
  expectError(t, outsider, 404, 'CHAT_NOT_FOUND');
  const missing = await history(eve, 999999);
  t.same(outsider.body, missing.body, 'the same answer as a chat that does not exist');
  expectError(t, await call(server, 'GET', '/v1/chats/abc/messages', { token: alice.token }), 400, 'VALIDATION_ERROR', 'chat_id');
});

t.test('PATCH /chats/:chat_id/messages/:id: the sender edits, setting edited_at', async (t) => {
  const { alice, bob, eve, chatId } = await chat();
  const original = await send(alice, chatId, 'draft', 'edit-me');
  const edited = await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${original.id}`, { token: alice.token, body: { content: 'final' } });
  t.equal(edited.status, 200);
  t.match(edited.body, { id: original.id, chat_id: chatId, sender_id: alice.user.id, sender: alice.user.username, content: 'final', timestamp: original.timestamp, client_id: 'edit-me', deleted_at: null, edited_at: RFC3339_MS });
  t.same(edited.body.files, []);
  t.same((await history(bob, chatId)).body, [edited.body], 'the history holds the edit');

  const byOther = await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${original.id}`, { token: bob.token, body: { content: 'hijack' } });
  expectError(t, byOther, 403);
  const byOutsider = await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${original.id}`, { token: eve.token, body: { content: 'hijack' } });
  expectError(t, byOutsider, 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'PATCH', `/v1/chats/${chatId}/messages/999999`, { token: alice.token, body: { content: 'x' } }), 404, 'MESSAGE_NOT_FOUND');
  for (const body of [{ content: '' }, { content: 'x'.repeat(4001) }, { content: 5 }, {}]) {
    expectError(t, await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${original.id}`, { token: alice.token, body }), 400, 'VALIDATION_ERROR', 'content');
  }
  t.equal((await history(bob, chatId)).body[0].content, 'final', 'refused edits changed nothing');

  const other = await chat();
  const elsewhere = await call(server, 'PATCH', `/v1/chats/${other.chatId}/messages/${original.id}`, { token: other.alice.token, body: { content: 'x' } });
  expectError(t, elsewhere, 404, 'MESSAGE_NOT_FOUND');
});

t.test('DELETE /chats/:chat_id/messages/:id: the sender deletes, leaving a tombstone', async (t) => {
  const { alice, bob, eve, chatId } = await chat();
  const keep = await send(alice, chatId, 'keep');
  const doomed = await send(alice, chatId, 'secret');
  const after = await send(bob, chatId, 'after');

  expectError(t, await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${doomed.id}`, { token: bob.token }), 403);
  expectError(t, await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${doomed.id}`, { token: eve.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'DELETE', `/v1/chats/${chatId}/messages/999999`, { token: alice.token }), 404, 'MESSAGE_NOT_FOUND');
  t.equal((await history(bob, chatId)).body[1].content, 'secret', 'refused deletes changed nothing');

  const res = await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${doomed.id}`, { token: alice.token });
  t.equal(res.status, 204);
  t.equal(res.body, null);
  const rows = (await history(bob, chatId)).body;
  t.same(rows.map((m: { id: number }) => m.id), [keep.id, doomed.id, after.id], 'the message stays in the history');
  t.match(rows[1], { id: doomed.id, sender_id: alice.user.id, content: null, deleted_at: RFC3339_MS });
  t.notOk(JSON.stringify(rows).includes('secret'), 'the content is gone');
  t.same(rows[0], keep);

  t.equal((await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${doomed.id}`, { token: alice.token })).status, 204, 'deleting again is fine');
  const edit = await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${doomed.id}`, { token: alice.token, body: { content: 'revive' } });
  t.ok(edit.status >= 400 && edit.status < 500, 'a deleted message cannot be edited');
  expectError(t, edit, edit.status);
  t.equal((await history(bob, chatId)).body[1].content, null);
});

t.test('POST /chats/:chat_id/read: 204; errors', async (t) => {
  const { alice, bob, eve, chatId } = await chat();
  const message = await send(alice, chatId, 'read me');
  const ok = await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body: { message_id: message.id } });
  t.equal(ok.status, 204);
  t.equal(ok.body, null);
  expectError(t, await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: eve.token, body: { message_id: message.id } }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'POST', '/v1/chats/999999/read', { token: bob.token, body: { message_id: message.id } }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body: { message_id: 999999 } }), 404, 'MESSAGE_NOT_FOUND');
  const other = await chat();
  const foreign = await send(other.alice, other.chatId, 'elsewhere');
  expectError(t, await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body: { message_id: foreign.id } }), 404, 'MESSAGE_NOT_FOUND');
  for (const body of [{}, { message_id: 'one' }, { message_id: 0 }]) {
    expectError(t, await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: bob.token, body }), 400, 'VALIDATION_ERROR', 'message_id');
  }
});

t.test('RATE_LIMIT_SEND counts edits: past the limit an edit is refused too, and changes nothing', async (t) => {
  const limited = await startServer(t, { RATE_LIMIT_SEND: '2', RATE_LIMIT_SEND_WINDOW_MS: '600000' });
  const { alice, chatId } = await pair(limited);
  const sent = await call(limited, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'one' } });
  const edit = (content: string) => call(limited, 'PATCH', `/v1/chats/${chatId}/messages/${sent.body.id}`, { token: alice.token, body: { content } });
  t.equal((await edit('one, edited')).status, 200, 'the second message of the window');
  // Before, 100 edits of 4 KB each went out to every member after the send limit answered 429.
  expectError(t, await edit('x'.repeat(4000)), 429, 'RATE_LIMITED');
  expectError(t, await call(limited, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'two' } }), 429, 'RATE_LIMITED');
  t.same(contents((await call(limited, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token })).body), ['one, edited']);
});

t.test('RATE_LIMIT_SEND: 429 with Retry-After and RATE_LIMITED', async (t) => {
  const limited = await startServer(t, { RATE_LIMIT_SEND: '2', RATE_LIMIT_SEND_WINDOW_MS: '600000' });
  const { alice, bob, chatId } = await pair(limited);
  const post = (session: Session, content: string) =>
    call(limited, 'POST', `/v1/chats/${chatId}/messages`, { token: session.token, body: { content } });
  t.equal((await post(alice, 'one')).status, 201);
  t.equal((await post(alice, 'two')).status, 201);
  const third = await post(alice, 'three');
  expectError(t, third, 429, 'RATE_LIMITED');
  t.match(third.headers.get('retry-after'), /^\d+$/, 'Retry-After in seconds');
  t.ok(Number(third.headers.get('retry-after')) >= 1);
  t.equal((await post(bob, 'other sender')).status, 201, 'the limit is per sender');
  t.same(contents((await call(limited, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token })).body), ['one', 'two', 'other sender']);
});
