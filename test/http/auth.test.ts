import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { login, startServer } from '../helpers/server.js';
import { call, decodeClaims, expectError, RFC3339_MS, seconds, signToken } from './support.js';

// One server for the open-mode tests: each uses usernames of its own.
const server = await startServer(t, { JWT_TTL: '1h' });

const USER_KEYS = ['id', 'username', 'display_name', 'bio', 'created_at'];

t.test('POST /login with a new username creates the account; again, logs in to it', async (t) => {
  const first = await call(server, 'POST', '/v1/login', { body: { username: 'newcomer' } });
  t.equal(first.status, 200);
  t.match(first.body, { token: String, user: { id: Number, username: 'newcomer', display_name: null, bio: null } });
  t.match(first.body.user.created_at, RFC3339_MS);
  for (const key of USER_KEYS) t.ok(key in first.body.user, `user has ${key}`);
  t.ok(Number.isInteger(first.body.user.id), 'the id is an integer');

  const again = await call(server, 'POST', '/v1/login', { body: { username: 'newcomer' } });
  t.equal(again.status, 200);
  t.equal(again.body.user.id, first.body.user.id, 'the same account');
  t.equal(again.body.user.created_at, first.body.user.created_at);

  const me = await call(server, 'GET', '/v1/me', { token: again.body.token });
  t.equal(me.status, 200);
  t.match(me.body, { id: first.body.user.id, username: 'newcomer' });
});

t.test('usernames are one account without regard to case, shown as first written', async (t) => {
  const upper = await login(server, 'Alice');
  const lower = await login(server, 'alice');
  const shout = await login(server, 'ALICE');
  t.equal(lower.user.id, upper.user.id);
  t.equal(shout.user.id, upper.user.id);
  t.equal(lower.user.username, 'Alice', 'shown as first written');
  const me = await call(server, 'GET', '/v1/me', { token: lower.token });
  t.equal(me.body.username, 'Alice');
  const register = await call(server, 'POST', '/v1/register', { body: { username: 'aLiCe', password: 'long enough' } });
  expectError(t, register, 409, 'USERNAME_TAKEN');
});

t.test('a decomposed accent is the same name as the composed one', async (t) => {
  const composed = await login(server, 'Ren\u00e9');
  const decomposed = await login(server, 'rene\u0301');
  t.equal(decomposed.user.id, composed.user.id);
  t.equal(decomposed.user.username, 'Ren\u00e9');
});

t.test('usernames: letters, digits, _ . - and 1 to 32 characters', async (t) => {
  for (const username of ['a', 'x'.repeat(32), 'dot.dash-under_score', 'Zoë', '12345']) {
    const res = await call(server, 'POST', '/v1/login', { body: { username } });
    t.equal(res.status, 200, `${JSON.stringify(username)} is accepted`);
    t.equal(res.body.user.username, username);
  }
  const invalid: unknown[] = ['', 'x'.repeat(33), 'two words', 'bang!', ' padded', 'semi;colon', 'a/b', 42, null];
  for (const username of invalid) {
    const res = await call(server, 'POST', '/v1/login', { body: { username } });
    t.test(`${JSON.stringify(username)} is refused`, async (t) => expectError(t, res, 400, 'VALIDATION_ERROR', 'username'));
  }
  expectError(t, await call(server, 'POST', '/v1/login', { body: {} }), 400, 'VALIDATION_ERROR', 'username');
  expectError(t, await call(server, 'POST', '/v1/register', { body: { username: 'a b', password: 'long enough' } }), 400, 'VALIDATION_ERROR', 'username');
  const search = await call(server, 'GET', '/v1/users?username=two', { token: (await login(server, 'searcher')).token });
  t.same(search.body, [], 'no account was made for a refused name');
});

