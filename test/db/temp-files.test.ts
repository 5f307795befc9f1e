import { mkdtempSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createDb } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { FileLinks } from '../../src/files/links.js';
import { fileQueries } from '../../src/files/queries.js';
import { commitBatch, type SendRequest } from '../../src/messages/batch-store.js';

// Why a batch could create one: see `openSqlite` (src/db/sqlite.ts).

t.test('a batch of sends across many chats creates no temporary file', async (t) => {
  const temp = mkdtempSync(path.join(tmpdir(), 'dm-sqlite-temp-'));
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-temp-files-'));
  t.teardown(() => {
    rmSync(temp, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  // Where SQLite puts its temporary files, read when the process opens its first database.
  process.env.SQLITE_TMPDIR = temp;
  const db = await createDb({ databaseUrl: `sqlite:${path.join(dir, 'chat.db')}`, sqliteSynchronous: 'FULL' }, { error: () => {} });
  t.teardown(() => db.kysely.destroy());
  await migrateToLatest(db.kysely);

  const CHATS = 40;
  const now = new Date().toISOString();
  await db.kysely.transaction().execute(async (trx) => {
    for (let user = 1; user <= 2 * CHATS; user++) {
      await trx.insertInto('users').values({ username: `u${user}`, username_key: `u${user}`, created_at: now }).execute();
    }
    for (let chat = 1; chat <= CHATS; chat++) {
      await trx.insertInto('chats').values({ chat_type: 'direct', direct_key: `${chat}`, created_at: now, last_activity_at: now }).execute();
      await trx
        .insertInto('chat_members')
        .values([1, 2].map((n) => ({ chat_id: chat, user_id: 2 * chat - 2 + n, joined_at: now })))
        .execute();
    }
    // Enough history that each chat's newest messages sit on index pages of their own.
    for (let i = 0; i < 4000; i++) {
      const chat = 1 + (i % CHATS);
      await trx
        .insertInto('messages')
        .values({ chat_id: chat, sender_id: 2 * chat, content: 'earlier', client_id: `earlier-${i}`, created_at: now })
        .execute();
    }
  });

  const created: string[] = [];
  const watcher = watch(temp, (event, name) => created.push(`${event} ${name}`));
  t.teardown(() => watcher.close());
  const sends: SendRequest[] = Array.from({ length: CHATS }, (_, i) => ({
    chatId: i + 1,
    senderId: 2 * i + 1,
    sender: `u${2 * i + 1}`,
    content: 'hello',
    clientId: `batch-${i}`,
    fileIds: [],
  }));
  const outcomes = await commitBatch(db, fileQueries(db.kysely, new FileLinks('a test secret of some length')), sends);
  await db.durability.flush();
  t.ok(outcomes.every((o) => o.ok && !o.duplicate), 'every send stored');
  // The folder's events arrive in order: once this file's arrives, any file SQLite made has too.
  writeFileSync(path.join(temp, 'sentinel'), '');
  while (!created.some((event) => event.endsWith(' sentinel'))) await new Promise((resolve) => setTimeout(resolve, 5));
  t.same(created.filter((event) => !event.endsWith(' sentinel')), [], 'nothing created in the temporary folder');
});
