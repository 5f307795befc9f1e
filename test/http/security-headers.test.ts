import t from 'tap';
import { PNG, upload } from '../helpers/files.js';
import { login, startServer } from '../helpers/server.js';

// The pages load in any site's iframe unless told not to; every answer says what it is.
const server = await startServer(t);
const { app } = server;

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });

/** A CSP as its directives: name → sources. */
function directives(header: unknown): Map<string, string[]> {
  return new Map(
    String(header ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...sources]) => [name!, sources]),
  );
}

t.test('the web client and Swagger UI: a CSP of their own sources, and no framing', async (t) => {
  for (const url of ['/', '/index.html', '/docs', '/docs/', '/docs/static/swagger-ui-bundle.js']) {
    const res = await get(url, { host: 'chat.example:8443' });
    t.equal(res.statusCode, 200, url);
    t.equal(res.headers['x-frame-options'], 'DENY', `${url}: X-Frame-Options`);
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${url}: nosniff`);
    const csp = directives(res.headers['content-security-policy']);
    t.same(csp.get('frame-ancestors'), ["'none'"], `${url}: no page may frame it`);
    t.same(csp.get('default-src'), ["'self'"]);
    t.same(csp.get('script-src'), ["'self'"], 'no inline script');
    t.same(csp.get('object-src'), ["'none'"]);
    t.same(csp.get('connect-src'), ["'self'", 'ws://chat.example:8443', 'wss://chat.example:8443'], 'its own socket, named');
  }
});

t.test('a Host that is not a plain host name is not put into the policy', async (t) => {
  const res = await get('/', { host: 'evil.example; script-src *' });
  t.same(directives(res.headers['content-security-policy']).get('connect-src'), ["'self'"]);
});

t.test('behind a proxy that drops the port from Host, PUBLIC_URL names the socket the page uses', async (t) => {
  const proxied = await startServer(t, { PUBLIC_URL: 'https://chat.example:8443' });
  const res = await proxied.app.inject({ method: 'GET', url: '/', headers: { host: 'chat.example' } });
  t.same(directives(res.headers['content-security-policy']).get('connect-src'), ["'self'", 'ws://chat.example', 'wss://chat.example', 'wss://chat.example:8443']);
});

t.test('the API answers: nosniff and no framing', async (t) => {
  const alice = await login(server, 'headers-alice');
  const res = await get('/v1/me', { authorization: `Bearer ${alice.token}` });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.equal(res.headers['x-frame-options'], 'DENY');
  const refused = await get('/v1/me');
  t.equal(refused.statusCode, 401);
  t.equal(refused.headers['x-content-type-options'], 'nosniff', 'errors too');
});

t.test("a file keeps its own strict policy: nothing runs, and it is sandboxed", async (t) => {
  const alice = await login(server, 'headers-file');
  const { body } = await upload(server, alice.token, PNG, 'cat.png', 'image/png');
  const res = await get(body.url);
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-security-policy'], "default-src 'none'; style-src 'unsafe-inline'; sandbox");
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.equal(res.headers['x-frame-options'], 'DENY');
});

t.test('/docs/static/index.html with a query redirects once, to the page', async (t) => {
  for (const url of ['/docs/static/index.html', '/docs/static/index.html?x', '/docs/static/index.html?a=1&b=/static/index.html']) {
    const res = await get(url);
    t.equal(res.statusCode, 302, url);
    t.equal(res.headers.location, '/docs/', `${url}: to the page`);
    const page = await get(res.headers.location!);
    t.equal(page.statusCode, 200, 'which is served');
    t.match(page.headers['content-type'], /^text\/html/);
  }
});
