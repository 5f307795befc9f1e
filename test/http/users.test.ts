import t from 'tap';
import { login, startServer } from '../helpers/server.js';
import { call, expectError, RFC3339_MS } from './support.js';

const server = await startServer(t);
const me = await login(server, 'Viewer');

const names = (users: { username: string }[]) => users.map((u) => u.username);

t.test('GET /me: the caller as a user object', async (t) => {
  const res = await call(server, 'GET', '/v1/me', { token: me.token });
  t.equal(res.status, 200);
  t.match(res.body, { id: me.user.id, username: 'Viewer', display_name: null, bio: null, created_at: RFC3339_MS });
});

t.test('PATCH /me sets, keeps and clears the display name and bio', async (t) => {
  const session = await login(server, 'patcher');
  const set = await call(server, 'PATCH', '/v1/me', { token: session.token, body: { display_name: 'Pat Cher', bio: 'Hello there' } });
  t.equal(set.status, 200);
  t.match(set.body, { id: session.user.id, username: 'patcher', display_name: 'Pat Cher', bio: 'Hello there', created_at: RFC3339_MS });

  const onlyBio = await call(server, 'PATCH', '/v1/me', { token: session.token, body: { bio: 'Changed' } });
  t.match(onlyBio.body, { display_name: 'Pat Cher', bio: 'Changed' }, 'an absent field is left alone');
  const nothing = await call(server, 'PATCH', '/v1/me', { token: session.token, body: {} });
  t.equal(nothing.status, 200);
  t.match(nothing.body, { display_name: 'Pat Cher', bio: 'Changed' });

  const cleared = await call(server, 'PATCH', '/v1/me', { token: session.token, body: { display_name: null, bio: null } });
  t.match(cleared.body, { display_name: null, bio: null }, 'null clears');

  await call(server, 'PATCH', '/v1/me', { token: session.token, body: { display_name: 'Shown' } });
  const seen = await call(server, 'GET', `/v1/users/${session.user.id}`, { token: me.token });
  t.equal(seen.body.display_name, 'Shown', 'others see the change');
  t.equal((await call(server, 'GET', '/v1/me', { token: session.token })).body.display_name, 'Shown');
});

t.test('GET and PATCH /me say whether the account has a password; no other user object does', async (t) => {
  const session = await login(server, 'claimer');
  const before = await call(server, 'GET', '/v1/me', { token: session.token });
  t.equal(before.body.has_password, false, 'a username-only account');
  t.notOk('has_password' in session.user, "not in the login's user");

  t.equal((await call(server, 'PUT', '/v1/me/password', { token: session.token, body: { password: 'correct horse' } })).status, 204);
  t.equal((await call(server, 'GET', '/v1/me', { token: session.token })).body.has_password, true, 'once it has one');
  const patched = await call(server, 'PATCH', '/v1/me', { token: session.token, body: { bio: 'Claimed' } });
  t.match(patched.body, { bio: 'Claimed', has_password: true }, 'PATCH /me answers with it too');

  const other = await call(server, 'GET', `/v1/users/${session.user.id}`, { token: me.token });
  t.notOk('has_password' in other.body, 'GET /users/:id does not tell');
  const found = await call(server, 'GET', '/v1/users?username=claimer', { token: me.token });
  t.notOk('has_password' in found.body[0], 'nor does the search');
  const relogin = await login(server, 'claimer', 'correct horse');
  t.notOk('has_password' in relogin.user, 'nor the login');
});

t.test('PATCH /me: display name up to 64 characters, bio up to 500', async (t) => {
  const session = await login(server, 'limits');
  const longest = await call(server, 'PATCH', '/v1/me', { token: session.token, body: { display_name: 'd'.repeat(64), bio: 'b'.repeat(500) } });
  t.equal(longest.status, 200);
  t.equal(longest.body.display_name, 'd'.repeat(64));
  t.equal(longest.body.bio, 'b'.repeat(500));

  const cases: [Record<string, unknown>, string][] = [
    [{ display_name: 'd'.repeat(65) }, 'display_name'],
    [{ bio: 'b'.repeat(501) }, 'bio'],
    [{ display_name: 42 }, 'display_name'],
    [{ bio: ['list'] }, 'bio'],
  ];
  for (const [body, field] of cases) {
    const res = await call(server, 'PATCH', '/v1/me', { token: session.token, body });
    expectError(t, res, 400, 'VALIDATION_ERROR', field);
  }
  const after = await call(server, 'GET', '/v1/me', { token: session.token });
  t.match(after.body, { display_name: 'd'.repeat(64), bio: 'b'.repeat(500) }, 'refused changes changed nothing');
});

