import t from 'tap';
import { login, startServer, type Session } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { call, expectError, RFC3339_MS } from './support.js';

const server = await startServer(t);

let counter = 0;
async function users(...names: string[]): Promise<Session[]> {
  counter += 1;
  return Promise.all(names.map((name) => login(server, `${name}${counter}`)));
}

async function makeRoom(owner: Session, name: string) {
  const res = await call(server, 'POST', '/v1/rooms', { token: owner.token, body: { name } });
  if (res.status !== 201) throw new Error(`POST /rooms: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const join = (session: Session, chatId: number) => call(server, 'POST', `/v1/rooms/${chatId}/join`, { token: session.token });
const directory = (session: Session, query = '') => call(server, 'GET', `/v1/rooms${query}`, { token: session.token });

t.test('the seeded rooms are in the directory, by name, with member counts', async (t) => {
  const [ann] = (await users('ann')) as [Session];
  const res = await directory(ann, '?q=general');
  t.equal(res.status, 200);
  t.match(res.body, [{ id: Number, name: 'general', created_at: RFC3339_MS, owner_id: null, member_count: Number, joined: false }]);
  t.same(Object.keys(res.body[0]).sort(), ['created_at', 'id', 'joined', 'member_count', 'name', 'owner_id']);
  const all = (await directory(ann, '?limit=200')).body.map((r: { name: string }) => r.name);
  t.ok(all.includes('general') && all.includes('random'));
  t.same(all, [...all].sort((a: string, b: string) => a.toLowerCase().localeCompare(b.toLowerCase())), 'sorted by name');
});

t.test('POST /rooms makes a public room that the owner is in; names are unique without regard to case', async (t) => {
  const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
  const room = await makeRoom(ann, `Lounge ${counter}`);
  t.match(room, { chat_type: 'room', name: `Lounge ${counter}`, owner_id: ann.user.id, member_count: 1, unread_count: 0, last_message: null });
  t.same(room.participants, [ann.user.id]);
  t.match(room.members, [{ id: ann.user.id, username: ann.user.username }]);

  expectError(t, await call(server, 'POST', '/v1/rooms', { token: ben.token, body: { name: `LOUNGE ${counter}` } }), 409, 'ROOM_NAME_TAKEN');
  expectError(t, await call(server, 'POST', '/v1/rooms', { token: ben.token, body: { name: '   ' } }), 400, 'VALIDATION_ERROR', 'name');
  expectError(t, await call(server, 'POST', '/v1/rooms', { token: ben.token, body: { name: 'x'.repeat(65) } }), 400, 'VALIDATION_ERROR', 'name');
  expectError(t, await call(server, 'POST', '/v1/rooms', { token: ben.token, body: {} }), 400, 'VALIDATION_ERROR', 'name');
  expectError(t, await call(server, 'POST', '/v1/rooms', { body: { name: 'anon' } }), 401);

  const listed = await directory(ben, `?q=lounge ${counter}`);
  t.match(listed.body, [{ id: room.id, member_count: 1, joined: false }]);
  t.match((await directory(ann, `?q=LOUNGE ${counter}`)).body, [{ id: room.id, joined: true }], 'q ignores case');
});

t.test('the directory pages by name with after', async (t) => {
  const [ann] = (await users('ann')) as [Session];
  const prefix = `page${counter}-`;
  for (const n of ['c', 'A', 'b', 'd']) await makeRoom(ann, `${prefix}${n}`);
  const first = await directory(ann, `?q=${prefix}&limit=2`);
  t.same(first.body.map((r: { name: string }) => r.name), [`${prefix}A`, `${prefix}b`]);
  const second = await directory(ann, `?q=${prefix}&limit=2&after=${encodeURIComponent(first.body[1].name)}`);
  t.same(second.body.map((r: { name: string }) => r.name), [`${prefix}c`, `${prefix}d`]);
  t.same((await directory(ann, `?q=${prefix}&after=${prefix}d`)).body, []);
  t.same((await directory(ann, `?q=${encodeURIComponent('%_')}`)).body, [], 'q is a literal, not a pattern');
  expectError(t, await directory(ann, '?limit=0'), 400, 'VALIDATION_ERROR', 'limit');
});

t.test('joining: idempotent, the room is then one of the caller\'s chats; only rooms can be joined', async (t) => {
  const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
  const room = await makeRoom(ann, `join${counter}`);
  const joined = await join(ben, room.id);
  t.equal(joined.status, 200);
  t.match(joined.body, { id: room.id, chat_type: 'room', member_count: 2, participants: [ben.user.id] });
  t.equal(joined.body.members.length, 1, 'a room lists only the caller');
  const again = await join(ben, room.id);
  t.equal(again.status, 200);
  t.equal(again.body.member_count, 2, 'joining again changes nothing');

  await call(server, 'POST', `/v1/chats/${room.id}/messages`, { token: ann.token, body: { content: 'hello room' } });
  const chats = await call(server, 'GET', '/v1/chats', { token: ben.token });
  t.match(chats.body.find((c: { id: number }) => c.id === room.id), { unread_count: 1, last_message: { content: 'hello room' } });

  t.match((await join(cat, room.id)).body, { unread_count: 0, last_message: { content: 'hello room' } }, 'a newcomer starts with nothing unread');
  await call(server, 'DELETE', `/v1/chats/${room.id}/members/${cat.user.id}`, { token: cat.token });

  const group = await call(server, 'POST', '/v1/chats', { token: ann.token, body: { name: 'private', members: [] } });
  expectError(t, await join(cat, group.body.id), 404, 'ROOM_NOT_FOUND');
  expectError(t, await join(cat, 2_000_000_000), 404, 'ROOM_NOT_FOUND');
  expectError(t, await call(server, 'POST', `/v1/rooms/abc/join`, { token: cat.token }), 400, 'VALIDATION_ERROR', 'chat_id');
  expectError(t, await call(server, 'POST', `/v1/chats/${room.id}/messages`, { token: cat.token, body: { content: 'x' } }), 404, 'CHAT_NOT_FOUND', undefined);
  expectError(
    t,
    await call(server, 'POST', `/v1/chats/${room.id}/members`, { token: ann.token, body: { user_id: cat.user.id } }),
    400,
    'NOT_A_GROUP',
  );
});

t.test('members are paged by id; only members see them', async (t) => {
  const people = await users('m1', 'm2', 'm3', 'm4', 'm5');
  const room = await makeRoom(people[0]!, `members${counter}`);
  for (const p of people.slice(1)) await join(p, room.id);
  const ids = people.map((p) => p.user.id).sort((a, b) => a - b);
  const first = await call(server, 'GET', `/v1/chats/${room.id}/members?limit=2`, { token: people[2]!.token });
  t.equal(first.status, 200);
  t.same(first.body.map((m: { id: number }) => m.id), ids.slice(0, 2));
  t.match(first.body[0], { id: Number, username: String, display_name: null, online: false, last_seen_at: null, last_read_message_id: 0 });
  const rest = await call(server, 'GET', `/v1/chats/${room.id}/members?after=${ids[1]}`, { token: people[2]!.token });
  t.same(rest.body.map((m: { id: number }) => m.id), ids.slice(2));
  const [outsider] = (await users('out')) as [Session];
  expectError(t, await call(server, 'GET', `/v1/chats/${room.id}/members`, { token: outsider.token }), 404, 'CHAT_NOT_FOUND');
  expectError(t, await call(server, 'GET', `/v1/chats/${room.id}/members?limit=501`, { token: people[0]!.token }), 400, 'VALIDATION_ERROR', 'limit');

  const group = await call(server, 'POST', '/v1/chats', { token: people[0]!.token, body: { name: 'g', members: [people[1]!.user.id] } });
  t.equal(group.body.member_count, 2, 'every chat has a member_count');
  t.equal((await call(server, 'GET', `/v1/chats/${group.body.id}/members`, { token: people[1]!.token })).body.length, 2, 'groups page too');
});

t.test('leaving a room, and the owner removing a member', async (t) => {
  const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
  const room = await makeRoom(ann, `leave${counter}`);
  await join(ben, room.id);
  await join(cat, room.id);
  expectError(t, await call(server, 'DELETE', `/v1/chats/${room.id}/members/${cat.user.id}`, { token: ben.token }), 403, 'NOT_OWNER');
  t.equal((await call(server, 'DELETE', `/v1/chats/${room.id}/members/${ben.user.id}`, { token: ben.token })).status, 204);
  t.notOk((await call(server, 'GET', '/v1/chats', { token: ben.token })).body.some((c: { id: number }) => c.id === room.id), 'gone from the chats');
  expectError(t, await call(server, 'DELETE', `/v1/chats/${room.id}/members/${ben.user.id}`, { token: ann.token }), 404, 'USER_NOT_FOUND');
  t.equal((await call(server, 'DELETE', `/v1/chats/${room.id}/members/${cat.user.id}`, { token: ann.token })).status, 204, 'the owner removes');
  t.match((await directory(ann, `?q=leave${counter}`)).body, [{ member_count: 1 }]);
  t.equal((await join(ben, room.id)).status, 200, 'a public room can be joined again');
});

t.test('over the socket: messages reach every member; joins, reads and presence are not fanned out', async (t) => {
  const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
  const room = await makeRoom(ann, `live${counter}`);
  await join(ben, room.id);
  const annWs = await connect(t, server, ann);
  const benWs = await connect(t, server, ben);
  const catWs = await connect(t, server, cat);

  const joined = await join(cat, room.id);
  t.match(await catWs.nextOfType('chat'), { chat: { id: room.id, member_count: 3, participants: [cat.user.id] } }, "the joiner's sockets are told");

  const sent = await call(server, 'POST', `/v1/chats/${room.id}/messages`, { token: ben.token, body: { content: 'to all' } });
  for (const ws of [annWs, benWs, catWs]) t.match(await ws.nextOfType('message'), { id: sent.body.id, chat_id: room.id, content: 'to all' });

  catWs.send({ type: 'typing', chat_id: room.id });
  t.match(await annWs.nextOfType('typing'), { chat_id: room.id, user_id: cat.user.id });
  catWs.send({ type: 'read', chat_id: room.id, message_id: sent.body.id });
  await catWs.ping();
  t.equal(joined.body.unread_count, 0);
  t.equal((await call(server, 'GET', `/v1/chats/${room.id}`, { token: cat.token })).body.unread_count, 0, 'the read marker moved');

  // A room member who comes online and goes offline: sharing a room is not knowing someone.
  const [dan] = (await users('dan')) as [Session];
  await join(dan, room.id);
  await (await connect(t, server, dan)).close();
  const seen = [...(await annWs.settle()), ...(await benWs.settle())];
  t.same(
    seen.filter((f) => ['chat', 'read', 'presence'].includes(f.type)),
    [],
    'the other members got no chat frame for the join, no read frame and no presence of a room co-member',
  );
});