t.test('twenty concurrent logins of a new name make one account', async (t) => {
  const answers = await Promise.all(Array.from({ length: 20 }, () => call(server, 'POST', '/v1/login', { body: { username: 'Racer' } })));
  t.same(new Set(answers.map((a) => a.status)), new Set([200]));
  t.equal(new Set(answers.map((a) => a.body.user.id)).size, 1);
});

t.test('POST /register: 201 {token, user}, then the password logs in', async (t) => {
  const res = await call(server, 'POST', '/v1/register', { body: { username: 'Registered', password: 'correct horse' } });
  t.equal(res.status, 201);
  t.match(res.body, { token: String, user: { id: Number, username: 'Registered', display_name: null, bio: null } });
  for (const key of USER_KEYS) t.ok(key in res.body.user, `user has ${key}`);
  t.notOk('password' in res.body.user || 'password_hash' in res.body.user, 'no password in the user');
  const me = await call(server, 'GET', '/v1/me', { token: res.body.token });
  t.equal(me.body.id, res.body.user.id);

  const back = await call(server, 'POST', '/v1/login', { body: { username: 'registered', password: 'correct horse' } });
  t.equal(back.status, 200);
  t.equal(back.body.user.id, res.body.user.id);
});

t.test('POST /register: 409 USERNAME_TAKEN for any account of that name', async (t) => {
  await login(server, 'openaccount');
  const res = await call(server, 'POST', '/v1/register', { body: { username: 'OpenAccount', password: 'long enough' } });
  expectError(t, res, 409, 'USERNAME_TAKEN');
  const twice = await call(server, 'POST', '/v1/register', { body: { username: 'Registered', password: 'another one' } });
  expectError(t, twice, 409, 'USERNAME_TAKEN');
});

t.test('POST /register: concurrent registrations of one name make one account', async (t) => {
  const answers = await Promise.all(
    Array.from({ length: 4 }, () => call(server, 'POST', '/v1/register', { body: { username: 'contested', password: 'long enough' } })),
  );
  t.same(answers.map((a) => a.status).sort(), [201, 409, 409, 409]);
});

t.test('POST /register: the password is 8 to 256 characters', async (t) => {
  t.equal((await call(server, 'POST', '/v1/register', { body: { username: 'eight', password: '12345678' } })).status, 201);
  t.equal((await call(server, 'POST', '/v1/register', { body: { username: 'longest', password: 'p'.repeat(256) } })).status, 201);
  const cases: [string, unknown][] = [
    ['seven', '1234567'],
    ['toolong', 'p'.repeat(257)],
    ['numeric', 12345678],
    ['empty', ''],
  ];
  for (const [username, password] of cases) {
    const res = await call(server, 'POST', '/v1/register', { body: { username, password } });
    expectError(t, res, 400, 'VALIDATION_ERROR', 'password');
  }
  expectError(t, await call(server, 'POST', '/v1/register', { body: { username: 'nopassword' } }), 400, 'VALIDATION_ERROR', 'password');
  const viewer = await login(server, 'passwordviewer');
  const search = await call(server, 'GET', '/v1/users?username=seven', { token: viewer.token });
  t.same(search.body, [], 'a refused registration made no account');
});

t.test('POST /login to a password account: without or with a wrong password, 401', async (t) => {
  await call(server, 'POST', '/v1/register', { body: { username: 'guarded', password: 'the right one' } });
  const none = await call(server, 'POST', '/v1/login', { body: { username: 'guarded' } });
  expectError(t, none, 401);
  t.notOk('token' in (none.body ?? {}), 'no token');
  const wrong = await call(server, 'POST', '/v1/login', { body: { username: 'Guarded', password: 'the wrong one' } });
  expectError(t, wrong, 401);
  t.notOk('token' in (wrong.body ?? {}), 'no token');
  const right = await call(server, 'POST', '/v1/login', { body: { username: 'GUARDED', password: 'the right one' } });
  t.equal(right.status, 200);
  t.equal(right.body.user.username, 'guarded');
});

