import t from 'tap';
import { createInvites } from '../../src/admin/commands.js';
import { login, request, startServer, type TestServer } from '../helpers/server.js';
import { call, expectError } from './support.js';

const newInvite = async (server: TestServer, expiresInSeconds: number | null = null) =>
  (await createInvites(server.app.db, 1, expiresInSeconds)).lines[0]!;

t.test('GET /v1/server tells a client how to log in and sign up', async (t) => {
  const open = await startServer(t);
  const res = await call(open, 'GET', '/v1/server');
  t.equal(res.status, 200);
  t.same(
    res.body,
    { auth_mode: 'open', registration: 'open', password_min_length: 8, max_upload_bytes: 10 * 1024 * 1024, max_files_per_message: 10 },
    'exactly these keys',
  );
  const strict = await startServer(t, { AUTH_MODE: 'password', REGISTRATION: 'invite', MAX_UPLOAD_BYTES: '1000' });
  t.same((await call(strict, 'GET', '/v1/server')).body, {
    auth_mode: 'password',
    registration: 'invite',
    password_min_length: 8,
    max_upload_bytes: 1000,
    max_files_per_message: 10,
  });
});

t.test('REGISTRATION=closed: no surface makes an account; existing ones log in', async (t) => {
  const server = await startServer(t, { REGISTRATION: 'closed' });
  await server.app.users.create('alice', null);
  expectError(t, await call(server, 'POST', '/v1/register', { body: { username: 'eve', password: 'long enough pw' } }), 403, 'REGISTRATION_CLOSED');
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'eve' } }), 403, 'REGISTRATION_CLOSED');
  expectError(t, await call(server, 'POST', '/login', { body: { username: 'eve' } }), 403, 'REGISTRATION_CLOSED');
  expectError(t, await call(server, 'POST', '/api/register', { body: { username: 'eve', password: 'long enough pw' } }), 403, 'REGISTRATION_CLOSED');
  t.notOk(await server.app.users.byUsername('eve'), 'no account was made');
  t.equal((await call(server, 'POST', '/v1/login', { body: { username: 'alice' } })).status, 200, 'an existing account logs in');
});

t.test('REGISTRATION=invite: a one-time code makes one account', async (t) => {
  const server = await startServer(t, { REGISTRATION: 'invite' });
  const register = (username: string, invite?: string) =>
    call(server, 'POST', '/v1/register', { body: { username, password: 'long enough pw', ...(invite !== undefined && { invite }) } });

  expectError(t, await register('eve'), 403, 'INVITE_REQUIRED');
  expectError(t, await register('eve', 'AAAA-BBBB-CCCC-DDDD'), 403, 'INVITE_INVALID');
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'eve' } }), 403, 'INVITE_REQUIRED');
  expectError(t, await call(server, 'POST', '/api/register', { body: { username: 'eve', password: 'long enough pw' } }), 403, 'INVITE_REQUIRED');

  const code = await newInvite(server);
  t.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/, 'a code a person can type');
  const made = await register('frank', code.toLowerCase().replace(/-/g, ''));
  t.equal(made.status, 201, 'any case, dashes or not');
  expectError(t, await register('grace', code), 403, 'INVITE_INVALID');
  const row = await server.app.db.kysely.selectFrom('invites').selectAll().executeTakeFirstOrThrow();
  t.equal(row.used_by, made.body.user.id, 'the code records who used it');
  t.notMatch(row.code_hash, code.replace(/-/g, ''), 'the code itself is not stored');

  // A name that is taken leaves the code unused.
  const second = await newInvite(server);
  expectError(t, await register('frank', second), 409, 'USERNAME_TAKEN');
  t.equal((await register('heidi', second)).status, 201);

  // Open mode makes accounts at login: with a code.
  const third = await newInvite(server);
  const viaLogin = await call(server, 'POST', '/v1/login', { body: { username: 'ivan', invite: third } });
  t.equal(viaLogin.status, 200);
  t.equal((await call(server, 'POST', '/v1/login', { body: { username: 'ivan' } })).status, 200, 'and the account logs in without one after');

  const expired = await newInvite(server, -1);
  expectError(t, await register('judy', expired), 403, 'INVITE_INVALID');
});

