import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { migrations } from '../../migrations/index.js';
import { VERSION } from '../../src/version.js';
import { cli } from '../admin/run.js';
import { spawnServer } from '../helpers/child-server.js';
import { download } from '../helpers/files.js';
import { login, request, type TestServer } from '../helpers/server.js';

// docs/operations.md, "Upgrading": back up, replace the server, start it (the migrations run), and
// the way back is the backup. Followed here from a data folder that release 0.1.0 made
// (test/fixtures/release-0.1.0/seed.mjs says how).
const FIXTURE = fileURLToPath(new URL('../fixtures/release-0.1.0/data', import.meta.url));
t.setTimeout(180_000);

// The defaults, relative to the working directory, as a service runs it.
const ENV = { DATA_DIR: 'data', DATABASE_URL: 'sqlite:data/chat.db', AUTH_MODE: 'open', JWT_SECRET: '' };

t.test('a data folder of release 0.1.0 upgrades with everything in it, and a newer database is refused', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-upgrade-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(FIXTURE, path.join(dir, 'data'), { recursive: true });

  const backup = await cli(['backup', 'before-upgrade.tar.gz'], ENV, { cwd: dir });
  t.equal(backup.code, 0, `backup: ${backup.stderr}`);
  const old = new Database(path.join(dir, 'data', 'chat.db'), { readonly: true });
  const applied = () => old.prepare('select name from kysely_migration order by name').all().map((row) => (row as { name: string }).name);
  const before = applied();
  t.notOk(before.some((name) => !(name in migrations)), 'every migration of 0.1.0 is one of ours');
  t.notOk(before.includes('2026-12-07-008-deleted-users'), 'and 0.2.0 has one more');

  const child = await spawnServer({ ...ENV, HOST: '127.0.0.1', PORT: '0' }, { cwd: dir });
  t.teardown(() => child.process.kill('SIGKILL'));
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;
  t.same(applied(), Object.keys(migrations).sort(), 'the migrations ran');
  old.close();
  t.same((await request(server, 'GET', '/healthz')).body, { status: 'ok', version: VERSION });

  const alice = await login(server, 'alice', 'correct horse battery staple');
  const noPassword = await request(server, 'POST', '/v1/login', { body: { username: 'alice' } });
  t.equal(noPassword.status, 401, "alice's password still guards her account");
  const bob = await login(server, 'bob');
  t.match(bob.user, { display_name: 'Bob B.', bio: 'here since 0.1.0' }, "bob's profile");
  const carol = await login(server, 'carol');
  t.equal(carol.user.username, 'Carol', 'a name as first written');

  const chats = (await request(server, 'GET', '/v1/chats', { token: bob.token })).body as { id: number; chat_type: string; name: string | null }[];
  t.same(chats.map((c) => c.chat_type).sort(), ['direct', 'group', 'room'], "bob's chats");
  const direct = chats.find((c) => c.chat_type === 'direct')!;
  const history = (await request(server, 'GET', `/v1/chats/${direct.id}/messages`, { token: bob.token })).body;
  t.match(
    history,
    [
      { content: 'hello bob', client_id: 'a-1', edited_at: null, deleted_at: null },
      { content: 'hi alice', edited_at: String },
      { content: null, deleted_at: String },
      { content: 'the notes', files: [{ filename: 'notes.txt', size_bytes: 27 }] },
    ],
    'the direct chat: sent, edited, deleted, and a file',
  );
  const file = await download(server, history[3].files[0].url);
  t.equal(file.bytes.toString(), 'the notes of release 0.1.0\n', 'the upload downloads');
  const room = chats.find((c) => c.chat_type === 'room')!;
  const roomHistory = (await request(server, 'GET', `/v1/chats/${room.id}/messages`, { token: carol.token })).body;
  t.match(roomHistory, [{ content: 'tomatoes' }], 'the room');

  const sent = await request(server, 'POST', `/v1/chats/${direct.id}/messages`, { token: alice.token, body: { content: 'after the upgrade' } });
  t.ok(sent.body.id > history[3].id, 'new messages come after the old ones');

  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0, 'stopped');

  // A database that a newer server migrated: this one refuses it rather than run on it.
  const db = new Database(path.join(dir, 'data', 'chat.db'));
  db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run('2099-01-01-001-from-the-future', new Date().toISOString());
  db.close();
  const refused = await cli([], { ...ENV, HOST: '127.0.0.1', PORT: '0' }, { cwd: dir });
  t.equal(refused.code, 1, 'the server does not start');
  t.match(refused.stderr, /newer version of this server \(unknown migrations: 2099-01-01-001-from-the-future\)/);

  // The way back: the backup, restored with tar into an empty data folder.
  rmSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'data'));
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-xzf', 'before-upgrade.tar.gz', '-C', 'data'], { cwd: dir }, (err) => (err ? reject(err) : resolve())),
  );
  const restored = new Database(path.join(dir, 'data', 'chat.db'), { readonly: true });
  t.same(restored.prepare('select name from kysely_migration order by name').all().map((row) => (row as { name: string }).name), before, 'the backup holds the old schema');
  restored.close();
  t.equal(readFileSync(path.join(dir, 'data', 'jwt-secret'), 'utf8'), readFileSync(path.join(FIXTURE, 'jwt-secret'), 'utf8'), 'and the secret');
});
