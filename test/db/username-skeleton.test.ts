import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createDb } from '../../src/db/database.js';
import { migrateToLatest, migratorFor } from '../../src/db/migrate.js';
import { userQueries, usernameKey } from '../../src/users/queries.js';
import { postgresSchema, postgresUrl } from '../helpers/server.js';

// The skeleton migration over accounts made before it, look-alikes among them: none is lost.

async function olderLookalikes(t: Test, databaseUrl: string) {
  const db = await createDb({ databaseUrl, sqliteSynchronous: 'NORMAL' }, { error: (...args: unknown[]) => t.fail(`logged: ${JSON.stringify(args)}`) });
  t.teardown(() => db.kysely.destroy());
  const migrator = await migratorFor(db.kysely);
  t.equal((await migrator.migrateTo('2026-12-06-004-event-log')).error, undefined, 'up to the migration before');
  const names = ['paypal', 'p\u0430ypal', 'ｐａｙｐａｌ', 'a\u034Fb', 'ab'];
  for (const username of names) {
    await db.kysely.insertInto('users').values({ username, username_key: usernameKey(username), created_at: '' }).execute();
  }

  await migrateToLatest(db.kysely);
  const rows = await db.kysely.selectFrom('users').select(['id', 'username_skeleton']).orderBy('id').execute();
  const id = rows.map((row) => row.id);
  t.same(
    rows.map((row) => row.username_skeleton),
    ['paypal', `paypal#${id[1]}`, `paypal#${id[2]}`, 'ab', `ab#${id[4]}`],
    'the first of each look-alike keeps the skeleton, the later ones get their id added',
  );
  const users = userQueries(db.kysely);
  t.equal((await users.byUsername('p\u0430ypal'))?.id, id[1], 'an older look-alike still has its account');
  t.equal((await users.byLookalike('PAYPAL'))?.id, id[0], 'and the name looks like the first');
  await t.rejects(users.create('PAYPA\u0406', null), { status: 409, code: 'USERNAME_TAKEN' }, 'so no new look-alike is made');
}

t.test('on SQLite', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await olderLookalikes(t, `sqlite:${path.join(dir, 'chat.db')}`);
});

if (postgresUrl) t.test('on PostgreSQL', async (t) => olderLookalikes(t, await postgresSchema(t)));
