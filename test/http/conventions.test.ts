import t from 'tap';
import { login, pair, request, startServer } from '../helpers/server.js';
import { call, expectError } from './support.js';
import { VERSION } from '../../src/version.js';

const server = await startServer(t);
const { alice, chatId } = await pair(server);

/** Every route that needs a bearer token, with a body it would otherwise accept. */
const PROTECTED: [string, string, unknown?][] = [
  ['GET', '/v1/me'],
  ['PATCH', '/v1/me', { bio: 'x' }],
  ['PUT', '/v1/me/password', { password: 'long enough' }],
  ['GET', '/v1/users?username=a'],
  ['GET', '/v1/users/1'],
  ['POST', '/v1/chats/initiate', { target_username: 'bob' }],
  ['POST', '/v1/chats', { name: 'g', members: [] }],
  ['GET', '/v1/chats'],
  ['GET', '/v1/chats/1'],
  ['PATCH', '/v1/chats/1', { name: 'g' }],
  ['POST', '/v1/chats/1/members', { user_id: 1 }],
  ['DELETE', '/v1/chats/1/members/1'],
  ['GET', '/v1/chats/1/messages'],
  ['POST', '/v1/chats/1/messages', { content: 'hi' }],
  ['PATCH', '/v1/chats/1/messages/1', { content: 'hi' }],
  ['DELETE', '/v1/chats/1/messages/1'],
  ['POST', '/v1/chats/1/read', { message_id: 1 }],
];

t.test('every protected route answers 401 {error, code} without a token or with a bad one', async (t) => {
  for (const [method, route, body] of PROTECTED) {
    const none = await call(server, method, route, { body });
    const bad = await call(server, method, route, { body, token: 'not-a-jwt' });
    t.test(`${method} ${route}`, async (t) => {
      expectError(t, none, 401);
      expectError(t, bad, 401);
    });
  }
  // The token is checked before the body is read.
  const badJson = await call(server, 'POST', '/v1/chats/initiate', { body: '{oops' });
  expectError(t, badJson, 401);
  t.equal((await call(server, 'GET', '/v1/chats', { token: alice.token })).body.length, 1, 'nothing was done without a token');
});

t.test('public routes need no token', async (t) => {
  t.equal((await call(server, 'POST', '/v1/login', { body: { username: 'publicly' } })).status, 200);
  t.equal((await call(server, 'POST', '/v1/register', { body: { username: 'publicreg', password: 'long enough' } })).status, 201);
  t.equal((await call(server, 'GET', '/healthz')).status, 200);
  const docs = await fetch(`${server.url}/docs/json`);
  t.equal(docs.status, 200, '/docs');
  await docs.arrayBuffer();
  const page = await fetch(`${server.url}/`);
  t.equal(page.status, 200, "the web client's page");
  t.match(page.headers.get('content-type'), /text\/html/);
  await page.arrayBuffer();
});

t.test('GET /healthz: 200 {status: "ok", version}', async (t) => {
  const res = await call(server, 'GET', '/healthz');
  t.equal(res.status, 200);
  t.same(res.body, { status: 'ok', version: VERSION });
  t.match(VERSION, /^\d+\.\d+\.\d+$/, 'the version is package.json\'s');
  t.match(res.headers.get('content-type'), /^application\/json/);
});

t.test('a body that is not JSON: 400 INVALID_JSON', async (t) => {
  const bodies = ['{"content": ', 'not json', "{'content': 'single quotes'}"];
  for (const body of bodies) {
    const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body });
    expectError(t, res, 400, 'INVALID_JSON');
  }
  expectError(t, await call(server, 'POST', '/v1/login', { body: '{"username":' }), 400, 'INVALID_JSON');
  const empty = await call(server, 'POST', `/v1/chats/${chatId}/messages`, {
    token: alice.token,
    body: '',
    headers: { 'content-type': 'application/json' },
  });
  expectError(t, empty, 400, 'VALIDATION_ERROR', 'body');
  t.same((await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token })).body, [], 'nothing stored');
});

t.test('Content-Type: application/json with no body is no body (clients that always send it)', async (t) => {
  const res = await call(server, 'GET', '/v1/me', { token: alice.token, headers: { 'content-type': 'application/json' } });
  t.equal(res.status, 200);
  const group = await call(server, 'POST', '/v1/chats', { token: alice.token, body: { name: 'leave me', members: [] } });
  const left = await call(server, 'DELETE', `/v1/chats/${group.body.id}/members/${alice.user.id}`, {
    token: alice.token,
    headers: { 'content-type': 'application/json' },
  });
  t.equal(left.status, 204);
});

t.test('JSON that is not an object: 400 VALIDATION_ERROR', async (t) => {
  for (const body of ['[1, 2]', '"text"', '42', 'null']) {
    const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body });
    expectError(t, res, 400, 'VALIDATION_ERROR');
  }
  const missing = await call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token });
  expectError(t, missing, 400);
});

t.test('another content type: 415', async (t) => {
  const types = ['text/plain', 'application/x-www-form-urlencoded', 'application/xml'];
  for (const type of types) {
    const res = await call(server, 'POST', `/v1/chats/${chatId}/messages`, {
      token: alice.token,
      body: JSON.stringify({ content: 'smuggled' }),
      headers: { 'content-type': type },
    });
    t.test(type, async (t) => expectError(t, res, 415));
  }
  const login = await call(server, 'POST', '/v1/login', { body: 'username=mallory', headers: { 'content-type': 'text/plain' } });
  expectError(t, login, 415);
  t.same((await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token })).body, [], 'nothing stored');
  const charset = await call(server, 'POST', `/v1/chats/${chatId}/messages`, {
    token: alice.token,
    body: { content: 'with a charset' },
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
  t.equal(charset.status, 201, 'application/json with a charset is JSON');
});

