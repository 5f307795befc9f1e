import t, { type Test } from 'tap';
import { login, postgresUrl, startServer, type Session, type TestServer } from '../helpers/server.js';
import { connect, type Frame, type TestSocket } from '../helpers/ws-client.js';
import { call, expectError } from '../http/support.js';

// PATCH /v1/chats/:chat_id {name}: the same flows on SQLite and on PostgreSQL, whose unique
// violations, live delivery (the tailer) and case folding differ.

// Two servers per dialect, one with a room of 17,000 members: some 15 s alone, more beside other files.
t.setTimeout(120_000);

for (const postgres of [false, true]) {
  t.test(`renaming groups and rooms (${postgres ? 'PostgreSQL' : 'SQLite'})`, { skip: postgres && !postgresUrl && 'TEST_DATABASE_URL is not set' }, async (t) => {
    const server = await startServer(t, {}, { postgres });
    await renameTests(t, server);
  });
}

async function renameTests(t: Test, server: TestServer) {
  let counter = 0;
  /** Fresh users for one subtest: `users('ann', 'ben')` logs in ann1 and ben1, and so on. */
  const users = async (...names: string[]): Promise<Session[]> => {
    counter += 1;
    return Promise.all(names.map((name) => login(server, `${name}${counter}`)));
  };
  const rename = (session: Session, chatId: number | string, body: unknown) =>
    call(server, 'PATCH', `/v1/chats/${chatId}`, { token: session.token, body });
  const get = (session: Session, chatId: number) => call(server, 'GET', `/v1/chats/${chatId}`, { token: session.token });
  const created = async (res: { status: number; body: any }, status = 201) => {
    if (res.status !== status) throw new Error(`expected ${status}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const group = async (owner: Session, name: string, members: Session[]) =>
    created(await call(server, 'POST', '/v1/chats', { token: owner.token, body: { name, members: members.map((m) => m.user.id) } }));
  const room = async (owner: Session, name: string) => created(await call(server, 'POST', '/v1/rooms', { token: owner.token, body: { name } }));
  const join = async (session: Session, chatId: number) => created(await call(server, 'POST', `/v1/rooms/${chatId}/join`, { token: session.token }), 200);
  const send = async (session: Session, chatId: number, content: string) =>
    created(await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: session.token, body: { content } }));
  const directory = async (session: Session, q: string) =>
    (await call(server, 'GET', `/v1/rooms?q=${encodeURIComponent(q)}`, { token: session.token })).body as { id: number; name: string }[];
  const chatFrames = (frames: Frame[]) => frames.filter((f) => f.type === 'chat');
  /**
   * A socket of `session`'s, once what came before it has arrived: on PostgreSQL the tailer may
   * deliver changes committed just before the socket opened (a join, the group being made) after it.
   */
  const live = async (t: Test, session: Session) => {
    const socket = await connect(t, server, session);
    await socket.settle();
    return socket;
  };
  /** What a `resume` after `after` replays, up to its `resumed` frame. */
  const resume = async (socket: TestSocket, after: number) => {
    socket.send({ type: 'resume', after });
    const frames: Frame[] = [];
    for (let f = await socket.next(); f.type !== 'resumed'; f = await socket.next()) frames.push(f);
    return frames;
  };

  t.test('a group: any member renames it; every member is told live and on resume', async (t) => {
    const [ann, ben, cat, out] = (await users('ann', 'ben', 'cat', 'out')) as [Session, Session, Session, Session];
    const chat = await group(ann, 'Weekend', [ben, cat]);
    const last = await send(ann, chat.id, 'before the rename');
    const annWs = await live(t, ann);
    const outWs = await live(t, out);

    // ben is not the owner: any member may rename a group, as any member may add to it.
    const res = await rename(ben, chat.id, { name: 'Long weekend' });
    t.equal(res.status, 200);
    t.match(res.body, { id: chat.id, name: 'Long weekend', chat_type: 'group', owner_id: ann.user.id, member_count: 3 });
    t.same(res.body, (await get(ben, chat.id)).body, 'the chat as GET /chats/:chat_id shows it to the caller');

    const frame = await annWs.nextOfType('chat');
    t.match(frame, { type: 'chat', chat: { id: chat.id, name: 'Long weekend', member_count: 3 } }, "another member's live socket is told");
    t.same(frame.chat.participants, chat.participants);
    t.match((await call(server, 'GET', '/v1/chats', { token: cat.token })).body, [{ id: chat.id, name: 'Long weekend' }]);
    t.same(chatFrames(await outWs.settle()), [], 'someone outside the group is told nothing');

    // cat was away: a resume from the last message cat saw replays the rename.
    const catWs = await live(t, cat);
    const replayed = await resume(catWs, last.id);
    t.same(replayed.map((f) => f.type), ['chat'], 'the rename, once');
    t.match(replayed[0], { chat: { id: chat.id, name: 'Long weekend', participants: chat.participants } });
  });

  t.test('the exact current name: 200, the chat unchanged, no event; another case or spaces around it is a change or not', async (t) => {
    const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
    const chat = await group(ann, 'Same', [ben]);
    const before = await send(ann, chat.id, 'before');
    const benWs = await live(t, ben);
    const same = await rename(ann, chat.id, { name: 'Same' });
    t.equal(same.status, 200);
    t.same(same.body, (await get(ann, chat.id)).body);
    t.equal(same.body.name, 'Same');
    t.equal((await rename(ann, chat.id, { name: '  Same ' })).status, 200, 'spaces around the name are trimmed: the same name');
    t.same(chatFrames(await benWs.settle()), [], 'no chat frame');
    t.same(await resume(benWs, before.id), [], 'nothing in the log for a resume to replay');

    t.match((await rename(ann, chat.id, { name: 'SAME' })).body, { name: 'SAME' }, 'another case is another name');
    t.match(await benWs.nextOfType('chat'), { chat: { name: 'SAME' } });
    t.match((await rename(ann, chat.id, { name: '  Padded\t' })).body, { name: 'Padded' }, 'kept trimmed');
    t.match(await benWs.nextOfType('chat'), { chat: { name: 'Padded' } });
  });

  t.test('a direct chat: 400 NOT_A_GROUP; a non-member or no chat: 404 CHAT_NOT_FOUND alike', async (t) => {
    const [ann, ben, out] = (await users('ann', 'ben', 'out')) as [Session, Session, Session];
    const direct = (await call(server, 'POST', '/v1/chats/initiate', { token: ann.token, body: { target_id: ben.user.id } })).body.chat_id;
    expectError(t, await rename(ann, direct, { name: 'Ours' }), 400, 'NOT_A_GROUP');
    t.equal((await get(ann, direct)).body.name, null, 'still nameless');

    const chat = await group(ann, 'Private', [ben]);
    const r = await room(ann, `private room ${counter}`);
    const stranger = await rename(out, chat.id, { name: 'Mine' });
    const none = await rename(out, 2_000_000_000, { name: 'Mine' });
    expectError(t, stranger, 404, 'CHAT_NOT_FOUND');
    expectError(t, none, 404, 'CHAT_NOT_FOUND');
    t.same(stranger.body, none.body, 'existence is not leaked');
    expectError(t, await rename(out, direct, { name: 'Mine' }), 404, 'CHAT_NOT_FOUND', undefined);
    expectError(t, await rename(out, r.id, { name: 'Mine' }), 404, 'CHAT_NOT_FOUND', undefined);
    t.equal((await get(ann, chat.id)).body.name, 'Private');
  });

  t.test('validation: 400 VALIDATION_ERROR naming the field', async (t) => {
    const [ann] = (await users('ann')) as [Session];
    const chat = await group(ann, 'Valid', []);
    for (const body of [{}, { name: '' }, { name: '   ' }, { name: '\t\n' }, { name: 'x'.repeat(65) }, { name: 7 }, { name: null }]) {
      expectError(t, await rename(ann, chat.id, body), 400, 'VALIDATION_ERROR', 'name');
    }
    expectError(t, await rename(ann, 'abc', { name: 'x' }), 400, 'VALIDATION_ERROR', 'chat_id');
    expectError(t, await call(server, 'PATCH', `/v1/chats/${chat.id}`, { body: { name: 'anon' } }), 401);
    t.equal((await get(ann, chat.id)).body.name, 'Valid', 'unchanged');
    t.match((await rename(ann, chat.id, { name: 'y'.repeat(64) })).body, { name: 'y'.repeat(64) }, '64 characters');
  });

  t.test('a room: only its owner renames it, every member is told, the directory shows and sorts the new name', async (t) => {
    const [ann, ben, cat, out] = (await users('ann', 'ben', 'cat', 'out')) as [Session, Session, Session, Session];
    const tag = `dir${counter}-`;
    const owned = await room(ann, `${tag}c`);
    await room(ann, `${tag}B`);
    await join(ben, owned.id);
    const catJoined = await join(cat, owned.id);
    const last = catJoined.last_message === null ? 0 : catJoined.last_message.id;
    const benWs = await live(t, ben);
    const outWs = await live(t, out);

    expectError(t, await rename(ben, owned.id, { name: `${tag}mine` }), 403, 'NOT_OWNER');
    const res = await rename(ann, owned.id, { name: `${tag}a` });
    t.equal(res.status, 200);
    t.match(res.body, { id: owned.id, name: `${tag}a`, chat_type: 'room', owner_id: ann.user.id, member_count: 3, participants: [ann.user.id] });
    t.same(res.body, (await get(ann, owned.id)).body, 'the chat as GET /chats/:chat_id shows it');

    t.match(await benWs.nextOfType('chat'), { chat: { id: owned.id, name: `${tag}a`, member_count: 3, participants: [ben.user.id] } }, 'a member sees it in its own view');
    t.same(chatFrames(await outWs.settle()), [], 'someone outside the room is told nothing');
    const catWs = await live(t, cat);
    const replayed = chatFrames(await resume(catWs, last));
    t.equal(replayed.length, 2, "cat's join, then the rename");
    t.match(replayed[1], { chat: { id: owned.id, name: `${tag}a`, participants: [cat.user.id] } }, 'a member who was away gets it on resume');

    t.same((await directory(out, tag)).map((r) => r.name), [`${tag}a`, `${tag}B`], 'the directory lists the new name, in its order');
    t.same((await directory(out, `${tag}c`)).map((r) => r.name), [], 'the old name is gone');
    t.equal((await call(server, 'POST', '/v1/rooms', { token: out.token, body: { name: `${tag}C` } })).status, 201, 'and free again');
  });

  t.test('a room: the name is unique without regard to case; the same name in another case is allowed', async (t) => {
    const [ann, ben] = (await users('ann', 'ben')) as [Session, Session];
    const mine = await room(ann, `Lounge ${counter}`);
    const theirs = await room(ben, `Den ${counter}`);
    const benWs = await live(t, ben);
    expectError(t, await rename(ann, mine.id, { name: `DEN ${counter}` }), 409, 'ROOM_NAME_TAKEN');
    expectError(t, await rename(ann, mine.id, { name: ` den ${counter} ` }), 409, 'ROOM_NAME_TAKEN');
    expectError(t, await rename(ann, mine.id, { name: 'General' }), 409, 'ROOM_NAME_TAKEN');
    t.equal((await get(ann, mine.id)).body.name, `Lounge ${counter}`, 'unchanged');
    const recased = await rename(ann, mine.id, { name: `LOUNGE ${counter}` });
    t.equal(recased.status, 200, 'its own name in another case');
    t.equal(recased.body.name, `LOUNGE ${counter}`);
    t.same((await directory(ben, `lounge ${counter}`)).map((r) => r.name), [`LOUNGE ${counter}`]);
    t.equal((await rename(ben, theirs.id, { name: `Den ${counter}` })).status, 200);
    t.same(chatFrames(await benWs.settle()), [], 'the exact current name tells no one, in a room too');
  });

  t.test('a room: concurrent renames and a create racing for one name, in different cases: exactly one wins', async (t) => {
    const [ann, ben, cat] = (await users('ann', 'ben', 'cat')) as [Session, Session, Session];
    const rooms = await Promise.all([room(ann, `race a ${counter}`), room(ben, `race b ${counter}`), room(ann, `race c ${counter}`)]);
    const name = `Finish ${counter}`;
    const answers = await Promise.all([
      rename(ann, rooms[0].id, { name }),
      rename(ben, rooms[1].id, { name: name.toUpperCase() }),
      rename(ann, rooms[2].id, { name: name.toLowerCase() }),
      call(server, 'POST', '/v1/rooms', { token: cat.token, body: { name: `fInIsH ${counter}` } }),
    ]);
    t.equal(answers.filter((r) => r.status === 200 || r.status === 201).length, 1, 'one wins');
    for (const res of answers.filter((r) => r.status !== 200 && r.status !== 201)) expectError(t, res, 409, 'ROOM_NAME_TAKEN');
    t.equal((await directory(cat, name)).length, 1, 'one room has the name');
  });

  t.test('the seeded rooms have no owner: nobody renames them', async (t) => {
    const [ann] = (await users('ann')) as [Session];
    const seeded = (await call(server, 'GET', '/v1/rooms?q=general', { token: ann.token })).body.find((r: { name: string }) => r.name === 'general');
    expectError(t, await rename(ann, seeded.id, { name: 'lobby' }), 404, 'CHAT_NOT_FOUND', undefined);
    await join(ann, seeded.id);
    for (const name of ['lobby', 'general']) expectError(t, await rename(ann, seeded.id, { name }), 403, 'NOT_OWNER');
    await call(server, 'DELETE', `/v1/chats/${seeded.id}/members/${ann.user.id}`, { token: ann.token });
    t.match(await directory(ann, 'general'), [{ name: 'general' }]);
  });
}

/**
 * Members put straight into the database: 17,000 are more than one insert of a `chat` event's
 * recipients can take on SQLite (two parameters each, 32,766 at most).
 */
async function crowd(server: TestServer, chatId: number, count: number): Promise<void> {
  const db = server.app.db.kysely;
  const now = new Date().toISOString();
  const names = Array.from({ length: count }, (_, i) => `crowd${chatId}_${i}`);
  for (let start = 0; start < count; start += 1000) {
    const ids = await db
      .insertInto('users')
      .values(names.slice(start, start + 1000).map((name) => ({ username: name, username_key: name, username_skeleton: name, created_at: now })))
      .returning('id')
      .execute();
    await db
      .insertInto('chat_members')
      .values(ids.map(({ id }) => ({ chat_id: chatId, user_id: id, joined_at: now })))
      .execute();
  }
}

for (const postgres of [false, true]) {
  t.test(`a room of 17,000 members is renamed at once, for all of them (${postgres ? 'PostgreSQL' : 'SQLite'})`, { skip: postgres && !postgresUrl && 'TEST_DATABASE_URL is not set' }, async (t) => {
    const server = await startServer(t, {}, { postgres });
    const owner = await login(server, 'owner');
    const room = (await call(server, 'POST', '/v1/rooms', { token: owner.token, body: { name: 'Stadium' } })).body;
    await crowd(server, room.id, 17_000);
    const member = await login(server, `crowd${room.id}_16999`);
    const socket = await connect(t, server, member);
    await socket.settle();

    const started = performance.now();
    const res = await call(server, 'PATCH', `/v1/chats/${room.id}`, { token: owner.token, body: { name: 'Arena' } });
    const ms = performance.now() - started;
    t.equal(res.status, 200);
    t.match(res.body, { name: 'Arena', member_count: 17_001, participants: [owner.user.id] });
    t.match(await socket.nextOfType('chat'), { chat: { id: room.id, name: 'Arena', member_count: 17_001, participants: [member.user.id] } });
    const told = await server.app.db.kysely
      .selectFrom('event_recipients as r')
      .innerJoin('events as e', 'e.id', 'r.event_id')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('e.chat_id', '=', room.id)
      .executeTakeFirstOrThrow();
    t.equal(Number(told.n), 1 + 17_001, "the owner's making of the room, then everyone");
    t.comment(`renamed for ${17_001} members in ${Math.round(ms)} ms`);
  });
}