t.test('PUT /me/password claims a username-only account', async (t) => {
  const session = await login(server, 'claimer');
  const set = await call(server, 'PUT', '/v1/me/password', { token: session.token, body: { password: 'my new password' } });
  t.equal(set.status, 204);
  t.equal(set.body, null, 'no body');
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'claimer' } }), 401);
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'claimer', password: 'not it at all' } }), 401);
  const back = await call(server, 'POST', '/v1/login', { body: { username: 'claimer', password: 'my new password' } });
  t.equal(back.status, 200);
  t.equal(back.body.user.id, session.user.id, 'the same account');
});

t.test('PUT /me/password changes a password only with current_password', async (t) => {
  const { body: session } = await call(server, 'POST', '/v1/register', { body: { username: 'changer', password: 'first password' } });
  const missing = await call(server, 'PUT', '/v1/me/password', { token: session.token, body: { password: 'second password' } });
  expectError(t, missing, 400, 'VALIDATION_ERROR', 'current_password');
  const wrong = await call(server, 'PUT', '/v1/me/password', {
    token: session.token,
    body: { password: 'second password', current_password: 'not the first' },
  });
  expectError(t, wrong, 403);
  const still = await call(server, 'POST', '/v1/login', { body: { username: 'changer', password: 'first password' } });
  t.equal(still.status, 200, 'refused changes left the password alone');

  const changed = await call(server, 'PUT', '/v1/me/password', {
    token: session.token,
    body: { password: 'second password', current_password: 'first password' },
  });
  t.equal(changed.status, 204);
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'changer', password: 'first password' } }), 401);
  t.equal((await call(server, 'POST', '/v1/login', { body: { username: 'changer', password: 'second password' } })).status, 200);
});

t.test('PUT /me/password: the new password is 8 to 256 characters', async (t) => {
  const session = await login(server, 'shortpass');
  for (const password of ['1234567', 'p'.repeat(257), 12345678]) {
    const res = await call(server, 'PUT', '/v1/me/password', { token: session.token, body: { password } });
    expectError(t, res, 400, 'VALIDATION_ERROR', 'password');
  }
  expectError(t, await call(server, 'PUT', '/v1/me/password', { token: session.token, body: {} }), 400, 'VALIDATION_ERROR', 'password');
  t.equal((await call(server, 'POST', '/v1/login', { body: { username: 'shortpass' } })).status, 200, 'still username-only');
});

t.test('the token carries sub (the id as a string), user_id, username and exp', async (t) => {
  const session = await login(server, 'Claimant');
  const claims = decodeClaims(session.token);
  t.equal(claims.sub, String(session.user.id));
  t.equal(typeof claims.sub, 'string');
  t.equal(claims.user_id, session.user.id);
  t.equal(claims.username, 'Claimant');
  t.type(claims.exp, 'number');
  t.type(claims.iat, 'number');
  t.equal((claims.exp as number) - (claims.iat as number), 3600, 'JWT_TTL=1h');
  t.ok((claims.exp as number) > seconds(), 'expires in the future');
  const registered = await call(server, 'POST', '/v1/register', { body: { username: 'claimsreg', password: 'long enough' } });
  t.match(decodeClaims(registered.body.token), { sub: String(registered.body.user.id), user_id: registered.body.user.id, username: 'claimsreg' });
});

