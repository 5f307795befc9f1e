import t from 'tap';
import { ApiError } from '../../web/client.js';
import { startServer } from '../helpers/server.js';
import { connected, holdFetch, logIn, mapStorage, newClient, record, waitFor } from './helpers.js';

// web/client.js over REST: logging in, the server's rules, errors, and the end of a session.

t.test('open mode: login makes the account, serverInfo, request with the token', async (t) => {
  const server = await startServer(t);
  const client = newClient(t, server);
  const sessions = record(client, 'session');

  t.match(await client.serverInfo(), { auth_mode: 'open', registration: 'open', password_min_length: 8 });
  const session = await logIn(client, 'alice');
  t.equal(session.user.username, 'alice');
  t.type(session.token, 'string');
  t.same(client.session, session, 'kept on the client');
  t.same(sessions, [session], 'a session event');
  const me = await client.request('GET', '/me');
  t.equal(me.id, session.user.id, 'requests carry the token');
  t.match(await client.request('PATCH', '/me', { bio: 'hi' }), { id: session.user.id, bio: 'hi' }, 'a JSON body');
});

t.test('password mode: register, then login needs the password', async (t) => {
  const server = await startServer(t, { AUTH_MODE: 'password' });
  const client = newClient(t, server);
  t.equal((await client.serverInfo()).auth_mode, 'password');

  const session = await client.register({ username: 'carol', password: 'correct horse', invite: undefined });
  t.equal(session.user.username, 'carol');
  t.equal(client.session?.token, session.token);

  const other = newClient(t, server);
  const refused = await logIn(other, 'carol').catch((e: unknown) => e);
  t.ok(refused instanceof ApiError);
  t.match(refused, { status: 401, code: 'PASSWORD_REQUIRED' });
  t.equal(other.session, null, 'no session from a refused login');
  t.equal((await logIn(other, 'carol', 'correct horse')).user.id, session.user.id);
});

t.test('ApiError: status, code and the whole body of a refusal', async (t) => {
  const server = await startServer(t);
  const client = newClient(t, server);
  const ended = record(client, 'session_ended');
  await logIn(client, 'alice');

  const error = await client.request('POST', '/chats/initiate', { target_username: 'alice' }).catch((e: unknown) => e);
  t.ok(error instanceof ApiError);
  t.ok(error instanceof Error);
  t.match(error, { name: 'ApiError', status: 400, code: 'CANNOT_CHAT_WITH_SELF' });
  t.type((error as ApiError).message, 'string');

  const invalid = await client.request('POST', '/chats/initiate', { target_username: 5 }).catch((e: unknown) => e);
  t.match(invalid, { status: 400, code: 'VALIDATION_ERROR', body: { code: 'VALIDATION_ERROR', field: 'target_username' } });
  t.equal((invalid as ApiError).message, (invalid as ApiError).body.error, 'the message is the server\'s sentence');

  const missing = await client.request('GET', '/no-such-route').catch((e: unknown) => e);
  t.match(missing, { status: 404, code: 'NOT_FOUND' });
  t.same(ended, [], 'a 4xx other than 401 keeps the session');
  t.ok(client.session);

  const unreachable = newClient(t, { url: 'http://127.0.0.1:1' });
  t.match(await unreachable.serverInfo().catch((e: unknown) => e), { status: 0, code: 'NETWORK_ERROR' });
});

t.test('a 401 ends the session: session_ended, and the socket is closed', async (t) => {
  const server = await startServer(t);
  const client = newClient(t, server);
  const session = await logIn(client, 'alice');
  const stale = newClient(t, server, { session: { token: `${session.token}x`, user: session.user } });
  const ended = record(stale, 'session_ended');

  const error = await stale.request('GET', '/me').catch((e: unknown) => e);
  t.match(error, { status: 401, code: 'INVALID_TOKEN' });
  t.same(ended, [{ reason: 'expired' }]);
  t.equal(stale.session, null);
  t.throws(() => stale.connect(), /log in first/, 'connect needs a session again');

  // A refused login is a 401 too, but not the end of a session.
  const loggedIn = newClient(t, await startServer(t, { AUTH_MODE: 'password' }));
  const kept = record(loggedIn, 'session_ended');
  await loggedIn.register({ username: 'dave', password: 'correct horse', invite: undefined });
  await logIn(loggedIn, 'dave', 'wrong horse').catch(() => undefined);
  t.same(kept, [], 'a wrong password ends nothing');
  t.ok(loggedIn.session);
});

