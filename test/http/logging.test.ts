import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { spawnServer } from '../helpers/child-server.js';
import { uploaded } from '../helpers/files.js';
import { request, type TestServer } from '../helpers/server.js';
import { open } from '../helpers/ws-client.js';

// The real server at its most talkative: no token, password, `?token=` or file url signature may reach its log.

t.test('tokens and passwords never appear in the log, even at trace level', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-logs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = await spawnServer({
    DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: 'logging-test-secret-logging-test-secret-01',
    LOG_LEVEL: 'trace',
  });
  t.teardown(() => child.process.kill('SIGKILL'));
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;

  const password = 'correct horse battery staple';
  const registered = await request(server, 'POST', '/v1/register', { body: { username: 'quiet', password } });
  t.equal(registered.status, 201);
  const token: string = registered.body.token;
  await request(server, 'POST', '/v1/login', { body: { username: 'quiet', password: 'wrong but secret-ish' } });
  await request(server, 'PUT', '/v1/me/password', { token, body: { password: 'another long secret', current_password: password } });
  await request(server, 'GET', '/v1/me', { token });
  // @fastify/multipart logs the request's headers at trace level.
  await uploaded(server, token, 'hello', 'hello.txt');
  const socket = await open(t, `${child.wsUrl}?token=${encodeURIComponent(token)}`);
  await socket.ping();
  await socket.close();
  await open(t, `${child.wsUrl}?token=not-a-token`).catch(() => {});
  // A parameter name the query parser decodes: redacted as the parser reads it.
  const encoded = await open(t, `${child.url.replace('http', 'ws')}/ws?%74oken=${encodeURIComponent(token)}`).catch(() => null);
  await encoded?.close();
  const sig = 'a-file-url-signature';
  await request(server, 'GET', `/v1/files/1/cat.png?expires=1796576700&u=1&sig=${sig}`);

  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0);
  const log = child.logs.join('\n');
  t.ok(log.includes('/v1/ws?token=[redacted]'), 'the WebSocket URL is logged with its token redacted');
  t.ok(log.includes('/ws?%74oken=[redacted]'), 'also where the name is percent-encoded');
  t.ok(log.includes('/v1/files/1/cat.png?expires=1796576700&u=1&sig=[redacted]'), 'a file url is logged with its signature redacted');
  for (const secret of [token, password, 'another long secret', 'wrong but secret-ish', 'not-a-token', sig]) {
    t.notOk(log.includes(secret), `${secret.slice(0, 12)}… is not in the log`);
  }
  t.notMatch(log, /authorization/i, 'no Authorization header');
});
