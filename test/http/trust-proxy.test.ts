import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../helpers/server.js';

// Behind a proxy, the client's address is the one the proxy saw: the rightmost of X-Forwarded-For
// that no trusted proxy wrote. The leftmost is whatever the client wrote itself.

const login = (server: Awaited<ReturnType<typeof startServer>>, forwardedFor: string, username: string) =>
  server.app.inject({ method: 'POST', url: '/v1/login', headers: { 'x-forwarded-for': forwardedFor }, payload: { username } });

t.test('TRUST_PROXY=true: a client that writes its own X-Forwarded-For does not get past the login limit', async (t) => {
  const server = await startServer(t, { TRUST_PROXY: 'true', RATE_LIMIT_AUTH: '3' });
  const statuses = [];
  // Each request claims another address; the proxy in front appends the one it saw.
  for (let i = 0; i < 6; i++) statuses.push((await login(server, `10.0.0.${i}, 203.0.113.7`, `rotating${i}`)).statusCode);
  t.same(statuses, [200, 200, 200, 429, 429, 429], 'rotating the leftmost address changes nothing (it passed 60 of 60)');
  t.equal((await login(server, '203.0.113.8', 'another')).statusCode, 200, 'another client has its own budget');
});

t.test('TRUST_PROXY takes a hop count, or the proxies by address and range', async (t) => {
  const dataDir = t.testdir();
  const seen = async (env: Record<string, string>, forwardedFor: string) => {
    const app = await buildApp(loadConfig({ DATABASE_URL: 'sqlite::memory:', DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(32), ...env }), { logger: false });
    t.teardown(() => app.close());
    app.get('/ip-probe', { config: { auth: 'public' } }, async (request) => ({ ip: request.ip }));
    return (await app.inject({ method: 'GET', url: '/ip-probe', headers: { 'x-forwarded-for': forwardedFor } })).json().ip;
  };
  t.equal(await seen({ TRUST_PROXY: 'true' }, '6.6.6.6, 198.51.100.1'), '198.51.100.1', 'true: one proxy');
  t.equal(await seen({ TRUST_PROXY: '2' }, '6.6.6.6, 198.51.100.1, 10.0.0.2'), '198.51.100.1', '2: two proxies');
  t.equal(await seen({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }, '6.6.6.6, 198.51.100.1, 10.1.2.3'), '198.51.100.1', 'a list: the rightmost not in it');
  t.equal(await seen({ TRUST_PROXY: 'false' }, '6.6.6.6'), '127.0.0.1', 'false: the socket peer');
  t.throws(() => loadConfig({ TRUST_PROXY: 'yes please' }), /TRUST_PROXY/);
});
