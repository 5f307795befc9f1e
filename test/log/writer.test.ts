import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { createDb } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { FileLinks } from '../../src/files/links.js';
import { fileQueries } from '../../src/files/queries.js';
import type { SendOutcome } from '../../src/messages/batch-store.js';
import { LogWriter } from '../../src/log/writer.js';
import { holdFlushes, until } from '../helpers/flushes.js';

/** A fresh database (flushed like the server's) with one user, alice, in one group, chat 1. */
async function aliceInAGroup(t: Test) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-writer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createDb({ databaseUrl: `sqlite:${path.join(dir, 'chat.db')}`, sqliteSynchronous: 'FULL' }, { error: () => {} });
  t.teardown(() => db.kysely.destroy());
  await migrateToLatest(db.kysely);
  const now = new Date().toISOString();
  await db.kysely.insertInto('users').values({ username: 'alice', username_key: 'alice', created_at: now }).execute();
  await db.kysely.insertInto('chats').values({ chat_type: 'group', name: 'g', owner_id: 1, created_at: now, last_activity_at: now }).execute();
  await db.kysely.insertInto('chat_members').values({ chat_id: 1, user_id: 1, joined_at: now }).execute();
  return db;
}

t.test('a batch that fails to commit is answered STORE_UNAVAILABLE in its turn, after the batch ahead of it', async (t) => {
  const db = await aliceInAGroup(t);

  const errors: string[] = [];
  const log = { error: (_: object, message: string) => errors.push(message) } as unknown as FastifyBaseLogger;
  const delivered: (string | null)[] = [];
  const writer = new LogWriter(
    db,
    fileQueries(db.kysely, new FileLinks('a test secret of some length')),
    ({ event }) => delivered.push(event.type === 'message' ? event.message.client_id : null),
    log,
  );
  const send = (clientId: string) => writer.submit({ chatId: 1, senderId: 1, sender: 'alice', content: clientId, clientId, fileIds: [] });
  const flushes = holdFlushes(t);

  const answered: string[] = [];
  const track = (clientId: string, outcome: Promise<SendOutcome>) =>
    outcome.then((o) => answered.push(`${clientId}: ${o.ok ? 'stored' : o.error.code}`));
  const first = track('a', send('a'));
  await until(() => flushes.waiting === 1, 'the first flush');
  // Writes now fail: the next batch is committed while the first flush runs, and its commit fails.
  await sql`pragma query_only = on`.execute(db.kysely);
  const second = track('b', send('b'));
  await until(() => errors.includes('message batch failed to commit'), 'the failed commit');
  await new Promise((r) => setTimeout(r, 20));
  t.same(answered, [], 'not answered before the batch ahead of it');

  await sql`pragma query_only = off`.execute(db.kysely);
  flushes.release();
  await first;
  await until(() => flushes.waiting === 1, 'the second flush');
  flushes.release();
  await second;
  await writer.drain();
  t.same(answered, ['a: stored', 'b: STORE_UNAVAILABLE']);
  t.same(delivered, ['a']);
});

t.test('an event is answered in its turn: delivered after the sends before it, refused with them when their flush fails', async (t) => {
  const db = await aliceInAGroup(t);

  const errors: string[] = [];
  const log = { error: (_: object, message: string) => errors.push(message) } as unknown as FastifyBaseLogger;
  const delivered: string[] = [];
  const writer = new LogWriter(
    db,
    fileQueries(db.kysely, new FileLinks('a test secret of some length')),
    ({ event, seq }) => delivered.push(`${event.type}@${seq}`),
    log,
  );
  const send = (clientId: string) => writer.submit({ chatId: 1, senderId: 1, sender: 'alice', content: clientId, clientId, fileIds: [] });
  const renamed = () =>
    writer.write(async (_trx, append) => {
      const seq = await append({ chatId: 1, kind: 'chat', recipients: [1] });
      return { result: seq, deliveries: [{ to: [1], event: { type: 'typing', chat_id: 1, user_id: 1, username: 'alice' }, seq }] };
    });
  const flushes = holdFlushes(t);

  const first = send('a');
  const event = renamed();
  const after = send('b');
  await until(() => flushes.waiting === 1, 'the flush');
  flushes.release();
  const [a, seq, b] = await Promise.all([first, event, after]);
  t.ok(a.ok && b.ok && a.message.id < seq && seq < b.message.id, 'the event draws its id between the messages around it');
  t.same(delivered, [`message@${a.ok && a.message.id}`, `typing@${seq}`, `message@${b.ok && b.message.id}`], 'and is delivered between them');

  const refused = renamed();
  const failing = writer.write(async () => {
    throw new Error('a bug in a write');
  });
  await until(() => flushes.waiting === 1, 'the next flush');
  flushes.release(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
  await t.rejects(refused, { code: 'STORE_UNAVAILABLE' }, 'a failed flush refuses the event');
  await t.rejects(failing, { code: 'STORE_UNAVAILABLE' }, 'a write that fails is refused, in its turn');
  t.ok(errors.includes('a log write failed to commit'), 'and logged');
  t.equal(delivered.length, 3, 'neither is delivered');
});
