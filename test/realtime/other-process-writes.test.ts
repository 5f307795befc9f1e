import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { login, request, startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// The operator's command line is another process: on SQLite, sessions it ends (set-password, users
// delete) close the sockets opened with them within the server's poll interval (2 s).

t.test('sessions ended by another process close their sockets; the others stay open', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const aliceAgain = await login(server, 'alice');
  const bob = await login(server, 'bob');
  const aliceWs = await connect(t, server, alice);
  const bobWs = await connect(t, server, bob);

  const other = new Database(path.join(server.config.dataDir, 'chat.db'));
  t.teardown(() => other.close());
  other.prepare('delete from sessions where id = ?').run(JSON.parse(Buffer.from(alice.token.split('.')[1]!, 'base64url').toString()).sid);

  t.match(await aliceWs.closed, { code: 4401 }, "alice's socket of that session is closed as a bad token would be");
  t.equal((await request(server, 'GET', '/v1/me', { token: alice.token })).status, 401, 'and her token is refused');
  t.equal((await request(server, 'GET', '/v1/me', { token: aliceAgain.token })).status, 200, 'her other session goes on');

  // A write of another process that ends no session closes nothing.
  other.prepare("update users set bio = 'changed elsewhere' where username = 'bob'").run();
  await new Promise((resolve) => setTimeout(resolve, 2500));
  bobWs.send({ type: 'ping' });
  t.match(await bobWs.nextOfType('pong'), { type: 'pong' }, "bob's socket is still open");
});
