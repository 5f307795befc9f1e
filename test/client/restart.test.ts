import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { serverBuild } from '../helpers/cluster.js';
import type { TestServer } from '../helpers/server.js';
import { connected, history, increasing, record, twoClients, waitFor, type Client } from './helpers.js';

// Two web/client.js clients chat in a burst; the server (a real process) is stopped in the middle,
// gracefully or with SIGKILL, and started again on the same database file and the same port. The
// clients reconnect by themselves, resume and send their outboxes again: in the end every message
// is stored once and each client has emitted each of the other's messages once, in id order.

// Each start of a server process takes a few seconds on a busy machine.
t.setTimeout(120_000);

const EACH = 120;

// The bundled server, as `npm start` runs it: a child on the sources takes seconds to start.
const main = await serverBuild(t);

async function conversationAcrossRestart(t: Test, signal: 'SIGTERM' | 'SIGKILL') {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-client-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: 'client-restart-secret-client-restart-secret',
    RATE_LIMIT_SEND: '0',
    RATE_LIMIT_API: '0',
    RATE_LIMIT_AUTH: '0',
  };
  const children: ChildServer[] = [];
  t.teardown(() => children.forEach((child) => child.process.kill('SIGKILL')));
  /** A server on `port` (0: a free one); the port may be busy for a moment after a stop. */
  const start = async (port = 0) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const child = await spawnServer({ ...env, PORT: String(port) }, { main });
        children.push(child);
        return child;
      } catch (err) {
        if (attempt === 5) throw err;
        await sleep(200);
      }
    }
  };

  let child = await start();
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;
  const { alice, bob, chatId, a, b } = await twoClients(t, server);
  await connected(a);
  await connected(b);
  const atAlice = record(a, 'message');
  const atBob = record(b, 'message');
  const errors: { code: string }[] = [];
  for (const client of [a, b]) client.on('error', (e: { code: string }) => errors.push(e));
  const fromOther = (seen: any[], sender: { user: { id: number } }) => seen.filter((m) => m.sender_id === sender.user.id);

  // Both write at once, a few messages per turn of the event loop, whatever the socket's state.
  const burst = async (client: Client, who: string) => {
    const sent = [];
    for (let i = 0; i < EACH; i++) {
      sent.push(client.send(chatId, `${who} ${i}`));
      if (i % 4 === 3) await sleep(3);
    }
    return sent;
  };
  const bursts = Promise.all([burst(a, 'alice'), burst(b, 'bob')]);
  await waitFor(() => fromOther(atAlice, bob).length >= 10 && fromOther(atBob, alice).length >= 10, 'the conversation to start');
  child.process.kill(signal);
  t.equal(await child.exited, signal === 'SIGTERM' ? 0 : null, `stopped with ${signal}`);
  const beforeStop = fromOther(atBob, alice).length + fromOther(atAlice, bob).length;
  t.ok(beforeStop < 2 * EACH, `stopped mid-conversation (${beforeStop} of ${2 * EACH} delivered)`);

  child = await start(Number(new URL(server.url).port));
  t.equal(child.url, server.url, 'the same address');
  const [sentByAlice, sentByBob] = await bursts;
  // No call from here: the clients find the server again by themselves.
  await waitFor(
    () =>
      a.pending().length === 0 &&
      b.pending().length === 0 &&
      fromOther(atAlice, bob).length >= EACH &&
      fromOther(atBob, alice).length >= EACH,
    'both outboxes to empty and every message to arrive',
    30_000,
  );
  t.equal(a.status, 'online');
  t.equal(b.status, 'online');

  const stored = await history(server, alice.token, chatId);
  const sent = [...sentByAlice, ...sentByBob];
  t.equal(stored.length, sent.length, 'as many messages stored as sent');
  const storedIds = new Map(stored.map((m) => [m.client_id, m.id]));
  t.ok(
    sent.every((e) => stored.filter((m) => m.client_id === e.client_id && m.content === e.content).length === 1),
    'each message sent is stored exactly once',
  );
  for (const [seen, other, sentByOther, name] of [
    [atAlice, bob, sentByBob, 'Alice'],
    [atBob, alice, sentByAlice, 'Bob'],
  ] as const) {
    const got = fromOther(seen, other);
    t.same(
      got.map((m) => m.client_id),
      [...sentByOther].sort((x, y) => storedIds.get(x.client_id)! - storedIds.get(y.client_id)!).map((e) => e.client_id),
      `${name} got each of the other's messages once`,
    );
    t.same(got.map((m) => m.id), got.map((m) => storedIds.get(m.client_id)), `${name} got them with their stored ids`);
    t.ok(increasing(seen.map((m) => m.id)), `${name}'s client emitted every message once, in increasing id order`);
  }
  t.same(a.pending(), [], 'Alice\'s outbox is empty');
  t.same(b.pending(), [], 'Bob\'s outbox is empty');
  t.ok(
    errors.every((e) => ['SHUTTING_DOWN', 'STORE_UNAVAILABLE'].includes(e.code)),
    `only transient refusals on the way (${[...new Set(errors.map((e) => e.code))].join(', ') || 'none'})`,
  );

  a.disconnect();
  b.disconnect();
  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0);
}

t.test('graceful restart (SIGTERM) mid-conversation', (t) => conversationAcrossRestart(t, 'SIGTERM'));
t.test('crash (SIGKILL) and restart mid-conversation', (t) => conversationAcrossRestart(t, 'SIGKILL'));
