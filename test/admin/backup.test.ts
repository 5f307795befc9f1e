import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { download, PNG, uploaded } from '../helpers/files.js';
import { login, request, startServer, type Teardown, type TestServer } from '../helpers/server.js';
import { cli } from './run.js';

t.setTimeout(180_000);

function tempDir(t: Teardown): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-backup-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('backup copies the database of a running server while it takes writes, with the uploads and the secret; the archive restores', async (t) => {
  // No JWT_SECRET: the server makes one in its data folder, which the backup keeps.
  const server = await startServer(t, { JWT_SECRET: '' });
  const dataDir = server.config.dataDir;
  const env = { DATABASE_URL: server.config.databaseUrl, DATA_DIR: dataDir };
  const alice = await login(server, 'alice', 'alice password');
  const bob = await login(server, 'bob');
  const chatId = (await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: 'bob' } })).body.chat_id;
  const file = await uploaded(server, alice.token, PNG, 'dot.png');
  const first = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'a picture', files: [file.id] } });
  t.equal(first.status, 201);

  let sent = 1;
  let writing = true;
  const writes = (async () => {
    while (writing) {
      const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: bob.token, body: { content: `busy ${sent}` } });
      if (res.status !== 201) throw new Error(`send: ${res.status}`);
      sent++;
    }
  })();
  while (sent < 20) await new Promise((resolve) => setTimeout(resolve, 5));
  const sentBefore = sent;
  const archive = path.join(tempDir(t), 'backup.tar.gz');
  const run = await cli(['backup', archive], env);
  const sentDuring = sent - sentBefore;
  writing = false;
  await writes;
  t.equal(run.code, 0, run.stderr);
  t.ok(sentDuring > 0, `the server took ${sentDuring} messages while the backup ran`);
  t.match(run.stdout, `Wrote ${archive} (`);
  t.match(run.stdout, /\n {2}chat\.db +the database, [\d.]+ KiB, as it was at \d{4}-/);
  t.match(run.stdout, new RegExp(`\\n {2}uploads/ +1 file, ${PNG.length} B\\n`));
  t.match(run.stdout, /\n {2}jwt-secret +the generated secret/);
  t.match(run.stdout, `\n  tar -xzf ${archive} -C ${dataDir}\n`);
  t.equal(statSync(archive).mode & 0o777, 0o600, 'the archive is its owner\'s only');
  t.same(readdirSync(path.dirname(archive)), ['backup.tar.gz'], 'no temporary file is left');

  const again = await cli(['backup', archive], env);
  t.equal(again.code, 1);
  t.match(again.stderr, /exists: a backup is written to a new file, never over another/);

  // The documented restore, into an empty folder.
  const restored = tempDir(t);
  execFileSync('tar', ['-xzf', archive, '-C', restored]);
  t.same(readdirSync(restored).sort(), ['chat.db', 'jwt-secret', 'uploads']);
  t.equal(statSync(path.join(restored, 'chat.db')).mode & 0o777, 0o600, 'the copy keeps the database\'s mode');
  t.equal(readFileSync(path.join(restored, 'jwt-secret'), 'utf8'), readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8'));
  const copy = new SQLite(path.join(restored, 'chat.db'), { readonly: true });
  t.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
  const { n } = copy.prepare('select count(*) as n from messages').get() as { n: number };
  copy.close();
  t.ok(n >= sentBefore && n <= sent, `the copy has the ${sentBefore} messages sent before it started, and no more than were sent (${n})`);

  const back = await serverOn(t, restored);
  t.equal((await request(back, 'GET', '/v1/me', { token: alice.token })).status, 200, 'a token of the old server works: same secret, same sessions');
  const relogged = await request(back, 'POST', '/v1/login', { body: { username: 'alice', password: 'alice password' } });
  t.equal(relogged.status, 200, 'the password logs in');
  const history = await request(back, 'GET', `/v1/chats/${chatId}/messages?after=0&limit=1`, { token: relogged.body.token });
  t.equal(history.body[0].content, 'a picture');
  const bytes = await download(back, history.body[0].files[0].url);
  t.equal(bytes.status, 200);
  t.same(bytes.bytes, PNG, 'the uploaded file downloads');
});