t.test('logout everywhere from another client: the socket closes with 4401, session_ended', async (t) => {
  const server = await startServer(t);
  const phone = newClient(t, server);
  const session = await logIn(phone, 'alice');
  const laptop = newClient(t, server, { session: await logIn(newClient(t, server), 'alice') });
  t.not(laptop.session?.token, session.token, 'two sessions of one account');
  await connected(phone);
  const closeCodes: number[] = [];
  phone.ws!.addEventListener('close', (event: { code: number }) => closeCodes.push(event.code));
  const ended = record(phone, 'session_ended');
  const statuses = record(phone, 'status');

  await laptop.logout({ everywhere: true });
  t.equal(laptop.session, null, 'the one that logged out has no session');
  await waitFor(() => ended.length > 0, 'session_ended on the phone');
  t.same(closeCodes, [4401], 'the server closed the socket with 4401');
  t.same(ended, [{ reason: 'expired' }]);
  t.same(statuses, [{ status: 'offline' }], 'offline, and no reconnect planned');
  t.equal(phone.session, null);
  t.equal(phone.ws, null);
});

t.test('logout of a connected client: reason logout, and its saved outbox is forgotten', async (t) => {
  const server = await startServer(t);
  const storage = mapStorage();
  const client = newClient(t, server, { storage });
  await logIn(client, 'alice');
  client.send(999_999, 'to no chat');
  t.equal(storage.map.size, 1, 'saved');
  await connected(client);
  await waitFor(() => client.pending()[0]?.status === 'failed', 'the refusal');
  const ended = record(client, 'session_ended');
  await client.logout();
  t.same(ended, [{ reason: 'logout' }]);
  t.equal(storage.map.size, 0, 'a logout forgets the unsent messages');
});

t.test('logout with a session already ended elsewhere: still a logout, the saved outbox is forgotten', async (t) => {
  const server = await startServer(t);
  const storage = mapStorage();
  const client = newClient(t, server, { storage });
  const session = await logIn(client, 'alice');
  client.send(1, 'never sent');
  await newClient(t, server, { session }).logout(); // the same session, ended by another copy of it
  const ended = record(client, 'session_ended');
  t.match(await client.logout().catch((e: unknown) => e), { status: 401 }, 'the server no longer knows the token');
  t.same(ended, [{ reason: 'logout' }]);
  t.equal(client.session, null);
  t.equal(storage.map.size, 0, 'what the person chose to leave is not sent at their next login');
});

t.test('an answer that arrives after the session changed: SESSION_CHANGED, and the new session is left alone', async (t) => {
  const server = await startServer(t);
  const storage = mapStorage();
  const client = newClient(t, server, { storage });
  const alice = await logIn(client, 'alice');
  const ended = record(client, 'session_ended');
  const changed = { name: 'ApiError', status: 0, code: 'SESSION_CHANGED', message: 'The session changed while this request was under way' };

  // A 200 of the old session: a login as someone else while it was on its way.
  let slow = holdFetch(t, (url) => url.endsWith('/v1/me'));
  const me = client.request('GET', '/me').catch((e: unknown) => e);
  t.ok(slow.started());
  const bob = await logIn(client, 'bob');
  slow.release();
  t.match(await me, changed, 'Alice\'s answer does not reach Bob\'s session');

  // A 401 of the old token (logged out, then a login as someone else) ends nothing.
  slow = holdFetch(t, (url) => url.endsWith('/v1/me'));
  const late = client.request('GET', '/me').catch((e: unknown) => e);
  await client.logout();
  t.same(ended, [{ reason: 'logout' }]);
  const carol = await logIn(client, 'carol');
  client.send(1, 'Carol\'s unsent message');
  slow.release();
  t.match(await late, changed, 'the late 401 is SESSION_CHANGED');
  t.same(ended, [{ reason: 'logout' }], 'no session_ended for it');
  t.equal(client.session, carol, 'Carol is still logged in');
  t.equal(client.pending().length, 1, 'with her outbox');
  t.match((await client.request('GET', '/me')), { id: carol.user.id }, 'and her requests work');

  // A logout whose answer comes after a login as someone else does not log that one out.
  slow = holdFetch(t, (url) => url.endsWith('/v1/logout'));
  const logout = client.logout().catch((e: unknown) => e);
  const dave = await logIn(client, 'dave');
  client.send(1, 'Dave\'s unsent message');
  slow.release();
  t.match(await logout, changed);
  t.equal(client.session, dave, 'Dave is still logged in');
  t.same(ended, [{ reason: 'logout' }], 'no session_ended');
  t.ok(storage.getItem(`dm.outbox.${dave.user.id}`), 'Dave\'s saved outbox is kept');
  t.equal(storage.getItem(`dm.outbox.${carol.user.id}`), null, 'Carol, who chose to log out, has hers forgotten');
  t.not(alice.user.id, bob.user.id);
});
