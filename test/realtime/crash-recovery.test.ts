import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';
import { request, type Session, type TestServer } from '../helpers/server.js';
import { connect, type TestSocket } from '../helpers/ws-client.js';

// A real server process is killed with SIGKILL in the middle of a burst of sends, restarted on the
// same database, and the client does what the README tells clients to do: reconnect, resume, and
// send again every message it got no echo for, with the same client_id.

const TOTAL = 600;
const IN_FLIGHT = 50;

t.test('SIGKILL mid-burst: every message exists exactly once, every echo is durable', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: 'crash-test-secret-crash-test-secret-0123',
    RATE_LIMIT_SEND: '0',
    RATE_LIMIT_API: '0',
    RATE_LIMIT_AUTH: '0',
  };
  const children: ChildServer[] = [];
  t.teardown(() => children.forEach((c) => c.process.kill('SIGKILL')));
  const start = async () => {
    const child = await spawnServer(env);
    children.push(child);
    return { child, server: { url: child.url, wsUrl: child.wsUrl } as TestServer };
  };

  let { child, server } = await start();
  const login = async (username: string): Promise<Session> => (await request(server, 'POST', '/v1/login', { body: { username } })).body;
  const alice = await login('alice');
  const bob = await login('bob');
  const chatId: number = (await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_id: bob.user.id } })).body.chat_id;

  const echoed = new Map<string, number>(); // client_id → message id
  let highestSeen = 0;
  const watch = (socket: TestSocket) =>
    socket.ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type !== 'message') return;
      echoed.set(frame.client_id, frame.id);
      highestSeen = Math.max(highestSeen, frame.id);
    });

  // Keep IN_FLIGHT sends outstanding; kill the server once a third of the burst is confirmed.
  let socket = await connect(t, server, alice);
  watch(socket);
  let next = 0;
  const pump = () => {
    while (next < TOTAL && next - echoed.size < IN_FLIGHT) socket.send({ chat_id: chatId, content: `m${next}`, client_id: `c${next++}` });
  };
  socket.ws.on('message', pump);
  pump();
  await new Promise<void>((resolve) => {
    const check = () => (echoed.size >= TOTAL / 3 ? resolve() : setTimeout(check, 1));
    check();
  });
  child.process.kill('SIGKILL');
  await child.exited;
  const echoedBeforeCrash = new Map(echoed);
  t.ok(echoedBeforeCrash.size < TOTAL, `killed mid-burst (${echoedBeforeCrash.size} of ${TOTAL} echoed)`);

  ({ child, server } = await start());
  socket = await connect(t, server, alice);
  watch(socket);
  socket.send({ type: 'resume', after: highestSeen });
  const resumed = await socket.nextOfType('resumed');
  t.equal(resumed.complete, true);
  // Everything not yet confirmed, including sends that never reached the old server.
  for (let i = 0; i < TOTAL; i++) {
    if (!echoed.has(`c${i}`)) socket.send({ chat_id: chatId, content: `m${i}`, client_id: `c${i}` });
  }
  await new Promise<void>((resolve) => {
    const check = () => (echoed.size === TOTAL ? resolve() : setTimeout(check, 5));
    check();
  });

  const stored: { id: number; client_id: string; content: string }[] = [];
  for (let after = 0; ; ) {
    const page = (await request(server, 'GET', `/v1/chats/${chatId}/messages?after=${after}&limit=200`, { token: bob.token })).body;
    if (page.length === 0) break;
    stored.push(...page);
    after = page.at(-1).id;
  }
  const byClientId = new Map(stored.map((m) => [m.client_id, m]));
  t.equal(stored.length, TOTAL, 'no message stored twice');
  t.equal(byClientId.size, TOTAL, 'every message the client meant to send is stored');
  t.ok(stored.every((m) => m.content === `m${m.client_id.slice(1)}`), 'contents match their client_id');
  const lost = [...echoedBeforeCrash].filter(([clientId, id]) => byClientId.get(clientId)?.id !== id);
  t.same(lost, [], 'every echo received before the crash is in the database with the same id');

  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0, 'SIGTERM shuts down cleanly');
});
