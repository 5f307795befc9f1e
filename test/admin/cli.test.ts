import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { TS_LOADER } from '../helpers/child-server.js';
import { login, request, startServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

const ADMIN = fileURLToPath(new URL('../../src/admin/main.ts', import.meta.url));
// Each command is a Node process that loads the sources through the TypeScript loader: seconds each.
t.setTimeout(180_000);

/** Runs the operator's command line against `env`'s database, with `input` on standard input. */
function admin(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [`--import=${TS_LOADER}`, ADMIN, ...args], { env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(input);
  });
}

t.test('invites create prints one-time codes that the server takes', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir, REGISTRATION: 'invite' };
  const made = await admin(['invites', 'create', '--count', '2', '--expires', '7d'], env);
  t.equal(made.code, 0, made.stderr);
  const codes = made.stdout.trim().split('\n');
  t.equal(codes.length, 2);
  for (const code of codes) t.match(code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);

  const server = await startServer(t, env);
  const first = await request(server, 'POST', '/v1/register', { body: { username: 'newcomer', password: 'long enough pw', invite: codes[0] } });
  t.equal(first.status, 201);
  const again = await request(server, 'POST', '/v1/register', { body: { username: 'another', password: 'long enough pw', invite: codes[0] } });
  t.equal(again.body.code, 'INVITE_INVALID');

  const bad = await admin(['invites', 'create', '--count', 'lots'], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /Unknown or bad option: --count lots[\s\S]*Usage/);
  const help = await admin([], env);
  t.equal(help.code, 0);
  t.match(help.stderr, /invites create[\s\S]*users set-password/);
});

t.test('users set-password lets the owner of a username-only account back in, and ends its sessions', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-admin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`, DATA_DIR: dir };
  const server = await startServer(t, env);
  const squatter = await login(server, 'owner');
  const socket = await connect(t, server, squatter);

  const set = await admin(['users', 'set-password', 'OWNER'], env, 'a new long password\n');
  t.equal(set.code, 0, set.stderr);
  t.match(set.stdout, /The password of owner is set/);
  // The command ran in another process: on SQLite the server learns of it at the next request.
  t.equal((await request(server, 'GET', '/v1/me', { token: squatter.token })).status, 401, 'the old session is over');
  t.equal((await request(server, 'POST', '/v1/login', { body: { username: 'owner' } })).body.code, 'PASSWORD_REQUIRED');
  t.equal((await request(server, 'POST', '/v1/login', { body: { username: 'owner', password: 'a new long password' } })).status, 200);
  socket.ws.terminate();

  t.match(await admin(['users', 'set-password', 'nobody'], env, 'a new long password\n'), { code: 1, stderr: /No user is called "nobody"/ });
  t.match(await admin(['users', 'set-password', 'owner'], env, 'short\n'), { code: 1, stderr: /8 to 256 characters/ });
});
