import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { VERSION } from '../../src/version.js';
import { login, request, startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { cli } from './run.js';

// Each command is a Node process that loads the sources through the TypeScript loader: seconds each.
t.setTimeout(180_000);

t.test('--version, --help, and a command line the usage does not allow', async (t) => {
  const env = { DATABASE_URL: 'sqlite::memory:' };
  for (const args of [['--version'], ['version']]) {
    t.same(await cli(args, env), { code: 0, stdout: `dm-server ${VERSION}\n`, stderr: '' }, args.join(' '));
  }
  const help = await cli(['--help'], env);
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: dm-server \[COMMAND\]/);
  for (const command of ['serve', 'backup FILE', 'stats', 'users list', 'users set-password USERNAME', 'users delete USERNAME', 'invites create', '--version']) {
    t.ok(help.stdout.includes(`\n  ${command}`), `the usage lists ${command}`);
  }
  for (const args of [['bogus'], ['users'], ['users', 'rename', 'x'], ['backup'], ['backup', 'a', 'b'], ['stats', '--csv'], ['serve', 'now'], ['--version', 'x']]) {
    const run = await cli(args, env);
    t.equal(run.code, 2, `${args.join(' ')}: exit status 2`);
    t.equal(run.stdout, '');
    t.match(run.stderr, /\n\nUsage: dm-server/, `${args.join(' ')}: the usage on standard error`);
  }
});

t.test('invites create prints one-time codes that the server takes', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir, REGISTRATION: 'invite' };
  const made = await cli(['invites', 'create', '--count', '2', '--expires', '7d'], env);
  t.equal(made.code, 0, made.stderr);
  const codes = made.stdout.trim().split('\n');
  t.equal(codes.length, 2);
  for (const code of codes) t.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);

  const server = await startServer(t, env);
  const first = await request(server, 'POST', '/v1/register', { body: { username: 'newcomer', password: 'long enough pw', invite: codes[0] } });
  t.equal(first.status, 201);
  const again = await request(server, 'POST', '/v1/register', { body: { username: 'another', password: 'long enough pw', invite: codes[0] } });
  t.equal(again.body.code, 'INVITE_INVALID');

  const bad = await cli(['invites', 'create', '--count', 'lots'], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /Unknown or bad option: --count lots[\s\S]*Usage/);
});

t.test('users set-password lets the owner of a username-only account back in, and ends its sessions', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir };
  const server = await startServer(t, env);
  const squatter = await login(server, 'owner');
  const socket = await connect(t, server, squatter);

  const set = await cli(['users', 'set-password', 'OWNER'], env, { input: 'a new long password\n' });
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /The password of owner is set/);
  // The command ran in another process: on SQLite the server learns of it at the next request.
  t.equal((await request(server, 'GET', '/v1/me', { token: squatter.token })).status, 401, 'the old session is over');
  t.equal((await request(server, 'POST', '/v1/login', { body: { username: 'owner' } })).body.code, 'PASSWORD_REQUIRED');
  t.equal((await request(server, 'POST', '/v1/login', { body: { username: 'owner', password: 'a new long password' } })).status, 200);
  socket.ws.terminate();

  t.match(await cli(['users', 'set-password', 'nobody'], env, { input: 'a new long password\n' }), { code: 1, stderr: /No user is called "nobody"/ });
  t.match(await cli(['users', 'set-password', 'owner'], env, { input: 'short\n' }), { code: 1, stderr: /8 to 256 characters/ });
});