t.test('GET /users/:id', async (t) => {
  const other = await login(server, 'Lookup');
  const res = await call(server, 'GET', `/v1/users/${other.user.id}`, { token: me.token });
  t.equal(res.status, 200);
  t.match(res.body, { id: other.user.id, username: 'Lookup', display_name: null, bio: null, created_at: RFC3339_MS });
  t.notOk('password_hash' in res.body, 'no password hash');
  expectError(t, await call(server, 'GET', '/v1/users/999999', { token: me.token }), 404, 'USER_NOT_FOUND');
  for (const id of ['abc', '0', '-1', '1.5', '99999999999']) {
    const res = await call(server, 'GET', `/v1/users/${id}`, { token: me.token });
    expectError(t, res, 400, 'VALIDATION_ERROR', 'id');
  }
});

t.test('GET /users: substring, case-insensitive, shortest first', async (t) => {
  const search = await startServer(t);
  for (const name of ['Bob', 'bobby', 'xBOBx', 'robert', 'BoBo.b', 'bo']) await login(search, name);
  const viewer = await login(search, 'zz');

  const res = await call(search, 'GET', '/v1/users?username=bob', { token: viewer.token });
  t.equal(res.status, 200);
  t.same(new Set(names(res.body)), new Set(['Bob', 'bobby', 'xBOBx', 'BoBo.b']), 'every username containing "bob", any case');
  t.equal(res.body[0].username, 'Bob', 'the exact match (shortest) first');
  const lengths = res.body.map((u: { username: string }) => u.username.length);
  t.same(lengths, [...lengths].sort((a: number, b: number) => a - b), 'shortest first');
  t.match(res.body[0], { id: Number, username: 'Bob', display_name: null, bio: null, created_at: RFC3339_MS });

  const upper = await call(search, 'GET', '/v1/users?username=BOB', { token: viewer.token });
  t.same(names(upper.body), names(res.body), 'the query is case-insensitive too');
  t.same(names((await call(search, 'GET', '/v1/users?username=ober', { token: viewer.token })).body), ['robert']);
  t.same((await call(search, 'GET', '/v1/users?username=nobody', { token: viewer.token })).body, []);
  const all = await call(search, 'GET', '/v1/users', { token: viewer.token });
  t.equal(all.body.length, 7, 'no query: everyone');
});

t.test('GET /users: _ and % in the query are literal characters', async (t) => {
  const search = await startServer(t);
  for (const name of ['a_b', 'axb', 'a.b', 'ab', 'under_score']) await login(search, name);
  const viewer = await login(search, 'qq');
  const underscore = await call(search, 'GET', '/v1/users?username=_', { token: viewer.token });
  t.same(new Set(names(underscore.body)), new Set(['a_b', 'under_score']));
  const pattern = await call(search, 'GET', `/v1/users?username=${encodeURIComponent('a_b')}`, { token: viewer.token });
  t.same(names(pattern.body), ['a_b'], '_ matches only itself');
  const percent = await call(search, 'GET', `/v1/users?username=${encodeURIComponent('%')}`, { token: viewer.token });
  t.equal(percent.status, 200);
  t.same(percent.body, [], '% matches nothing, not everything');
  const inner = await call(search, 'GET', `/v1/users?username=${encodeURIComponent('a%b')}`, { token: viewer.token });
  t.same(inner.body, []);
  const backslash = await call(search, 'GET', `/v1/users?username=${encodeURIComponent('\\')}`, { token: viewer.token });
  t.equal(backslash.status, 200);
  t.same(backslash.body, []);
});

t.test('GET /users: limit defaults to 20, at most 100', async (t) => {
  const search = await startServer(t);
  for (let i = 0; i < 105; i++) await login(search, `member${String(i).padStart(3, '0')}`);
  const viewer = await login(search, 'outsider');

  const byDefault = await call(search, 'GET', '/v1/users?username=member', { token: viewer.token });
  t.equal(byDefault.body.length, 20);
  t.equal((await call(search, 'GET', '/v1/users?username=member&limit=5', { token: viewer.token })).body.length, 5);
  t.equal((await call(search, 'GET', '/v1/users?username=member&limit=100', { token: viewer.token })).body.length, 100);
  t.equal((await call(search, 'GET', '/v1/users?limit=1', { token: viewer.token })).body.length, 1);
  for (const limit of ['0', '101', '-1', 'many', '2.5']) {
    const res = await call(search, 'GET', `/v1/users?username=member&limit=${limit}`, { token: viewer.token });
    expectError(t, res, 400, 'VALIDATION_ERROR', 'limit');
  }
});
