import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { login, postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { connect, open } from '../helpers/ws-client.js';
import { call, expectError } from './support.js';

const me = (server: TestServer, token: string) => request(server, 'GET', '/v1/me', { token });

t.test('POST /v1/logout ends that token only, and closes its sockets with 4401', async (t) => {
  const server = await startServer(t);
  const phone = await login(server, 'alice');
  const laptop = await login(server, 'alice');
  const phoneSocket = await connect(t, server, phone);
  const laptopSocket = await connect(t, server, laptop, 'identify');

  const res = await call(server, 'POST', '/v1/logout', { token: phone.token });
  t.equal(res.status, 204);
  t.same(await phoneSocket.closed, { code: 4401, reason: 'Session ended: log in again' });
  expectError(t, await me(server, phone.token), 401, 'INVALID_TOKEN');
  t.equal((await me(server, laptop.token)).status, 200, 'the other device stays logged in');
  await laptopSocket.ping();
  await t.rejects(connect(t, server, phone), { message: 'upgrade refused: 401' }, 'the ended token opens no socket');
  const identified = await open(t, server.wsUrl);
  identified.send({ op: 'IDENTIFY', d: { token: phone.token } });
  t.equal((await identified.closed).code, 4401, 'nor by IDENTIFY');
});

t.test('POST /v1/logout/all ends every token of the account and closes every socket', async (t) => {
  const server = await startServer(t);
  const sessions = await Promise.all([login(server, 'alice'), login(server, 'alice'), login(server, 'alice')]);
  const bob = await login(server, 'bob');
  const sockets = await Promise.all(sessions.map((s) => connect(t, server, s)));
  const bobSocket = await connect(t, server, bob);

  t.equal((await call(server, 'POST', '/v1/logout/all', { token: sessions[0]!.token })).status, 204);
  for (const socket of sockets) t.equal((await socket.closed).code, 4401);
  for (const session of sessions) expectError(t, await me(server, session.token), 401, 'INVALID_TOKEN');
  await bobSocket.ping();
  t.equal((await me(server, bob.token)).status, 200, 'another user is untouched');
  t.equal((await me(server, (await login(server, 'alice')).token)).status, 200, 'a new login works');
});

t.test('a password change ends every other session; the one that changed it goes on', async (t) => {
  const server = await startServer(t);
  const owner = await login(server, 'carol');
  // Someone else who knew the name (open mode) got in first.
  const intruder = await login(server, 'carol');
  const intruderSocket = await connect(t, server, intruder);

  const set = await call(server, 'PUT', '/v1/me/password', { token: owner.token, body: { password: 'correct horse battery' } });
  t.equal(set.status, 204);
  t.equal((await intruderSocket.closed).code, 4401, 'the intruder is cut off at once');
  expectError(t, await me(server, intruder.token), 401, 'INVALID_TOKEN');
  t.equal((await me(server, owner.token)).status, 200);

  // A change with the current password: the same again.
  const second = await login(server, 'carol', 'correct horse battery');
  const changed = await call(server, 'PUT', '/v1/me/password', {
    token: owner.token,
    body: { password: 'another long passphrase', current_password: 'correct horse battery' },
  });
  t.equal(changed.status, 204);
  expectError(t, await me(server, second.token), 401, 'INVALID_TOKEN');
  t.equal((await me(server, owner.token)).status, 200);
});

t.test('a token does not survive its database: after a wipe it is no one, even the user who got its id', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-wipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The same secret both times, as a server whose data folder kept jwt-secret but lost chat.db.
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}` };
  const first = await startServer(t, env);
  const old = await login(first, 'jwtxbvn00');
  await first.app.close();
  rmSync(path.join(dir, 'chat.db'));
  rmSync(path.join(dir, 'chat.db-wal'), { force: true });
  rmSync(path.join(dir, 'chat.db-shm'), { force: true });

  const second = await startServer(t, env);
  const admin = await login(second, 'newadmin');
  t.equal(admin.user.id, old.user.id, 'the new account has the old one\'s id');
  expectError(t, await me(second, old.token), 401, 'INVALID_TOKEN');
  await t.rejects(connect(t, second, old), { message: 'upgrade refused: 401' });
});

t.test('sessions end across processes on PostgreSQL', { skip: postgresUrl ? false : 'TEST_DATABASE_URL is not set' }, async (t) => {
  const { postgresSchema } = await import('../helpers/server.js');
  const url = await postgresSchema(t);
  const a = await startServer(t, { DATABASE_URL: url });
  const b = await startServer(t, { DATABASE_URL: url });
  const session = await login(a, 'dave');
  const other = await login(a, 'dave');
  const onB = await connect(t, b, session);
  const otherOnB = await connect(t, b, other);
  t.equal((await call(a, 'POST', '/v1/logout', { token: session.token })).status, 204);
  t.equal((await onB.closed).code, 4401, 'the other process closed the socket of the ended session');
  await otherOnB.ping();
  expectError(t, await me(b, session.token), 401, 'INVALID_TOKEN');
});