t.test('REGISTRATION=invite: two sign-ups racing with one code make one account', async (t) => {
  const server = await startServer(t, { REGISTRATION: 'invite' });
  const code = await newInvite(server);
  const results = await Promise.all(
    ['r1', 'r2', 'r3', 'r4', 'r5'].map((username) => call(server, 'POST', '/v1/register', { body: { username, password: 'long enough pw', invite: code } })),
  );
  t.same(results.map((r) => r.status).sort(), [201, 403, 403, 403, 403]);
});

t.test('password mode: unknown names, accounts without a password and wrong passwords all answer alike', async (t) => {
  const server = await startServer(t, { AUTH_MODE: 'password' });
  await server.app.users.create('nopass', null);
  await call(server, 'POST', '/v1/register', { body: { username: 'haspass', password: 'long enough pw' } });
  for (const username of ['ghost', 'nopass', 'haspass']) {
    const without = await call(server, 'POST', '/v1/login', { body: { username } });
    expectError(t, without, 401, 'PASSWORD_REQUIRED');
    const wrong = await call(server, 'POST', '/v1/login', { body: { username, password: 'not the password' } });
    expectError(t, wrong, 401, 'INVALID_CREDENTIALS');
    t.equal(wrong.body.error, 'Wrong username or password', `${username}: the same sentence`);
  }
});

t.test('every password check counts against the account, from any address; unknown names too', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_PASSWORD: '3', RATE_LIMIT_PASSWORD_WINDOW_MS: '60000', AUTH_MODE: 'password' });
  await call(server, 'POST', '/v1/register', { body: { username: 'target', password: 'the right password' } });
  for (let i = 0; i < 3; i++) {
    expectError(t, await call(server, 'POST', '/api/login', { body: { username: 'TARGET', password: `guess ${i}` } }), 401, 'INVALID_CREDENTIALS');
  }
  const limited = await call(server, 'POST', '/v1/login', { body: { username: 'target', password: 'the right password' } });
  expectError(t, limited, 429, 'RATE_LIMITED');
  t.ok(limited.body.retry_after_ms > 0, 'says when to try again');
  t.equal((await call(server, 'POST', '/v1/register', { body: { username: 'other', password: 'long enough pw' } })).status, 201, 'another account is not held up');

  for (let i = 0; i < 3; i++) await call(server, 'POST', '/v1/login', { body: { username: 'nobody', password: `guess ${i}` } });
  expectError(t, await call(server, 'POST', '/v1/login', { body: { username: 'nobody', password: 'x'.repeat(8) } }), 429, 'RATE_LIMITED');
});

t.test('a password change checks the current one within the account\'s budget, and the address\'s', async (t) => {
  const server = await startServer(t, { RATE_LIMIT_PASSWORD: '2' });
  const owner = await login(server, 'mallory', 'first password');
  const change = (current: string) =>
    call(server, 'PUT', '/v1/me/password', { token: owner.token, body: { password: 'a new password', current_password: current } });
  expectError(t, await change('wrong one'), 403, 'WRONG_PASSWORD');
  expectError(t, await change('wrong two'), 403, 'WRONG_PASSWORD');
  expectError(t, await change('first password'), 429, 'RATE_LIMITED');

  // The login counts too: 3 requests to password routes per address, then 429.
  const byAddress = await startServer(t, { RATE_LIMIT_AUTH: '3' });
  const user = await login(byAddress, 'oscar');
  const statuses = [];
  for (const body of [{ password: 'first password' }, { password: 'second password', current_password: 'wrong' }, { password: 'third password' }]) {
    statuses.push((await request(byAddress, 'PUT', '/v1/me/password', { token: user.token, body })).status);
  }
  t.same(statuses, [204, 403, 429]);
});