t.test('a database outside the data folder goes at the archive\'s top, and the output says where it belongs', async (t) => {
  const dbDir = tempDir(t);
  const dataDir = tempDir(t);
  const env = { DATABASE_URL: `sqlite:${path.join(dbDir, 'chat.db')}`, DATA_DIR: dataDir };
  // A database that no version of the server has migrated: the backup copies it as it is.
  const made = new SQLite(path.join(dbDir, 'chat.db'));
  made.exec("create table notes (body text); insert into notes values ('older than any migration')");
  made.close();
  mkdirSync(path.join(dataDir, 'uploads'));
  writeFileSync(path.join(dataDir, 'uploads', '0123456789abcdef0123456789abcdef'), 'bytes');
  const archive = path.join(tempDir(t), 'b.tar.gz');
  const run = await cli(['backup', archive], env);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, `(its file is ${path.join(dbDir, 'chat.db')}, outside the data folder)`);
  t.match(run.stdout, /\n {2}uploads\/ +1 file, 5 B\n/);
  t.match(run.stdout, /\n {2}jwt-secret +none yet: the server makes it at its first start\n/);
  t.match(run.stdout, `\n  tar -xzf ${archive} -C ${dbDir} chat.db\n  tar -xzf ${archive} -C ${dataDir} uploads\n`);
  const listed = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).trim().split('\n').sort();
  t.same(listed, ['chat.db', 'uploads/', 'uploads/0123456789abcdef0123456789abcdef']);
  const restored = tempDir(t);
  execFileSync('tar', ['-xzf', archive, '-C', restored, 'chat.db']);
  const copy = new SQLite(path.join(restored, 'chat.db'), { readonly: true });
  t.same(copy.prepare('select body from notes').all(), [{ body: 'older than any migration' }]);
  t.same(copy.prepare("select name from sqlite_master where name = 'kysely_migration'").all(), [], 'not migrated');
  copy.close();

  const missing = await cli(['backup', path.join(tempDir(t), 'x.tar.gz')], { ...env, DATABASE_URL: `sqlite:${path.join(dbDir, 'none.db')}` });
  t.equal(missing.code, 1);
  t.match(missing.stderr, `There is no database at ${path.join(dbDir, 'none.db')}`);
  t.notOk(existsSync(path.join(dbDir, 'none.db')), 'and it makes none');
});

t.test('backup on PostgreSQL writes nothing and prints the pg_dump and tar commands, without the password', async (t) => {
  const dir = tempDir(t);
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir);
  const run = await cli(['backup', 'dm.tar.gz'], { DATABASE_URL: 'postgres://dm:s3cret@db.example:5433/chat?sslmode=require', DATA_DIR: dataDir }, { cwd: dir });
  t.equal(run.code, 1);
  t.equal(run.stdout, '');
  t.match(run.stderr, /this server's is PostgreSQL db\.example:5433\/chat\. Back it up with pg_dump/);
  t.match(run.stderr, "\n  pg_dump --format=custom --file=dm.dump 'postgres://dm@db.example:5433/chat?sslmode=require'\n");
  t.match(run.stderr, `\n  tar -czf dm.tar.gz -C ${dataDir} uploads jwt-secret\n`);
  t.notOk(run.stderr.includes('s3cret'), 'no password');
  t.same(readdirSync(dir), ['data'], 'nothing written');
});

/** A server over the data folder `dir` as the default configuration lays it out. */
async function serverOn(t: Teardown, dir: string): Promise<TestServer> {
  const config = loadConfig({ DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir, LOG_LEVEL: 'silent' });
  const app = await buildApp(config, { logger: false });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
}
