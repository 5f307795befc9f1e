import t from 'tap';
import { login, startServer, type Session } from '../helpers/server.js';
import { call, expectError, RFC3339_MS } from './support.js';

// One server: every subtest makes users of its own, so their chats never meet.
const server = await startServer(t);

let counter = 0;
/** Fresh users for one subtest: `users('ann', 'ben')` logs in ann1 and ben1, and so on. */
async function users(...names: string[]): Promise<Session[]> {
  counter += 1;
  return Promise.all(names.map((name) => login(server, `${name}${counter}`)));
}

async function initiate(session: Session, body: Record<string, unknown>) {
  return call(server, 'POST', '/v1/chats/initiate', { token: session.token, body });
}

async function group(owner: Session, name: string, members: (string | number)[]) {
  const res = await call(server, 'POST', '/v1/chats', { token: owner.token, body: { name, members } });
  if (res.status !== 201) throw new Error(`POST /chats: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function send(session: Session, chatId: number, content: string) {
  const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: session.token, body: { content } });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

t.test('POST /chats/initiate by username: created, then exists, also from the other side', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const first = await initiate(ann, { target_username: ben.user.username });
  t.equal(first.status, 200);
  t.match(first.body, { chat_id: Number, status: 'created' });
  t.ok(Number.isInteger(first.body.chat_id));

  t.same((await initiate(ann, { target_username: ben.user.username })).body, { chat_id: first.body.chat_id, status: 'exists' });
  t.same((await initiate(ben, { target_username: ann.user.username })).body, { chat_id: first.body.chat_id, status: 'exists' }, 'the other user finds it');
  t.same((await initiate(ben, { target_id: ann.user.id })).body, { chat_id: first.body.chat_id, status: 'exists' });
  t.same((await initiate(ann, { target_username: ben.user.username.toUpperCase() })).body, { chat_id: first.body.chat_id, status: 'exists' }, 'any case');

  const chat = await call(server, 'GET', `/v1/chats/${first.body.chat_id}`, { token: ben.token });
  t.equal(chat.status, 200);
  t.match(chat.body, { id: first.body.chat_id, chat_type: 'direct', name: null, created_at: RFC3339_MS, last_message: null, unread_count: 0 });
  t.same([...chat.body.participants].sort(), [ann.user.id, ben.user.id].sort());
});

t.test('POST /chats/initiate by target_id', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const first = await initiate(ann, { target_id: ben.user.id });
  t.equal(first.status, 200);
  t.equal(first.body.status, 'created');
  t.same((await initiate(ann, { target_username: ben.user.username })).body, { chat_id: first.body.chat_id, status: 'exists' });
});

t.test('POST /chats/initiate: errors', async (t) => {
  const [ann] = (await users('ann')) as [Session];
  expectError(t, await initiate(ann, { target_username: 'nobody-by-this-name' }), 404, 'USER_NOT_FOUND');
  expectError(t, await initiate(ann, { target_id: 999999 }), 404, 'USER_NOT_FOUND');
  expectError(t, await initiate(ann, { target_username: ann.user.username }), 400, 'CANNOT_CHAT_WITH_SELF');
  expectError(t, await initiate(ann, { target_username: ann.user.username.toUpperCase() }), 400, 'CANNOT_CHAT_WITH_SELF');
  expectError(t, await initiate(ann, { target_id: ann.user.id }), 400, 'CANNOT_CHAT_WITH_SELF');
  const invalid: [Record<string, unknown>, string][] = [
    [{ target_username: '' }, 'target_username'],
    [{ target_username: 'bad name' }, 'target_username'],
    [{ target_username: 7 }, 'target_username'],
    [{ target_id: 'one' }, 'target_id'],
    [{ target_id: 0 }, 'target_id'],
    [{ target_id: 1.5 }, 'target_id'],
  ];
  for (const [body, field] of invalid) {
    expectError(t, await initiate(ann, body), 400, 'VALIDATION_ERROR', field);
  }
  const neither = await initiate(ann, {});
  expectError(t, neither, 400, 'VALIDATION_ERROR');
  t.match(neither.body.error, /target_username.*target_id|target_id.*target_username/, 'the sentence names both ways');
  const chats = await call(server, 'GET', '/v1/chats', { token: ann.token });
  t.same(chats.body, [], 'no chat was made');
});

t.test('twenty concurrent initiates for one pair make exactly one chat', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? initiate(ann, { target_username: ben.user.username }) : initiate(ben, { target_id: ann.user.id }),
    ),
  );
  t.same(new Set(answers.map((a) => a.status)), new Set([200]));
  t.equal(new Set(answers.map((a) => a.body.chat_id)).size, 1, 'one chat id');
  t.equal(answers.filter((a) => a.body.status === 'created').length, 1, 'one "created"');
  t.equal(answers.filter((a) => a.body.status === 'exists').length, 19);
  t.equal((await call(server, 'GET', '/v1/chats', { token: ann.token })).body.length, 1);
  t.equal((await call(server, 'GET', '/v1/chats', { token: ben.token })).body.length, 1);
});

t.test('POST /chats makes a group: the caller is a member and its owner', async (t) => {
  const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
  const res = await call(server, 'POST', '/v1/chats', {
    token: ann.token,
    body: { name: 'Book club', members: [ben.user.username.toUpperCase(), cat.user.id] },
  });
  t.equal(res.status, 201);
  t.match(res.body, {
    id: Number,
    name: 'Book club',
    chat_type: 'group',
    created_at: RFC3339_MS,
    owner_id: ann.user.id,
    last_message: null,
    unread_count: 0,
  });
  t.same([...res.body.participants].sort(), [ann.user.id, ben.user.id, cat.user.id].sort(), 'usernames and ids, mixed');
  t.equal(res.body.members.length, 3);
  for (const member of res.body.members) t.match(member, { id: Number, username: String, display_name: null });
  t.same(
    new Set(res.body.members.map((m: { username: string }) => m.username)),
    new Set([ann.user.username, ben.user.username, cat.user.username]),
  );

  const seen = await call(server, 'GET', `/v1/chats/${res.body.id}`, { token: cat.token });
  t.equal(seen.status, 200, 'a member sees it');
  t.match(seen.body, { id: res.body.id, name: 'Book club', chat_type: 'group', owner_id: ann.user.id });
});

t.test('POST /chats: duplicates and the caller in members count once', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const chat = await group(ann, 'Twice', [ben.user.username, ben.user.id, ann.user.username]);
  t.equal(chat.participants.length, 2);
  const alone = await group(ann, 'Alone', []);
  t.same(alone.participants, [ann.user.id], 'a group of one');
});

t.test('POST /chats: name 1 to 64 characters, members known, at most 256', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  t.equal((await call(server, 'POST', '/v1/chats', { token: ann.token, body: { name: 'n'.repeat(64), members: [ben.user.id] } })).status, 201);
  const invalid: [Record<string, unknown>, string][] = [
    [{ name: '', members: [ben.user.id] }, 'name'],
    [{ name: 'n'.repeat(65), members: [ben.user.id] }, 'name'],
    [{ members: [ben.user.id] }, 'name'],
    [{ name: 42, members: [ben.user.id] }, 'name'],
    [{ name: 'No members' }, 'members'],
    [{ name: 'Bad members', members: 'ben' }, 'members'],
  ];
  for (const [body, field] of invalid) {
    expectError(t, await call(server, 'POST', '/v1/chats', { token: ann.token, body }), 400, 'VALIDATION_ERROR', field);
  }
  const tooMany = Array.from({ length: 257 }, (_, i) => `nobody${i}`);
  expectError(t, await call(server, 'POST', '/v1/chats', { token: ann.token, body: { name: 'Crowd', members: tooMany } }), 400);

  const unknownName = await call(server, 'POST', '/v1/chats', { token: ann.token, body: { name: 'Ghosts', members: [ben.user.id, 'no-such-user'] } });
  expectError(t, unknownName, 404, 'USER_NOT_FOUND');
  const unknownId = await call(server, 'POST', '/v1/chats', { token: ann.token, body: { name: 'Ghosts', members: [999999] } });
  expectError(t, unknownId, 404, 'USER_NOT_FOUND');
  const chats = await call(server, 'GET', '/v1/chats', { token: ben.token });
  t.same(chats.body.map((c: { name: string }) => c.name), ['n'.repeat(64)], 'refused groups were not made');
});

t.test('GET /chats: most recent activity first, with last_message and unread_count', async (t) => {
  const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
  const withBen = (await initiate(ann, { target_id: ben.user.id })).body.chat_id as number;
  const withCat = (await initiate(ann, { target_id: cat.user.id })).body.chat_id as number;
  const club = (await group(ben, 'Club', [ann.user.id, cat.user.id])).id as number;
  const ids = async (session: Session) => (await call(server, 'GET', '/v1/chats', { token: session.token })).body.map((c: { id: number }) => c.id);

  t.same(await ids(ann), [club, withCat, withBen], 'newest chat first when nothing was sent');
  const first = await send(ben, withBen, 'one');
  t.same(await ids(ann), [withBen, club, withCat], 'a message moves its chat to the top');
  await send(cat, club, 'two');
  t.same(await ids(ann), [club, withBen, withCat]);
  const third = await send(ben, withBen, 'three');
  t.same(await ids(ann), [withBen, club, withCat]);
  t.same(await ids(ben), [withBen, club]);

  const list = (await call(server, 'GET', '/v1/chats', { token: ann.token })).body;
  const direct = list.find((c: { id: number }) => c.id === withBen);
  t.match(direct, { id: withBen, chat_type: 'direct', name: null, unread_count: 2 });
  t.same(direct.last_message, third, 'last_message is the newest message object');
  t.notSame(direct.last_message, first);
  t.match(list.find((c: { id: number }) => c.id === club), { unread_count: 1, last_message: { content: 'two', sender: cat.user.username } });
  t.match(list.find((c: { id: number }) => c.id === withCat), { unread_count: 0, last_message: null });

  const benView = (await call(server, 'GET', '/v1/chats', { token: ben.token })).body;
  t.equal(benView.find((c: { id: number }) => c.id === withBen).unread_count, 0, "one's own messages are not unread");
  t.equal(benView.find((c: { id: number }) => c.id === club).unread_count, 1);
  t.equal((await call(server, 'GET', `/v1/chats/${withBen}`, { token: ann.token })).body.unread_count, 2, 'GET /chats/:id agrees');
});

t.test('unread_count counts messages after the read marker, which never moves back', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const chatId = (await initiate(ann, { target_id: ben.user.id })).body.chat_id as number;
  const sent = [];
  for (const content of ['a', 'b', 'c', 'd']) sent.push(await send(ben, chatId, content));
  const unread = async (session: Session) =>
    (await call(server, 'GET', `/v1/chats/${chatId}`, { token: session.token })).body.unread_count;
  const read = async (messageId: number) =>
    (await call(server, 'POST', `/v1/chats/${chatId}/read`, { token: ann.token, body: { message_id: messageId } })).status;
  t.equal(await unread(ann), 4);
  t.equal(await unread(ben), 0, "one's own messages are not unread");
  t.equal(await read(sent[1].id), 204);
  t.equal(await unread(ann), 2);
  t.equal(await read(sent[0].id), 204);
  t.equal(await unread(ann), 2, 'reading an older message does not move the marker back');
  t.equal(await read(sent[3].id), 204);
  t.equal(await unread(ann), 0);
  t.equal(await read(sent[3].id), 204, 'reading the same message again is fine');
  await send(ben, chatId, 'e');
  t.equal(await unread(ann), 1);
  await send(ann, chatId, 'reply');
  t.equal(await unread(ben), 1, "ann's reply is unread for ben");
});

t.test('GET /chats/:chat_id: 404 alike for non-members and for chats that do not exist', async (t) => {
  const [ann, ben, eve] = (await users('ann', 'ben', 'eve')) as [Session, Session, Session];
  const chatId = (await initiate(ann, { target_id: ben.user.id })).body.chat_id as number;
  const clubId = (await group(ann, 'Private', [ben.user.id])).id as number;
  const hidden = await call(server, 'GET', `/v1/chats/${chatId}`, { token: eve.token });
  expectError(t, hidden, 404, 'CHAT_NOT_FOUND');
  const hiddenGroup = await call(server, 'GET', `/v1/chats/${clubId}`, { token: eve.token });
  const missing = await call(server, 'GET', '/v1/chats/999999', { token: eve.token });
  expectError(t, missing, 404, 'CHAT_NOT_FOUND');
  t.same(hidden.body, missing.body, 'the same answer: existence is not leaked');
  t.same(hiddenGroup.body, missing.body);
  expectError(t, await call(server, 'GET', '/v1/chats/abc', { token: eve.token }), 400, 'VALIDATION_ERROR', 'chat_id');
  t.same((await call(server, 'GET', '/v1/chats', { token: eve.token })).body, [], "a non-member's list does not show it");
});

t.test('POST /chats/:chat_id/members: any member adds, by username or id', async (t) => {
  const [ann, ben, cat, dan] = (await users('ann', 'ben', 'cat', 'dan')) as Session[] as [Session, Session, Session, Session];
  const club = await group(ann, 'Open door', [ben.user.id]);
  const early = await send(ann, club.id, 'before anyone joined');

  const byMember = await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ben.token, body: { username: cat.user.username } });
  t.equal(byMember.status, 200, 'a member who is not the owner may add');
  t.match(byMember.body, { id: club.id, chat_type: 'group', name: 'Open door', owner_id: ann.user.id });
  t.same([...byMember.body.participants].sort(), [ann.user.id, ben.user.id, cat.user.id].sort());

  const byId = await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body: { user_id: dan.user.id } });
  t.equal(byId.status, 200);
  t.equal(byId.body.participants.length, 4);

  const history = await call(server, 'GET', `/v1/chats/${club.id}/messages`, { token: dan.token });
  t.equal(history.status, 200);
  t.same(history.body.map((m: { id: number }) => m.id), [early.id], 'a new member sees the whole history');
  t.equal((await call(server, 'GET', `/v1/chats/${club.id}`, { token: dan.token })).status, 200);

  const again = await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body: { user_id: dan.user.id } });
  t.equal(again.status, 200, 'adding a member again changes nothing');
  t.equal(again.body.participants.length, 4);
});

t.test('POST /chats/:chat_id/members: errors', async (t) => {
  const [ann, ben, cat, eve] = (await users('ann', 'ben', 'cat', 'eve')) as [Session, Session, Session, Session];
  const club = await group(ann, 'Closed', [ben.user.id]);
  const direct = (await initiate(ann, { target_id: ben.user.id })).body.chat_id as number;

  expectError(t, await call(server, 'POST', `/v1/chats/${direct}/members`, { token: ann.token, body: { user_id: cat.user.id } }), 400);
  t.equal((await call(server, 'GET', `/v1/chats/${direct}`, { token: ann.token })).body.participants.length, 2, 'a direct chat keeps two members');

  const outsider = await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: eve.token, body: { user_id: eve.user.id } });
  expectError(t, outsider, 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'POST', '/v1/chats/999999/members', { token: ann.token, body: { user_id: cat.user.id } }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body: { username: 'no-such-user' } }), 404, 'USER_NOT_FOUND');
  expectError(t, await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body: { user_id: 999999 } }), 404, 'USER_NOT_FOUND');
  const invalid: [Record<string, unknown>, string][] = [
    [{ username: '' }, 'username'],
    [{ username: 'bad name' }, 'username'],
    [{ user_id: 'x' }, 'user_id'],
    [{ user_id: 0 }, 'user_id'],
  ];
  for (const [body, field] of invalid) {
    expectError(t, await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body }), 400, 'VALIDATION_ERROR', field);
  }
  const neither = await call(server, 'POST', `/v1/chats/${club.id}/members`, { token: ann.token, body: {} });
  expectError(t, neither, 400, 'VALIDATION_ERROR');
  t.match(neither.body.error, /username.*user_id|user_id.*username/, 'the sentence names both ways');
  t.same((await call(server, 'GET', `/v1/chats/${club.id}`, { token: ann.token })).body.participants.sort(), [ann.user.id, ben.user.id].sort());
});

t.test('DELETE /chats/:chat_id/members/:user_id: leave, and only the owner removes others', async (t) => {
  const [ann, ben, cat, dan] = (await users('ann', 'ben', 'cat', 'dan')) as [Session, Session, Session, Session];
  const club = await group(ann, 'Exits', [ben.user.id, cat.user.id, dan.user.id]);
  await send(ann, club.id, 'hello all');

  const notOwner = await call(server, 'DELETE', `/v1/chats/${club.id}/members/${cat.user.id}`, { token: ben.token });
  expectError(t, notOwner, 403);
  t.equal((await call(server, 'GET', `/v1/chats/${club.id}`, { token: cat.token })).status, 200, 'cat is still in');

  const leave = await call(server, 'DELETE', `/v1/chats/${club.id}/members/${ben.user.id}`, { token: ben.token });
  t.equal(leave.status, 204, 'a member may leave');
  t.equal(leave.body, null);
  expectError(t, await call(server, 'GET', `/v1/chats/${club.id}`, { token: ben.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'GET', `/v1/chats/${club.id}/messages`, { token: ben.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'POST', `/v1/chats/${club.id}/messages`, { token: ben.token, body: { content: 'let me back' } }), 404, 'CHAT_NOT_FOUND');
  t.same((await call(server, 'GET', '/v1/chats', { token: ben.token })).body, [], 'gone from the list');
  expectError(t, await call(server, 'DELETE', `/v1/chats/${club.id}/members/${ben.user.id}`, { token: ben.token }), 404, 'CHAT_NOT_FOUND');

  const removed = await call(server, 'DELETE', `/v1/chats/${club.id}/members/${cat.user.id}`, { token: ann.token });
  t.equal(removed.status, 204, 'the owner removes a member');
  expectError(t, await call(server, 'GET', `/v1/chats/${club.id}`, { token: cat.token }), 404, 'CHAT_NOT_FOUND');
  const left = await call(server, 'GET', `/v1/chats/${club.id}`, { token: ann.token });
  t.same(left.body.participants.sort(), [ann.user.id, dan.user.id].sort());

  expectError(t, await call(server, 'DELETE', `/v1/chats/${club.id}/members/${cat.user.id}`, { token: ann.token }), 404, 'USER_NOT_FOUND');
  expectError(t, await call(server, 'DELETE', `/v1/chats/999999/members/${ann.user.id}`, { token: ann.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'DELETE', `/v1/chats/${club.id}/members/abc`, { token: ann.token }), 400, 'VALIDATION_ERROR', 'user_id');

  const ownerLeaves = await call(server, 'DELETE', `/v1/chats/${club.id}/members/${ann.user.id}`, { token: ann.token });
  t.equal(ownerLeaves.status, 204, 'the owner may leave too');
  const after = await call(server, 'GET', `/v1/chats/${club.id}`, { token: dan.token });
  t.same(after.body.participants, [dan.user.id]);
  t.equal(after.body.owner_id, dan.user.id, 'the group passes to a remaining member');
});

t.test('DELETE member: a non-member gets 404, a direct chat 400', async (t) => {
  const [ann, ben, eve] = (await users('ann', 'ben', 'eve')) as [Session, Session, Session];
  const club = await group(ann, 'Members only', [ben.user.id]);
  expectError(t, await call(server, 'DELETE', `/v1/chats/${club.id}/members/${ben.user.id}`, { token: eve.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'DELETE', `/v1/chats/${club.id}/members/${eve.user.id}`, { token: eve.token }), 404, 'CHAT_NOT_FOUND');
  const direct = (await initiate(ann, { target_id: ben.user.id })).body.chat_id as number;
  expectError(t, await call(server, 'DELETE', `/v1/chats/${direct}/members/${ann.user.id}`, { token: ann.token }), 400);
  t.equal((await call(server, 'GET', `/v1/chats/${direct}`, { token: ann.token })).body.participants.length, 2);
});
