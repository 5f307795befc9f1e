import t, { type Test } from 'tap';
import { login, postgresUrl, startServer, type TestServer } from '../helpers/server.js';
import { call, expectError } from './support.js';

// Look-alike names (issue 18): a name that passes for a taken one is taken, on every surface.

const server = await startServer(t);
const PAYPAL_CYRILLIC_A = 'p\u0430ypal';

const register = (username: string, at = '/v1/register') => call(server, 'POST', at, { body: { username, password: 'long enough' } });
const search = async (username: string) =>
  (await call(server, 'GET', `/v1/users?username=${encodeURIComponent(username)}`, { token: (await login(server, 'searcher')).token })).body;

t.test('a look-alike of a taken name is taken: 409, on register and on an open-mode login', async (t) => {
  const paypal = await register('paypal');
  t.equal(paypal.status, 201);
  for (const name of [PAYPAL_CYRILLIC_A, 'ｐａｙｐａｌ', 'paypa1', 'PAYPA\u0406']) {
    const registered = await register(name);
    expectError(t, registered, 409, 'USERNAME_TAKEN');
    const loggedIn = await call(server, 'POST', '/v1/login', { body: { username: name } });
    expectError(t, loggedIn, 409, 'USERNAME_TAKEN');
    t.match(loggedIn.body.error, /looks like an existing one/);
  }
  t.same(await search(PAYPAL_CYRILLIC_A), [], 'no account was made');
  const owner = await call(server, 'POST', '/v1/login', { body: { username: 'PayPal', password: 'long enough' } });
  t.equal(owner.body.user.id, paypal.body.user.id, 'the owner still logs in, in any case');
});

t.test('the compat surfaces refuse look-alikes and invisibles as /v1 does', async (t) => {
  await register('shindensen');
  expectError(t, await call(server, 'POST', '/login', { body: { username: 'shind\u0435nsen' } }), 409, 'USERNAME_TAKEN');
  expectError(t, await register('shind\u0435nsen', '/api/register'), 409, 'USERNAME_TAKEN');
  expectError(t, await call(server, 'POST', '/login', { body: { username: 'a\u034Fb' } }), 400, 'VALIDATION_ERROR', 'username');
  expectError(t, await register('\u3164', '/api/register'), 400, 'VALIDATION_ERROR', 'username');
});

t.test('names with invisible characters, or with no letter or digit, are refused', async (t) => {
  for (const username of ['a\u034Fb', 'a\uFE0Fb', 'a\u180Bb', '\u3164', '\uFFA0', 'pay\u200Dpal', '___', '\u2474']) {
    const loggedIn = await call(server, 'POST', '/v1/login', { body: { username } });
    const registered = await register(username);
    t.test(JSON.stringify(username), async (t) => {
      expectError(t, loggedIn, 400, 'VALIDATION_ERROR', 'username');
      expectError(t, registered, 400, 'VALIDATION_ERROR', 'username');
    });
  }
});

t.test('names in any script and with accents work, and their look-alikes are taken', async (t) => {
  const names: [string, string][] = [
    ['zoë', 'z\u043E\u00EB'], // Cyrillic о
    ['José', 'J\u043Es\u00E9'],
    ['müller', 'rnu\u0308ller'], // r n, and a decomposed ü
    ['エリカ', '\u5DE5リ\u529B'], // the ideographs for "work" and "power"
    ['иван', 'ив\u0061н'], // Latin a
  ];
  for (const [name, lookalike] of names) {
    const res = await call(server, 'POST', '/v1/login', { body: { username: name } });
    t.equal(res.status, 200, `${name} is accepted`);
    t.equal(res.body.user.username, name);
    expectError(t, await call(server, 'POST', '/v1/login', { body: { username: lookalike } }), 409, 'USERNAME_TAKEN');
  }
  for (const name of ['田中', 'ivan']) t.equal((await call(server, 'POST', '/v1/login', { body: { username: name } })).status, 200, `${name} is accepted`);
});

t.test("display names: no bidi controls or invisibles, and not another user's username", async (t) => {
  const owner = await login(server, 'display.owner');
  const other = await login(server, 'display.other');
  const patch = (token: string, display_name: string) => call(server, 'PATCH', '/v1/me', { token, body: { display_name } });
  for (const name of ['evil\u202Egnp.exe', 'a\u2066b', 'pay\u200Bpal', '\u3164']) {
    expectError(t, await patch(other.token, name), 400, 'VALIDATION_ERROR', 'display_name');
  }
  for (const name of ['display.owner', 'Display.Owner', 'display.\u043Ewner']) {
    const res = await patch(other.token, name);
    expectError(t, res, 400, 'VALIDATION_ERROR', 'display_name');
    t.match(res.body.error, /another user's username/);
  }
  t.equal((await call(server, 'GET', '/v1/me', { token: other.token })).body.display_name, null, 'nothing was changed');
  t.equal((await patch(owner.token, 'Display Owner')).status, 200);
  t.equal((await patch(owner.token, 'DISPLAY.OWNER')).body.display_name, 'DISPLAY.OWNER', 'the own username is fine');
  t.equal((await patch(other.token, '\u2764\uFE0F Zoë \u{1F469}\u200D\u{1F4BB}')).status, 200, 'emoji keep their joiners');
});

async function concurrentLookalikes(t: Test, server: TestServer) {
  const names = ['contested', 'c\u043Entested', 'CONTESTED'.replace('O', '\u039F'), 'ｃｏｎｔｅｓｔｅｄ', 'contest\u0435d'];
  const registered = await Promise.all(
    names.map((username) => call(server, 'POST', '/v1/register', { body: { username, password: 'long enough' } })),
  );
  t.same(registered.map((r) => r.status).sort(), [201, 409, 409, 409, 409], 'one registration wins');
  const loggedIn = await Promise.all(names.map((username) => call(server, 'POST', '/v1/login', { body: { username: `x${username}` } })));
  t.same(loggedIn.map((r) => r.status).sort(), [200, 409, 409, 409, 409], 'one open-mode login makes its account');
}

t.test('concurrent look-alikes: exactly one is made', async (t) => concurrentLookalikes(t, await startServer(t)));

if (postgresUrl) {
  t.test('concurrent look-alikes on PostgreSQL', async (t) => concurrentLookalikes(t, await startServer(t, {}, { postgres: true })));
}
