import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { startFlags } from '../../bench/start-flags.js';
import { spawnServer } from '../helpers/child-server.js';
import { uploaded } from '../helpers/files.js';
import { pair, request, type TestServer } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws-client.js';

// `npm start` runs the bundle (scripts/bundle.mjs); every other test runs the sources. This one
// bundles them as `npm run build` does, runs the bundle with the node flags of `npm start`, and
// touches each bundled package once: a package that reads files beside its own code, or requires
// something at run time, fails here rather than in production.
const root = fileURLToPath(new URL('../..', import.meta.url));

t.test('the bundled server starts, serves every part, and stops cleanly', async (t) => {
  // Inside the project, so that the packages left out of the bundle resolve from node_modules.
  const outdir = path.join(root, 'dist', `bundle-test-${process.pid}`);
  const data = mkdtempSync(path.join(tmpdir(), 'dm-bundle-'));
  t.teardown(() => {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });
  await promisify(execFile)(process.execPath, ['scripts/bundle.mjs', outdir], { cwd: root });
  const child = await spawnServer(
    { DATA_DIR: data, DATABASE_URL: `sqlite:${data}/chat.db`, JWT_SECRET: 'bundle-test-secret-bundle-test-secret-0123', RATE_LIMIT_AUTH: '2', CORS_ORIGIN: 'https://client.example', LOG_LEVEL: 'debug' },
    { main: path.join(outdir, 'main.js'), cwd: data, nodeFlags: startFlags(path.join(root, 'package.json')) },
  );
  t.teardown(() => child.process.kill('SIGKILL'));
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;

  // Fastify, its schemas (validated and serialized), JWT, CORS, Kysely over better-sqlite3.
  const { alice, bob, chatId } = await pair(server);
  const invalid = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 5 } });
  t.match(invalid, { status: 400, body: { code: 'VALIDATION_ERROR', error: /content/ } }, 'a body that fails its schema');
  const cors = await request(server, 'GET', '/v1/chats', { token: alice.token, headers: { origin: 'https://client.example' } });
  t.equal(cors.headers.get('access-control-allow-origin'), 'https://client.example', 'CORS');
  const limited = await request(server, 'POST', '/v1/login', { body: { username: 'carol' } });
  t.equal(limited.status, 429, 'the rate limit (2 logins allowed)');

  // Multipart uploads, then a send over the WebSocket that carries the file.
  const file = await uploaded(server, alice.token, 'hello', 'hello.txt');
  const aliceWs = await connect(t, server, alice);
  const bobWs = await connect(t, server, bob, 'query');
  aliceWs.send('not json');
  t.match(await aliceWs.nextOfType('error'), { code: 'INVALID_JSON' }, 'an error frame');
  aliceWs.send({ chat_id: chatId, content: 'bundled', client_id: 'b1', files: [file.id] });
  const echo = await aliceWs.nextOfType('message');
  t.match(echo, { chat_id: chatId, content: 'bundled', client_id: 'b1', files: [{ id: file.id, filename: 'hello.txt' }] }, 'the echo');
  // A file url is its reader's own; the rest of the message is the same for everyone.
  const withoutUrls = (m: Frame) => ({ ...m, files: m.files.map(({ url: _url, ...file }: Frame) => file) });
  const delivered = await bobWs.nextOfType('message');
  t.same(withoutUrls(delivered), withoutUrls(echo), 'delivered to the other member');
  t.match(delivered.files[0].url, `&u=${bob.user.id}&`, 'with urls of his own');
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.same(history.body, [(({ type: _type, ...message }) => message)(delivered)], 'stored');

  // The static web client, the OpenAPI document, and Swagger UI's page and scripts.
  for (const [route, type] of [
    ['/', 'text/html'],
    ['/docs', 'text/html'],
    ['/docs/static/swagger-ui-bundle.js', 'application/javascript'],
    ['/docs/static/logo.svg', 'image/svg+xml'],
    ['/docs/json', 'application/json'],
  ]) {
    const res = await fetch(server.url + route!);
    await res.arrayBuffer();
    t.equal(res.status, 200, `GET ${route}`);
    t.match(res.headers.get('content-type'), type!, `GET ${route}: ${type}`);
  }

  // Every schema compiles (most were left to the warm-up after listening): a failure is logged as an error.
  const compiled = () => child.logs.some((line) => JSON.parse(line).msg === 'every schema is compiled');
  while (!compiled()) await new Promise((resolve) => setTimeout(resolve, 10));

  // Graceful shutdown (close-with-grace), with the checkpoint thread, and nothing logged as an error.
  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0, 'exits with 0 on SIGTERM');
  const levels = child.logs.map((line) => JSON.parse(line).level as number);
  t.ok(levels.length > 0 && levels.every((level) => level < 50), 'no error in the log');

  // The operator's commands, from the same main.js, on the same database: its password hashing
  // thread included. A command main.js took for the server would listen, on 127.0.0.1, until the timeout.
  const env = { ...process.env, DATA_DIR: data, DATABASE_URL: `sqlite:${data}/chat.db`, HOST: '127.0.0.1', PORT: '0' };
  const main = path.join(outdir, 'main.js');
  const invites = await promisify(execFile)(process.execPath, [main, 'invites', 'create', '--count', '2'], { env, timeout: 30_000 });
  t.match(invites.stdout, /^([0-9A-Z]{4}-){3}[0-9A-Z]{4}\n([0-9A-Z]{4}-){3}[0-9A-Z]{4}\n$/, 'main.js invites create');
  const setPassword = execFile(process.execPath, [main, 'users', 'set-password', 'alice'], { env, timeout: 30_000 });
  setPassword.stdin!.end('a long new password\n');
  t.equal(await new Promise((resolve) => setPassword.once('exit', resolve)), 0, 'main.js users set-password');
});
