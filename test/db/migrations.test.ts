import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { createDb } from '../../src/db/database.js';
import { migrateToLatest, migratorFor } from '../../src/db/migrate.js';
import { download, PNG, uploaded } from '../helpers/files.js';
import { login, pair, postgresUrl, request, startServer } from '../helpers/server.js';

// The migrations since the first go down and up again on both dialects, and the file flows run on PostgreSQL.

async function upAndDown(t: Test, databaseUrl: string) {
  const db = await createDb({ databaseUrl, sqliteSynchronous: 'NORMAL' }, { error: (...args: unknown[]) => t.fail(`logged: ${JSON.stringify(args)}`) });
  t.teardown(() => db.kysely.destroy());
  await migrateToLatest(db.kysely);
  // Only this test's schema: PostgreSQL's introspection lists every schema's tables, and the tests running beside this one have theirs.
  const schema = databaseUrl.startsWith('postgres')
    ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db.kysely)).rows[0]!.schema
    : undefined;
  const ourTables = async () => (await db.kysely.introspection.getTables()).filter((table) => schema === undefined || table.schema === schema);
  const tables = async () => (await ourTables()).map((table) => table.name).sort();
  const columns = async () => (await ourTables()).find((table) => table.name === 'chats')!.columns.map((c) => c.name);
  const rooms = () => db.kysely.selectFrom('chats').select('name').orderBy('name').where('chat_type', '=', 'room').execute();
  t.match(await rooms(), [{ name: 'general' }, { name: 'random' }], 'the rooms migration seeds two rooms');
  const migrator = await migratorFor(db.kysely);
  const downTo = async (name: string) => {
    const down = await migrator.migrateDown();
    t.equal(down.error, undefined, `${name} down`);
    t.same(down.results?.map((r) => r.migrationName), [name]);
  };
  await downTo('2026-12-07-008-deleted-users');
  const usersColumns = (await ourTables()).find((table) => table.name === 'users')!.columns.map((c) => c.name);
  t.notOk(usersColumns.includes('deleted_at'), 'the deleted accounts\' marker is gone');
  await downTo('2026-12-06-007-upload-sweep');
  await downTo('2026-12-06-006-sessions');
  t.notOk((await tables()).includes('sessions') || (await tables()).includes('invites'), 'the sessions and invites are gone');
  await downTo('2026-12-06-005-username-skeleton');
  const userColumns = (await ourTables()).find((table) => table.name === 'users')!.columns.map((c) => c.name);
  t.notOk(userColumns.includes('username_skeleton'), 'the username skeletons are gone');
  await downTo('2026-12-06-004-event-log');
  t.notOk((await tables()).includes('events'), 'the event log is gone');
  await downTo('2026-12-06-003-rooms');
  t.notOk((await columns()).includes('room_uuid'), 'the room columns are gone');
  t.same(await rooms(), [], 'and so are the rooms');
  await downTo('2026-11-21-002-files');
  t.same(await tables(), ['chat_members', 'chats', 'messages', 'users'], 'the files tables are gone');
  await migrateToLatest(db.kysely);
  t.ok((await tables()).includes('message_files'), 'and back up');
  t.equal((await rooms()).length, 2, 'with the two rooms, once');
}

t.test('the migrations, down and up again, on SQLite', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await upAndDown(t, `sqlite:${path.join(dir, 'chat.db')}`);
});

if (!postgresUrl) {
  t.comment('TEST_DATABASE_URL is not set: skipping the PostgreSQL file tests (.ci/run sets it)');
  t.pass('skipped: no PostgreSQL');
} else {
  t.test('files on PostgreSQL', async (t) => {
    const server = await startServer(t, {}, { postgres: true });
    const { alice, bob, chatId } = await pair(server);
    const eve = await login(server, 'eve');
    const png = await uploaded(server, alice.token, PNG, 'cat.png');
    const text = await uploaded(server, alice.token, 'notes', 'notes.txt');
    t.match(png, { mime_type: 'image/png', size_bytes: PNG.length });

    const sent = await Promise.all(
      [1, 2, 3].map(() =>
        request(server, 'POST', `/v1/chats/${chatId}/messages`, {
          token: alice.token,
          body: { content: 'files', client_id: 'pg-1', files: [text.id, png.id] },
        }),
      ),
    );
    t.equal(new Set(sent.map((r) => r.body.id)).size, 1, 'concurrent repeats store one message');
    for (const res of sent) t.same(res.body.files.map((f: { id: number }) => f.id), [text.id, png.id], 'each answer has the files');

    const refused = await request(server, 'POST', `/v1/chats/${chatId}/messages`, {
      token: bob.token,
      body: { content: 'not mine', files: [png.id] },
    });
    t.match(refused, { status: 400, body: { code: 'FILE_NOT_FOUND', field: 'files' } });

    const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
    t.same(history.body.map((m: { files: { id: number }[] }) => m.files.map((f) => f.id)), [[text.id, png.id]]);
    const chats = await request(server, 'GET', '/v1/chats', { token: bob.token });
    t.same(chats.body[0].last_message.files.map((f: { size_bytes: number }) => f.size_bytes), [5, PNG.length], 'sizes are numbers');

    const got = await download(server, png.url.split('?')[0]!, bob.token);
    t.equal(got.status, 200, 'a member downloads with a token');
    t.same(got.bytes, PNG);
    t.equal((await request(server, 'GET', png.url.split('?')[0]!, { token: eve.token })).status, 404, 'a stranger does not');
  });

  t.test('the migrations, down and up again, on PostgreSQL', async (t) => {
    // A schema of its own, from the server helper, then the same checks as on SQLite.
    const server = await startServer(t, {}, { postgres: true });
    await upAndDown(t, server.config.databaseUrl);
  });
}
