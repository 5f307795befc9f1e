import type { FastifyRequest } from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { WebSocket } from 'ws';
import { onSocketError } from '../../src/gateway/connection.js';
import { spawnServer } from '../helpers/child-server.js';
import { request, type TestServer } from '../helpers/server.js';
import { open } from '../helpers/ws-client.js';

// A client's broken frames are its own doing: the log notes them, and keeps error for the server's.

t.test('a frame over the limit (1009) and text that is not UTF-8 (1007) are logged at info, without a stack', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-ws-errors-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = await spawnServer({
    DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: 'protocol-errors-secret-protocol-errors-01',
    WS_MAX_FRAME_BYTES: '2048',
  });
  t.teardown(() => child.process.kill('SIGKILL'));
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;
  const { body } = await request(server, 'POST', '/v1/register', { body: { username: 'rude', password: 'a long enough password' } });
  const url = `${child.wsUrl}?token=${encodeURIComponent(body.token)}`;

  const big = await open(t, url);
  big.send({ type: 'ping', padding: 'x'.repeat(3000) });
  t.equal((await big.closed).code, 1009);
  const garbled = await open(t, url);
  garbled.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  t.equal((await garbled.closed).code, 1007);

  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0);
  const entries = child.logs.flatMap((line) => (line.startsWith('{') ? [JSON.parse(line)] : []));
  const noted = entries.filter((e) => e.msg === 'a client broke the WebSocket protocol');
  t.same(
    noted.map((e) => [e.level, e.code]),
    [
      [30, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
      [30, 'WS_ERR_INVALID_UTF8'],
    ],
    'both at info, with the reason',
  );
  t.notMatch(child.logs.join('\n'), /"stack"/, 'no stack in the log');
  t.same(
    entries.filter((e) => e.level >= 50),
    [],
    'nothing at error',
  );
});

t.test("any other socket error is the server's: logged at error, and the socket ends", async (t) => {
  const logged: [string, unknown][] = [];
  const log = { info: (obj: unknown) => logged.push(['info', obj]), error: (obj: unknown) => logged.push(['error', obj]) };
  let terminated = 0;
  const socket = { terminate: () => terminated++ } as unknown as WebSocket;
  const err = new Error('the handler fell over');
  onSocketError(err, socket, { log } as unknown as FastifyRequest);
  t.same(logged, [['error', { err }]]);
  t.equal(terminated, 1);
});
