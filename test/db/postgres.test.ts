import t, { type Test } from 'tap';
import { postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// The same server on PostgreSQL: the flows where the dialects differ (identity columns, unique
// races, the advisory lock that orders message commits, case-insensitive search, counts).

if (!postgresUrl) {
  t.comment('TEST_DATABASE_URL is not set: skipping the PostgreSQL tests (.ci/run sets it)');
  t.pass('skipped: no PostgreSQL');
} else {
  t.test('core flows on PostgreSQL', async (t) => {
    const server = await startServer(t, {}, { postgres: true });
    const login = async (username: string) => (await request(server, 'POST', '/v1/login', { body: { username } })).body;
    const alice = await login('Alice');
    const bob = await login('bob');
    t.equal((await login('ALICE')).user.id, alice.user.id, 'usernames are case-insensitive');
    const found = await request(server, 'GET', '/v1/users?username=LIC', { token: bob.token });
    t.same(found.body.map((u: { username: string }) => u.username), ['Alice']);

    const initiated = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request(server, 'POST', '/v1/chats/initiate', { token: i % 2 ? alice.token : bob.token, body: { target_id: i % 2 ? bob.user.id : alice.user.id } }),
      ),
    );
    const chatIds = new Set(initiated.map((r) => r.body.chat_id));
    t.equal(chatIds.size, 1, 'concurrent initiates make one chat');
    t.equal(initiated.filter((r) => r.body.status === 'created').length, 1);
    const chatId = [...chatIds][0]!;

    const same = await Promise.all(
      [1, 2, 3, 4].map(() => request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'x', client_id: 'k' } })),
    );
    t.equal(new Set(same.map((r) => r.body.id)).size, 1, 'concurrent duplicates store one message');
    const again = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'x', client_id: 'k' } });
    t.equal(again.body.id, same[0]!.body.id, 'a later repeat is answered with the stored message');

    const socket = await connect(t, server, bob);
    const sender = await connect(t, server, alice);
    for (let i = 0; i < 100; i++) sender.send({ chat_id: chatId, content: `m${i}` });
    const ids: number[] = [];
    while (ids.length < 100) ids.push((await socket.nextOfType('message')).id);
    t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'ids increase in delivery order');

    await checkChatsAndResume(t, server, bob.token, chatId);
  });

  t.test('rooms on PostgreSQL: unique names under a race, the directory, members and counts', async (t) => {
    const server = await startServer(t, {}, { postgres: true });
    const login = async (username: string) => (await request(server, 'POST', '/v1/login', { body: { username } })).body;
    const [ann, ben] = [await login('ann'), await login('ben')];
    const made = await Promise.all([ann, ben, ann, ben].map(({ token }, i) => request(server, 'POST', '/v1/rooms', { token, body: { name: i % 2 ? 'Lobby' : 'lobby' } })));
    t.same(made.map((r) => r.status).sort(), [201, 409, 409, 409], 'one room per name, without regard to case');
    const room = made.find((r) => r.status === 201)!.body;
    const joiner = room.owner_id === ann.user.id ? ben : ann;
    t.match((await request(server, 'POST', `/v1/rooms/${room.id}/join`, { token: joiner.token })).body, { member_count: 2, unread_count: 0 });
    t.match((await request(server, 'GET', '/v1/rooms?q=OBB', { token: joiner.token })).body, [{ id: room.id, member_count: 2, joined: true }]);
    t.equal((await request(server, 'GET', `/v1/chats/${room.id}/members`, { token: joiner.token })).body.length, 2);
    t.match((await request(server, 'GET', '/v1/chats', { token: joiner.token })).body, [{ id: room.id, chat_type: 'room', participants: [joiner.user.id] }]);
  });
}

async function checkChatsAndResume(t: Test, server: TestServer, token: string, chatId: number) {
  const chats = (await request(server, 'GET', '/v1/chats', { token })).body;
  t.match(chats, [{ id: chatId, unread_count: 101, last_message: { content: 'm99' } }], 'unread counts are numbers');
  const history = (await request(server, 'GET', `/v1/chats/${chatId}/messages?limit=3`, { token })).body;
  t.same(history.map((m: { content: string }) => m.content), ['m97', 'm98', 'm99']);
  const socket = await connect(t, server, { token, user: { id: 0, username: '' } });
  socket.send({ type: 'resume', after: history[0].id });
  const replayed = [];
  for (let f = await socket.next(); f.type !== 'resumed'; f = await socket.next()) replayed.push(f.content);
  t.same(replayed, ['m98', 'm99']);
}
