import { chmodSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { openSqlite } from '../../src/db/sqlite.js';

// Every message is in the database: its files are readable by the server's user only.

const mode = (file: string) => statSync(file).mode & 0o777;

t.test('a new database and its WAL are made 0600, whatever the umask', async (t) => {
  const dir = t.testdir();
  const previous = process.umask(0o022);
  t.teardown(() => process.umask(previous));
  const file = path.join(dir, 'chat.db');
  const db = openSqlite(file, 'NORMAL', false);
  db.exec('create table t (x)');
  db.exec('insert into t values (1)');
  t.equal(mode(file).toString(8), '600');
  t.equal(mode(`${file}-wal`).toString(8), '600');
  t.equal(mode(`${file}-shm`).toString(8), '600');
  db.close();
});

t.test('a database made 0644 before is made 0600', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'chat.db');
  openSqlite(file, 'NORMAL', false).close();
  chmodSync(file, 0o644);
  writeFileSync(`${file}-wal`, '');
  chmodSync(`${file}-wal`, 0o644);
  openSqlite(file, 'NORMAL', false).close();
  t.equal(mode(file).toString(8), '600');
});
