import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { download, PNG, uploaded } from '../helpers/files.js';
import { login, postgresUrl, request, startServer, type Session, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { cli } from './run.js';

t.setTimeout(180_000);

const send = async (server: TestServer, who: Session, chatId: number, content: string, files?: number[]) => {
  const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: who.token, body: { content, files } });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number; files: { url: string }[] };
};

for (const postgres of [false, true]) {
  t.test(`users list and users delete (${postgres ? 'PostgreSQL' : 'SQLite'})`, { skip: postgres && !postgresUrl && 'TEST_DATABASE_URL is not set' }, async (t) => {
    const server = await startServer(t, {}, { postgres });
    const env = { DATABASE_URL: server.config.databaseUrl, DATA_DIR: server.config.dataDir, JWT_SECRET: server.config.jwtSecret! };
    const alice = await login(server, 'alice', 'alice password');
    const bob = await login(server, 'bob');
    const carol = await login(server, 'carol');
    await request(server, 'PATCH', '/v1/me', { token: alice.token, body: { display_name: 'Alice A.', bio: 'hello' } });

    const direct = (await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'bob' } })).body.chat_id as number;
    const a1 = await send(server, alice, direct, 'a1');
    const b1 = await send(server, bob, direct, 'b1');
    const a2 = await send(server, alice, direct, 'a2');
    const group = (await request(server, 'POST', '/v1/chats', { token: alice.token, body: { name: 'g', members: ['bob', 'carol'] } })).body.id as number;
    const file = await uploaded(server, alice.token, PNG, 'dot.png');
    const picture = await send(server, alice, group, 'a picture', [file.id]);
    await send(server, carol, group, 'c1');
    const general = (await request(server, 'GET', '/v1/rooms?q=general', { token: alice.token })).body[0].id as number;
    for (const who of [alice, bob]) await request(server, 'POST', `/v1/rooms/${general}/join`, { token: who.token });
    const r1 = await send(server, alice, general, 'r1');
    t.same(readdirSync(path.join(server.config.dataDir, 'uploads')).length, 1);

    const listed = await cli(['users', 'list', '--json'], env);
    t.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout);
    t.match(rows, [
      { id: alice.user.id, username: 'alice', display_name: 'Alice A.', password: true, sessions: 1, last_seen_at: null },
      { id: bob.user.id, username: 'bob', display_name: null, password: false, sessions: 1 },
      { id: carol.user.id, username: 'carol', password: false, sessions: 1 },
    ]);
    t.match(rows[0].created_at, /^\d{4}-\d\d-\d\dT/);
    const table = await cli(['users', 'list'], env);
    t.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    t.match(lines[0], /^ID +USERNAME +DISPLAY NAME +CREATED \(UTC\) +LAST SEEN \(UTC\) +PASSWORD +SESSIONS$/);
    t.match(lines[1], new RegExp(`^${alice.user.id} +alice +Alice A\\. +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +- +yes +1$`));
    t.equal(lines.length, 4);
    t.equal(lines[1]!.indexOf('alice'), lines[2]!.indexOf('bob'), 'the columns line up');

    const deleted = await cli(['users', 'delete', 'alice'], env);
    t.equal(deleted.code, 0, deleted.stderr);
    const tombstone = `deleted user #${alice.user.id}`;
    t.match(deleted.stdout, `Deleted the account alice (id ${alice.user.id}); its row stays as "${tombstone}".`);
    t.match(deleted.stdout, /sessions ended +1\n/);
    t.match(deleted.stdout, /messages deleted +4 in 3 chats\n/);
    t.match(deleted.stdout, /groups and rooms left +1 group, 1 room \(it owned 1: each is now its longest-standing member's\)\n/);
    t.match(deleted.stdout, new RegExp(`uploads deleted +1, ${PNG.length} B\\n`));
    t.match(deleted.stdout, /direct chats kept +1, for the other person/);
    if (postgres) t.notMatch(deleted.stdout, /SQLite/);
    else t.match(deleted.stdout, /\nSQLite: a running server/);

    t.equal((await request(server, 'GET', '/v1/me', { token: alice.token })).status, 401, 'every session ended');
    const history = (await request(server, 'GET', `/v1/chats/${direct}/messages`, { token: bob.token })).body;
    t.match(history, [
      { id: a1.id, content: null, deleted_at: String, sender: tombstone },
      { id: b1.id, content: 'b1', deleted_at: null, sender: 'bob' },
      { id: a2.id, content: null, deleted_at: String },
    ]);
    const directChat = (await request(server, 'GET', `/v1/chats/${direct}`, { token: bob.token })).body;
    t.match(directChat.members, [{ id: alice.user.id, username: tombstone, display_name: null }, { id: bob.user.id }], 'the direct chat stays, with the tombstone');
    const groupChat = (await request(server, 'GET', `/v1/chats/${group}`, { token: bob.token })).body;
    t.same(groupChat.participants, [bob.user.id, carol.user.id], 'the group lost the member');
    t.equal(groupChat.owner_id, bob.user.id, 'and its longest-standing member owns it');
    const roomMembers = (await request(server, 'GET', `/v1/chats/${general}/members`, { token: bob.token })).body;
    t.same(roomMembers.map((m: { id: number }) => m.id), [bob.user.id], 'the room lost the member');
    t.same(readdirSync(path.join(server.config.dataDir, 'uploads')), [], 'the upload is gone from the disk');
    t.equal((await download(server, picture.files[0]!.url)).status, 404);

    const shindensen = await request(server, 'GET', `/users/${alice.user.id}`, { token: bob.token });
    t.same(shindensen.body, { id: alice.user.id, username: tombstone, display_name: null, bio: null, image_id: null }, 'the compatibility shape holds');
    t.equal((await request(server, 'POST', '/v1/login', { body: { username: tombstone } })).status, 400, 'nobody logs in to the tombstone');
    t.same((await request(server, 'GET', '/v1/users?username=deleted', { token: bob.token })).body, [], 'nobody finds it');
    t.same((await request(server, 'GET', '/users?username=deleted', { token: bob.token })).body, [], 'on the shindensen surface either');
    const initiate = await request(server, 'POST', '/v1/chats/initiate', { token: carol.token, body: { target_id: alice.user.id } });
    t.match(initiate, { status: 404, body: { code: 'USER_NOT_FOUND' } }, 'nobody starts a chat with it');
    const add = await request(server, 'POST', `/v1/chats/${group}/members`, { token: bob.token, body: { user_id: alice.user.id } });
    t.match(add, { status: 404, body: { code: 'USER_NOT_FOUND' } }, 'or adds it to a group');
    const again = await request(server, 'POST', '/v1/register', { body: { username: 'alice', password: 'another password' } });
    t.equal(again.status, 201, 'the name can be taken again');
    t.not(again.body.user.id, alice.user.id);

    // A SQLite server hears nothing of another process's writes: resume replays them up to what it
    // delivered itself, so something newer goes first.
    await send(server, bob, direct, 'after');
    const socket = await connect(t, server, bob);
    socket.send({ type: 'resume', after: a1.id - 1 });
    const resumed = await socket.nextOfType('resumed');
    t.equal(resumed.complete, true);
    const frames = socket.drain();
    const deletions = frames.filter((f) => f.type === 'message_deleted').map((f) => f.id);
    t.same(deletions.sort((x, y) => x - y), [a1.id, a2.id, picture.id, r1.id], 'a resuming client is told of each deletion');
    const groupChange = frames.findLast((f) => f.type === 'chat' && f.chat.id === group);
    t.same(groupChange?.chat.participants, [bob.user.id, carol.user.id], 'and of the member who left');

    const after = JSON.parse((await cli(['users', 'list', '--json'], env)).stdout);
    t.same(
      after.map((u: { username: string }) => u.username),
      ['bob', 'carol', 'alice'],
      'the tombstone is not listed; the new alice is',
    );
    t.match(await cli(['users', 'delete', 'alice-the-first'], env), { code: 1, stderr: /No user is called "alice-the-first"/ });
  });
}
