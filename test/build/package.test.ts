import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { login, pair, request, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';

// `npm run package` makes dist/dm-server, the server as one executable (scripts/package.mjs). This
// builds it, copies it alone into an empty folder, and runs it there with nothing else installed
// and a clean environment: whatever it needs and did not carry inside fails here.
const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

t.test('the single executable runs alone from an empty folder', { skip: linuxX64 ? false : `dm-server is built for linux-x64; this is ${process.platform}-${process.arch}` }, async (t) => {
  t.setTimeout(300_000);
  const build = path.join(root, 'dist', `package-test-${process.pid}`);
  const folder = mkdtempSync(path.join(tmpdir(), 'dm-package-'));
  const [run, other, home] = ['run', 'other', 'home'].map((name) => path.join(folder, name)) as [string, string, string];
  t.teardown(() => {
    rmSync(build, { recursive: true, force: true });
    rmSync(folder, { recursive: true, force: true });
  });
  await promisify(execFile)(process.execPath, ['scripts/package.mjs', path.join(build, 'dm-server')], { cwd: root });
  for (const dir of [run, other, home]) mkdirSync(dir);
  const exe = path.join(run, 'dm-server');
  copyFileSync(path.join(build, 'dm-server'), exe);
  // No DATABASE_URL, DATA_DIR or node_modules; HOME is the test's, for the files it extracts.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HOST: '127.0.0.1' };

  const printed = await promisify(execFile)(exe, ['--version'], { cwd: run, env: { ...env, PORT: '0' }, timeout: 30_000 });
  t.equal(printed.stdout, `dm-server ${version}\n`, '--version');

  // The first start of two at once: each extracts the files, and one copy ends up in the cache.
  const [child, another] = await Promise.all([start(t, exe, run, env), start(t, exe, other, env)]);
  await stop(t, another, 'the other first start');
  const cache = path.join(home, '.cache', 'dm-server');
  const extracted = readdirSync(cache);
  t.equal(extracted.length, 1, 'one folder of extracted files, and no copy left half-written');
  t.match(extracted[0], new RegExp(`^${version.replaceAll('.', '\\.')}-[0-9a-f]{16}$`), 'named for the version and the contents');
  t.ok(existsSync(path.join(cache, extracted[0]!, 'better_sqlite3.node')), 'with the SQLite addon');

  const health = await request(child.server, 'GET', '/healthz');
  t.same(health.body, { status: 'ok', version }, '/healthz');
  const page = await fetch(child.server.url + '/');
  const html = await page.text();
  t.match(page.headers.get('content-type'), 'text/html', 'the web client');
  const script = /<script[^>]* src="([^"]+)"/.exec(html)![1]!;
  const js = await fetch(`${child.server.url}/${script}`);
  await js.arrayBuffer();
  t.equal(js.status, 200, `the web client's ${script}`);
  t.match(js.headers.get('content-type'), 'application/javascript', `the web client's ${script}: its type`);
  for (const [route, type] of [
    ['/docs', 'text/html'],
    ['/docs/static/swagger-ui-bundle.js', 'application/javascript'],
    ['/docs/json', 'application/json'],
  ]) {
    const res = await fetch(child.server.url + route!);
    await res.arrayBuffer();
    t.equal(res.status, 200, `GET ${route}`);
    t.match(res.headers.get('content-type'), type!, `GET ${route}: ${type}`);
  }

  // Logins (open), a message each way: REST in, WebSocket out and in, REST out.
  const { alice, bob, chatId } = await pair(child.server);
  const bobWs = await connect(t, child.server, bob);
  const sent = await request(child.server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'over REST' } });
  t.equal(sent.status, 201, 'sent over REST');
  t.match(await bobWs.nextOfType('message'), { id: sent.body.id, content: 'over REST' }, 'delivered over the WebSocket');
  bobWs.send({ chat_id: chatId, content: 'over the WebSocket', client_id: 'p1' });
  const echo = await bobWs.nextOfType('message');
  const history = await request(child.server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
  t.match(history.body, [{ id: sent.body.id }, { id: echo.id, content: 'over the WebSocket' }], 'both read back over REST');

  // The server's connection never checkpoints: a database file past its first page is the thread's work.
  const database = path.join(run, 'data', 'chat.db');
  const deadline = Date.now() + 10_000;
  while (statSync(database).size <= 4096 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  t.ok(statSync(database).size > 4096, 'the checkpoint thread copied the WAL into data/chat.db');
  await stop(t, child, 'the server');
  t.same(readdirSync(run).sort(), ['data', 'dm-server'], 'it writes nothing beside itself but data/');

  // The password hashing thread: registering hashes, logging in checks.
  const secured = await start(t, exe, run, { ...env, AUTH_MODE: 'password' });
  const carol = await request(secured.server, 'POST', '/v1/register', { body: { username: 'carol', password: 'a long enough password' } });
  t.equal(carol.status, 201, 'registered with a password');
  t.match(await login(secured.server, 'carol', 'a long enough password'), { user: { username: 'carol' } }, 'logged in with it');
  const wrong = await request(secured.server, 'POST', '/v1/login', { body: { username: 'carol', password: 'not the password' } });
  t.equal(wrong.status, 401, 'not with another');
  await stop(t, secured, 'the server with passwords');
});

interface Started {
  process: ChildProcess;
  server: TestServer;
  exited: Promise<number | null>;
  /** Its log (stdout), one JSON line each. */
  logs: string[];
}

/** Starts the executable in `cwd` on a free port, once /healthz answers 200. */
async function start(t: Test, exe: string, cwd: string, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const child = spawn(exe, [], { cwd, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => logs.push(line));
  const url = `http://127.0.0.1:${port}`;
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`dm-server exited before answering: ${logs.join('\n')}`);
    const status = await fetch(`${url}/healthz`).then((res) => res.status, () => 0);
    if (status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { process: child, server: { url, wsUrl: `ws://127.0.0.1:${port}/v1/ws` } as TestServer, exited, logs };
}

/** SIGTERM: it exits with 0, having logged no error. */
async function stop(t: Test, child: Started, name: string): Promise<void> {
  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0, `${name} exits with 0 on SIGTERM`);
  const errors = child.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
  t.same(errors, [], `${name} logged no error`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}
