import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import type { SqliteSynchronous } from '../../src/config.js';
import { createDb, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

// SQLITE_SYNCHRONOUS=FULL is kept by flushing the WAL ourselves: every write is on disk before it
// resolves, except the commits the message writer defers and flushes off the event loop.

async function openDb(t: Test, synchronous: SqliteSynchronous): Promise<{ db: Db; file: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-durability-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'chat.db');
  const db = await createDb({ databaseUrl: `sqlite:${file}`, sqliteSynchronous: synchronous }, { error: (...args: unknown[]) => t.fail(`logged: ${JSON.stringify(args)}`) });
  t.teardown(() => db.kysely.destroy());
  await migrateToLatest(db.kysely);
  return { db, file };
}

/** Counts the WAL flushes, on the calling thread and on the thread pool, while the test runs. */
function countFlushes(t: Test) {
  const counts = { sync: 0, async: 0 };
  const { fdatasyncSync, fdatasync } = fs;
  fs.fdatasyncSync = (fd) => {
    counts.sync++;
    fdatasyncSync(fd);
  };
  fs.fdatasync = ((fd: number, callback: fs.NoParamCallback) => {
    counts.async++;
    fdatasync(fd, callback);
  }) as typeof fs.fdatasync;
  t.teardown(() => Object.assign(fs, { fdatasyncSync, fdatasync }));
  return counts;
}

const addUser = (db: Db, name: string) =>
  db.kysely.insertInto('users').values({ username: name, username_key: name, created_at: new Date().toISOString() }).execute();

t.test('FULL: each write transaction is flushed before it resolves, reads are not', async (t) => {
  const { db } = await openDb(t, 'FULL');
  const flushes = countFlushes(t);

  await addUser(db, 'alice');
  t.same(flushes, { sync: 1, async: 0 }, 'a write outside a transaction');
  await db.kysely.selectFrom('users').selectAll().execute();
  t.same(flushes, { sync: 1, async: 0 }, 'a read');
  await db.kysely.transaction().execute(async (trx) => {
    await trx.insertInto('users').values({ username: 'bob', username_key: 'bob', created_at: '' }).execute();
    await trx.insertInto('users').values({ username: 'carol', username_key: 'carol', created_at: '' }).execute();
    t.same(flushes, { sync: 1, async: 0 }, 'nothing inside the transaction');
  });
  t.same(flushes, { sync: 2, async: 0 }, 'once at its commit');
  const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(db.kysely);
  t.equal(rows[0]!.synchronous, 1, 'the connection itself runs NORMAL: the flushes are ours');
});

t.test('FULL: a deferred commit is flushed by flush(), off the calling thread', async (t) => {
  const { db } = await openDb(t, 'FULL');
  const flushes = countFlushes(t);

  await db.kysely.transaction().execute(async (trx) => {
    db.durability.deferCommit();
    await trx.insertInto('users').values({ username: 'dave', username_key: 'dave', created_at: '' }).execute();
  });
  t.same(flushes, { sync: 0, async: 0 }, 'the commit itself waits for nothing');
  await db.durability.flush();
  t.same(flushes, { sync: 0, async: 1 }, 'flush() runs fdatasync on the thread pool');

  await t.rejects(
    db.kysely.transaction().execute(async (trx) => {
      db.durability.deferCommit();
      await trx.insertInto('users').values({ username: 'erin', username_key: 'erin', created_at: '' }).execute();
      throw new Error('rolled back');
    }),
  );
  await addUser(db, 'frank');
  t.same(flushes, { sync: 1, async: 1 }, 'a deferral lapses with its rolled-back transaction');
});

t.test('NORMAL: SQLite commits without flushing, and flush() has nothing to wait for', async (t) => {
  const { db } = await openDb(t, 'NORMAL');
  const flushes = countFlushes(t);
  await addUser(db, 'alice');
  await db.durability.flush();
  t.same(flushes, { sync: 0, async: 0 });
});

/** The WAL header's checkpoint sequence: SQLite adds one each time it starts the WAL over. */
function walRestarts(file: string): number {
  const fd = fs.openSync(`${file}-wal`, 'r');
  try {
    const header = Buffer.alloc(16);
    fs.readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    fs.closeSync(fd);
  }
}

t.test('under writes that never pause, the WAL still starts over', async (t) => {
  const { db, file } = await openDb(t, 'FULL');
  const before = walRestarts(file);
  const row = (i: number) => ({ username: `u${i}`, username_key: `u${i}`, bio: 'x'.repeat(3000), created_at: '' });
  let written = 0;
  const deadline = Date.now() + 20_000;
  // Each commit writes ~40 pages; the WAL starts over every 16,384 frames or so.
  while (walRestarts(file) < before + 2 && Date.now() < deadline) {
    await db.kysely.transaction().execute(async (trx) => {
      await trx.insertInto('users').values(Array.from({ length: 40 }, (_, i) => row(written + i))).execute();
    });
    written += 40;
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(walRestarts(file) >= before + 2, `started over twice in ${written} rows`);
  const { count } = await db.kysely.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('count')).executeTakeFirstOrThrow();
  t.equal(Number(count), written, 'no row lost across the restarts');
});