t.test('bad tokens are refused with 401 {error, code}', async (t) => {
  const session = await login(server, 'holder');
  const [header, , signature] = session.token.split('.');
  const tampered = `${header}.${Buffer.from(JSON.stringify({ ...decodeClaims(session.token), user_id: 1, sub: '1' })).toString('base64url')}.${signature}`;
  const cases: [string, Record<string, string>][] = [
    ['no header', {}],
    ['a malformed token', { authorization: 'Bearer not.a.token' }],
    ['garbage', { authorization: 'Bearer garbage' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
    ['another scheme', { authorization: `Basic ${Buffer.from('holder:x').toString('base64')}` }],
    ['a token without the scheme', { authorization: session.token }],
    ['a tampered payload', { authorization: `Bearer ${tampered}` }],
    ['another secret', { authorization: `Bearer ${signToken(decodeClaims(session.token), 'some-other-secret-of-enough-length!!')}` }],
    ['an expired token', { authorization: `Bearer ${signToken({ ...decodeClaims(session.token), iat: seconds() - 7200, exp: seconds() - 3600 })}` }],
    ['an unknown account', { authorization: `Bearer ${signToken({ sub: '999999', user_id: 999999, username: 'ghost', iat: seconds(), exp: seconds() + 600 })}` }],
    ['no user_id', { authorization: `Bearer ${signToken({ sub: String(session.user.id), username: 'holder', iat: seconds(), exp: seconds() + 600 })}` }],
    ['not valid before an hour from now', { authorization: `Bearer ${signToken({ ...decodeClaims(session.token), nbf: seconds() + 3600 })}` }],
    // Algorithms that are not the server's (these answered 500).
    ...['RS256', 'ES256', 'PS256', 'EdDSA', 'none'].map((alg): [string, Record<string, string>] => {
      const header = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
      return [`alg ${alg}`, { authorization: `Bearer ${header}.${session.token.split('.')[1]}.${signature}` }];
    }),
  ];
  for (const [name, headers] of cases) {
    const res = await call(server, 'GET', '/v1/me', { headers });
    t.test(name, async (t) => expectError(t, res, 401));
  }
  const good = await call(server, 'GET', '/v1/me', { headers: { authorization: `Bearer ${signToken(decodeClaims(session.token))}` } });
  t.equal(good.status, 200, 'a token the server signed itself is accepted');
});

t.test('AUTH_MODE=password', async (t) => {
  const strict = await startServer(t, { AUTH_MODE: 'password' });

  const open = await call(strict, 'POST', '/v1/login', { body: { username: 'walkin' } });
  expectError(t, open, 401);
  const guess = await call(strict, 'POST', '/v1/login', { body: { username: 'walkin', password: 'any password' } });
  expectError(t, guess, 401);

  const registered = await call(strict, 'POST', '/v1/register', { body: { username: 'walkin', password: 'a real password' } });
  t.equal(registered.status, 201, 'the refused logins created no account');
  expectError(t, await call(strict, 'POST', '/v1/login', { body: { username: 'walkin' } }), 401);
  expectError(t, await call(strict, 'POST', '/v1/login', { body: { username: 'walkin', password: 'wrong password' } }), 401);
  const right = await call(strict, 'POST', '/v1/login', { body: { username: 'WALKIN', password: 'a real password' } });
  t.equal(right.status, 200);
  t.equal(right.body.user.id, registered.body.user.id);

  const search = await call(strict, 'GET', '/v1/users', { token: right.body.token });
  t.same(search.body.map((u: { username: string }) => u.username), ['walkin'], 'only the registered account exists');
});

t.test('AUTH_MODE=password refuses the username-only accounts made before', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-auth-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir };
  const open = await startServer(t, env);
  const before = await login(open, 'oldtimer');
  await open.app.close();

  const strict = await startServer(t, { ...env, AUTH_MODE: 'password' });
  expectError(t, await call(strict, 'POST', '/v1/login', { body: { username: 'oldtimer' } }), 401);
  expectError(t, await call(strict, 'POST', '/v1/login', { body: { username: 'oldtimer', password: 'whatever it is' } }), 401);
  const set = await call(strict, 'PUT', '/v1/me/password', { token: before.token, body: { password: 'claimed at last' } });
  t.equal(set.status, 204, 'a token from before can still claim the account');
  const back = await call(strict, 'POST', '/v1/login', { body: { username: 'oldtimer', password: 'claimed at last' } });
  t.equal(back.status, 200);
  t.equal(back.body.user.id, before.user.id);
});
