import pg from 'pg';
import t from 'tap';
import { download, PNG, uploaded } from '../helpers/files.js';
import { pair, postgresSchema, postgresUrl, request, startServer } from '../helpers/server.js';
import { connect, open } from '../helpers/ws-client.js';

// The tailer of one in-process server, cut off from PostgreSQL's notifications on purpose.

if (!postgresUrl) {
  t.comment('TEST_DATABASE_URL is not set: skipping the log tailer tests (.ci/run sets it)');
  t.pass('skipped: no PostgreSQL');
} else {
  t.test('a process whose LISTEN connection is cut closes its sockets with 1013, refuses new ones, then catches up', async (t) => {
    const appName = `tailer_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const url = new URL(await postgresSchema(t));
    url.searchParams.set('application_name', appName);
    const server = await startServer(t, { DATABASE_URL: url.toString() });
    const { alice, bob, chatId } = await pair(server);
    const socket = await connect(t, server, bob);

    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    t.teardown(() => admin.end());
    const { rowCount } = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query ilike 'listen%'`,
      [appName],
    );
    t.equal(rowCount, 1, 'its listening connection');
    t.match(await socket.closed, { code: 1013 }, 'its sockets are closed with 1013');
    const health = await request(server, 'GET', '/healthz');
    t.match(health, { status: 503, body: { code: 'DELIVERY_UNAVAILABLE' } }, '/healthz says so');
    await t.rejects(open(t, server.wsUrl, { authorization: `Bearer ${bob.token}` }), { message: 'upgrade refused: 503' }, 'new sockets are refused meanwhile');

    // Sent while nobody listens: delivered once the tailer is back, in order.
    const sent = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'while cut off' } });
    t.equal(sent.status, 201);
    for (let i = 0; (await request(server, 'GET', '/healthz')).status !== 200; i++) {
      if (i > 200) throw new Error('the tailer did not come back');
      await new Promise((r) => setTimeout(r, 25));
    }
    const back = await connect(t, server, bob);
    back.send({ type: 'resume', after: 0 });
    const replayed = [];
    for (let f = await back.next(); f.type !== 'resumed'; f = await back.next()) if (f.type === 'message') replayed.push(f.id);
    t.same(replayed, [sent.body.id], 'the message sent meanwhile is there');
    const live = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'live again' } });
    t.match(await back.nextOfType('message'), { id: live.body.id }, 'and live delivery goes on');
  });

  t.test("a message's file urls, read from the log, are each member's own", async (t) => {
    const server = await startServer(t, { DATABASE_URL: await postgresSchema(t) });
    const { alice, bob, chatId } = await pair(server);
    const [aliceSocket, bobSocket] = [await connect(t, server, alice), await connect(t, server, bob)];
    const file = await uploaded(server, alice.token, PNG, 'cat.png');
    await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'look', files: [file.id] } });
    for (const [socket, user] of [[aliceSocket, alice], [bobSocket, bob]] as const) {
      const { files } = await socket.nextOfType('message');
      t.equal(new URL(files[0].url, server.url).searchParams.get('u'), String(user.user.id), `${user.user.username}'s own`);
      t.equal((await download(server, files[0].url)).status, 200);
    }
  });
}