t.test('unknown routes: 404 {error, code}', async (t) => {
  for (const [method, route] of [
    ['GET', '/nope'],
    ['POST', '/nope'],
    ['GET', '/v1/chats/1/nope'],
    ['GET', '/api/v2/chats'],
    ['PUT', '/v1/chats'],
  ] as const) {
    const anonymous = await call(server, method, route);
    const withToken = await call(server, method, route, { token: alice.token });
    t.test(`${method} ${route}`, async (t) => {
      expectError(t, anonymous, 404);
      expectError(t, withToken, 404);
    });
  }
});

t.test('a URL that cannot be decoded: 400 {error, code}', async (t) => {
  for (const route of ['/v1/chats/%', '/v1/users/%zz', `/v1/chats/${chatId}/messages?limit=%`]) {
    const res = await call(server, 'GET', route, { token: alice.token });
    t.test(route, async (t) => expectError(t, res, 400));
  }
});

t.test('the answers are JSON with times in RFC 3339 UTC with milliseconds and integer ids', async (t) => {
  const res = await call(server, 'GET', '/v1/chats', { token: alice.token });
  t.match(res.headers.get('content-type'), /^application\/json/);
  const error = await call(server, 'GET', '/v1/chats/999999', { token: alice.token });
  t.match(error.headers.get('content-type'), /^application\/json/);
  t.ok(Number.isInteger(res.body[0].id));
});

t.test('a body over the limit: 413', async (t) => {
  const small = await startServer(t, { BODY_LIMIT_BYTES: '2048' });
  const session = await login(small, 'bulky');
  const res = await call(small, 'PATCH', '/v1/me', { token: session.token, body: { bio: 'b'.repeat(3000) } });
  expectError(t, res, 413);
  const fine = await call(small, 'PATCH', '/v1/me', { token: session.token, body: { bio: 'b'.repeat(400) } });
  t.equal(fine.status, 200);
});

t.test('RATE_LIMIT_AUTH: the third /login from one address is 429 with Retry-After', async (t) => {
  const limited = await startServer(t, { RATE_LIMIT_AUTH: '2', RATE_LIMIT_AUTH_WINDOW_MS: '600000' });
  t.equal((await call(limited, 'POST', '/v1/login', { body: { username: 'one' } })).status, 200);
  t.equal((await call(limited, 'POST', '/v1/login', { body: { username: 'two' } })).status, 200);
  const third = await call(limited, 'POST', '/v1/login', { body: { username: 'three' } });
  expectError(t, third, 429, 'RATE_LIMITED');
  t.match(third.headers.get('retry-after'), /^\d+$/, 'Retry-After in seconds');
  t.ok(Number(third.headers.get('retry-after')) >= 1);
  t.equal((await call(limited, 'GET', '/healthz')).status, 200, 'health checks are not limited');
  const token = (await call(limited, 'POST', '/v1/login', { body: { username: 'one' } })).body?.token;
  t.equal(token, undefined, 'still limited');
  const register = await call(limited, 'POST', '/v1/register', { body: { username: 'four', password: 'long enough' } });
  expectError(t, register, 429, 'RATE_LIMITED');
});

t.test('RATE_LIMIT_API: the other routes share a budget of their own', async (t) => {
  const limited = await startServer(t, { RATE_LIMIT_API: '3', RATE_LIMIT_API_WINDOW_MS: '600000' });
  const session = await login(limited, 'busy');
  for (let i = 0; i < 3; i++) t.equal((await call(limited, 'GET', '/v1/me', { token: session.token })).status, 200);
  const over = await call(limited, 'GET', '/v1/me', { token: session.token });
  expectError(t, over, 429, 'RATE_LIMITED');
  t.match(over.headers.get('retry-after'), /^\d+$/);
  expectError(t, await call(limited, 'GET', '/v1/chats', { token: session.token }), 429, 'RATE_LIMITED');
  t.equal((await call(limited, 'POST', '/v1/login', { body: { username: 'busy' } })).status, 200, 'logins are counted apart');
});

t.test('a URL that cannot be decoded is 400 BAD_URL', async (t) => {
  const server = await startServer(t);
  const res = await request(server, 'GET', '/v1/chats/%');
  t.equal(res.status, 400);
  t.same(res.body, { error: 'The URL could not be decoded', code: 'BAD_URL' });
});

t.test('a 500 carries no stack trace and no SQL', async (t) => {
  const broken = await startServer(t);
  const session = await login(broken, 'unlucky');
  await request(broken, 'GET', '/v1/me', { token: session.token });
  // The database goes away under a running server.
  await broken.app.db.kysely.destroy();
  const res = await request(broken, 'GET', '/v1/chats', { token: session.token });
  t.equal(res.status, 500);
  t.match(res.body, { error: String, code: /^[A-Z_]+$/ });
  t.same(Object.keys(res.body).sort(), ['code', 'error']);
  t.notMatch(res.body.error, /select|from|chat_members|\bat\b|\.ts|\.js|destroyed/i, 'a sentence, no internals');
  const health = await request(broken, 'GET', '/healthz');
  t.not(health.status, 200, 'health reports the database down');
  t.match(health.body, { error: String, code: String });
});
