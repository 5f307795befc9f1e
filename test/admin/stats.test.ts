import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { sqlitePath } from '../../src/config.js';
import { PNG, uploaded } from '../helpers/files.js';
import { login, pair, postgresUrl, request, startServer } from '../helpers/server.js';
import { cli } from './run.js';

t.setTimeout(180_000);

t.test('stats counts what the server holds, and sizes its database, uploads and free space', async (t) => {
  const server = await startServer(t);
  const dataDir = server.config.dataDir;
  const env = { DATABASE_URL: server.config.databaseUrl, DATA_DIR: dataDir, JWT_SECRET: server.config.jwtSecret! };
  const { alice, chatId } = await pair(server);
  await request(server, 'POST', '/v1/chats', { token: alice.token, body: { name: 'g', members: ['bob'] } });
  const file = await uploaded(server, alice.token, PNG, 'dot.png');
  await uploaded(server, alice.token, 'bytes', 'loose.txt');
  for (const [content, files] of [['one', [file.id]], ['two', []], ['three', []]] as const) {
    await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content, files } });
  }
  const last = (await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token })).body.at(-1);
  await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${last.id}`, { token: alice.token });
  // A deleted account's row (users delete leaves one) is no user.
  const tombstone = 'deleted user #99';
  await server.app.db.kysely
    .insertInto('users')
    .values({ username: tombstone, username_key: tombstone, username_skeleton: tombstone, created_at: new Date().toISOString(), deleted_at: new Date().toISOString() })
    .execute();

  const run = await cli(['stats', '--json'], env);
  t.equal(run.code, 0, run.stderr);
  const stats = JSON.parse(run.stdout);
  const database = path.resolve(sqlitePath(server.config.databaseUrl)!);
  t.match(stats, {
    users: 2,
    chats: { direct: 1, group: 1, room: 2 },
    messages: 2,
    files: { count: 2, bytes: PNG.length + 5 },
    database: { location: database, bytes: Number, wal_bytes: Number },
    uploads_folder: { path: path.join(dataDir, 'uploads'), files: 2, bytes: PNG.length + 5 },
    free_bytes: Number,
  });
  t.ok(stats.database.bytes >= statSync(database).size, 'the database file, and its WAL');
  t.ok(stats.free_bytes > 0);

  const text = await cli(['stats'], env);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /^users +2\n/);
  t.match(text.stdout, /\nchats +4: 1 direct, 1 group, 2 rooms\n/);
  t.match(text.stdout, /\nmessages +2 \(deleted ones not counted\)\n/);
  t.match(text.stdout, new RegExp(`\\nfiles +2, ${PNG.length + 5} B\\n`));
  t.match(text.stdout, `\ndatabase         ${database}: `);
  t.match(text.stdout, `\nuploads folder   ${path.join(dataDir, 'uploads')}: 2 files, ${PNG.length + 5} B\n`);
  t.match(text.stdout, new RegExp(`\\nfree disk space +[\\d.]+ [KMGT]iB \\(on the disk of ${dataDir}\\)\\n$`));
});

t.test('commands refuse a database of a newer version; those that only read, one of an older version, or none', async (t) => {
  const server = await startServer(t);
  await login(server, 'alice');
  const env = { DATABASE_URL: server.config.databaseUrl, DATA_DIR: server.config.dataDir, JWT_SECRET: server.config.jwtSecret! };
  const migrations = server.app.db.kysely.withTables<{ kysely_migration: { name: string; timestamp: string } }>();

  await migrations.insertInto('kysely_migration').values({ name: '2099-01-01-001-future', timestamp: new Date().toISOString() }).execute();
  for (const args of [['stats'], ['users', 'list'], ['users', 'delete', 'alice']]) {
    const run = await cli(args, env);
    t.equal(run.code, 1, args.join(' '));
    t.match(run.stderr, /^The database was migrated by a newer version of this server \(unknown migrations: 2099-01-01-001-future\)/);
  }
  await migrations.deleteFrom('kysely_migration').where('name', '=', '2099-01-01-001-future').execute();

  const { name } = await migrations.selectFrom('kysely_migration').select('name').orderBy('name', 'desc').executeTakeFirstOrThrow();
  await migrations.deleteFrom('kysely_migration').where('name', '=', name).execute();
  const older = await cli(['users', 'list'], env);
  t.equal(older.code, 1);
  t.match(older.stderr, `is of an older version of the server (it lacks ${name}): start this version of the server once`);

  const missing = path.join(server.config.dataDir, 'elsewhere.db');
  const none = await cli(['stats'], { ...env, DATABASE_URL: `sqlite:${missing}` });
  t.equal(none.code, 1);
  t.match(none.stderr, `There is no database at ${missing}`);
  t.notOk(existsSync(missing), 'and none is made');
});

t.test('stats on PostgreSQL asks it the size of the database', { skip: !postgresUrl && 'TEST_DATABASE_URL is not set' }, async (t) => {
  const server = await startServer(t, {}, { postgres: true });
  await login(server, 'alice');
  const url = new URL(server.config.databaseUrl);
  const run = await cli(['stats', '--json'], { DATABASE_URL: server.config.databaseUrl, DATA_DIR: server.config.dataDir, JWT_SECRET: server.config.jwtSecret! });
  t.equal(run.code, 0, run.stderr);
  t.match(JSON.parse(run.stdout), {
    users: 1,
    database: { location: `PostgreSQL ${url.hostname}:${url.port || 5432}${url.pathname}`, bytes: Number, wal_bytes: null },
  });
});
