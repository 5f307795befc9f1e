import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { login, request, startServer, type Teardown, type TestServer } from '../helpers/server.js';
import { open } from '../helpers/ws-client.js';
import { TEST_JWT_SECRET } from './support.js';

/** A listening server whose log lines (JSON) are kept, for the reasons it gives. */
async function loggedServer(t: Teardown, env: Record<string, string>): Promise<TestServer & { logs: Record<string, unknown>[] }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-origins-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = loadConfig({ DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir, JWT_SECRET: TEST_JWT_SECRET, ...env });
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = await buildApp(config, { logger: { level: 'info', stream } });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, logs };
}

t.test('by default no other origin may read the API: a page elsewhere gets no CORS grant', async (t) => {
  const server = await startServer(t);
  const alice = await login(server, 'alice');
  const read = await request(server, 'GET', '/v1/chats', { token: alice.token, headers: { origin: 'https://evil.example' } });
  t.equal(read.headers.get('access-control-allow-origin'), null, 'no Access-Control-Allow-Origin');
  const preflight = await fetch(`${server.url}/v1/login`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  t.equal(preflight.headers.get('access-control-allow-origin'), null, 'nor on a preflight');
  await t.rejects(open(t, server.wsUrl, { authorization: `Bearer ${alice.token}`, origin: 'https://evil.example' }), { message: 'upgrade refused: 403' });
  await (await open(t, server.wsUrl, { authorization: `Bearer ${alice.token}`, origin: new URL(server.url).origin })).ping();
});

t.test('CORS_ORIGIN=* allows any origin, when set', async (t) => {
  const server = await startServer(t, { CORS_ORIGIN: '*' });
  const alice = await login(server, 'alice');
  const read = await request(server, 'GET', '/v1/chats', { token: alice.token, headers: { origin: 'https://elsewhere.example' } });
  t.equal(read.headers.get('access-control-allow-origin'), '*');
  await (await open(t, server.wsUrl, { authorization: `Bearer ${alice.token}`, origin: 'https://elsewhere.example' })).ping();
});

t.test('behind a proxy that sets Host without its port, PUBLIC_URL lets the web client\'s socket in', async (t) => {
  // nginx with `proxy_set_header Host $host` on port 8443: Host loses the port the page has.
  const headers = (token: string) => ({ authorization: `Bearer ${token}`, host: 'chat.example', origin: 'https://chat.example:8443' });

  const unset = await loggedServer(t, {});
  const alice = await login(unset, 'alice');
  await t.rejects(open(t, unset.wsUrl, headers(alice.token)), { message: 'upgrade refused: 403' });
  const refusal = unset.logs.find((line) => String(line.msg).startsWith('WebSocket refused'));
  t.match(refusal, { level: 40, origin: 'https://chat.example:8443', host: 'chat.example', msg: /PUBLIC_URL/ }, 'the log says why, and what to set');

  const set = await loggedServer(t, { PUBLIC_URL: 'https://chat.example:8443/' });
  const bob = await login(set, 'bob');
  await (await open(t, set.wsUrl, headers(bob.token))).ping();
  await t.rejects(open(t, set.wsUrl, { ...headers(bob.token), origin: 'https://chat.example:9443' }), { message: 'upgrade refused: 403' }, 'another port is another origin');
});

t.test('PUBLIC_URL must be an http(s) address', async (t) => {
  t.throws(() => loadConfig({ PUBLIC_URL: 'chat.example' }), { message: /PUBLIC_URL must be the http:\/\/ or https:\/\/ address/ });
  t.throws(() => loadConfig({ PUBLIC_URL: 'ftp://chat.example' }), { message: /PUBLIC_URL/ });
  t.equal(loadConfig({ PUBLIC_URL: 'https://Chat.Example:443/app' }).publicOrigin, 'https://chat.example');
});
