import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { chromiumMissing, launch, logIn, message, skipReason as noChromium, watchErrors } from '../browser/browser.js';
import { spawnServer, type ChildServer } from '../helpers/child-server.js';

// The server behind Debian's nginx, configured by the example operators copy (deploy/nginx/), with
// TLS on a port other than 443: the web client chats through it, and without PUBLIC_URL its socket
// is refused, as it was in the reported bug.

const SITE = fileURLToPath(new URL('../../deploy/nginx/dm-server.conf', import.meta.url));
const COMPOSE_SITE = fileURLToPath(new URL('../../deploy/nginx/compose.conf', import.meta.url));
const nginxPath = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const opensslPath = '/usr/bin/openssl';
const missing = [
  !existsSync(nginxPath) && `no nginx at ${nginxPath}: install it with "apt-get install -y nginx" (or set NGINX_PATH)`,
  !existsSync(opensslPath) && `no openssl at ${opensslPath}: install it with "apt-get install -y openssl"`,
].filter((reason) => reason !== false);
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024; // the default, which the example's client_max_body_size must let through

/** Every nginx still running, stopped when the test process exits, even after a timeout. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  // SIGTERM, not SIGKILL: the master stops its workers, which would outlive a killed master.
  for (const child of running) child.kill('SIGTERM');
});

if (missing.length > 0) {
  const reason = `${missing.join('; ')} to run the tests behind nginx`;
  if (process.env.REQUIRE_NGINX_TESTS) t.fail(`REQUIRE_NGINX_TESTS is set but there is ${reason}`);
  else t.plan(0, reason);
} else {
  t.setTimeout(240_000);

  t.test('without PUBLIC_URL the socket behind nginx is refused, and the server says why', async (t) => {
    const proxy = await behindNginx(t, false);
    // The page itself loads through nginx: only the socket is refused.
    const page = await get(proxy, '/');
    t.equal(page.status, 200, 'the web client loads');
    t.match(page.headers['content-type'], /text\/html/);

    const socket = await openSocket(proxy, proxy.origin);
    t.equal(socket.status, 403, 'the upgrade is refused');
    t.match(JSON.parse(socket.body), { code: 'ORIGIN_NOT_ALLOWED' });
    const refusal = await logLine(proxy.server, (line) => /WebSocket refused/.test(line.msg));
    t.match(refusal, { level: 40, host: 'localhost', origin: proxy.origin }, 'logged at warn, with the Host nginx sent and the Origin');
    t.match(refusal.msg, /PUBLIC_URL/, 'the log names the setting that fixes it');
  });

  t.test('with PUBLIC_URL: sockets, client addresses, uploads and the redirect through the example', async (t) => {
    const proxy = await behindNginx(t, true);

    // A client at 127.0.0.2 that forges X-Forwarded-For: nginx appends the address it saw, and
    // TRUST_PROXY=true believes that one alone.
    const login = await post(proxy, '/v1/login', JSON.stringify({ username: 'alice' }), {
      'content-type': 'application/json',
      'x-forwarded-for': '203.0.113.9',
    }, '127.0.0.2');
    t.equal(login.status, 200, 'logged in through nginx', { body: login.body });
    const { token } = JSON.parse(login.body) as { token: string };
    const incoming = await logLine(proxy.server, (line) => line.req?.url === '/v1/login');
    t.equal(incoming.req.remoteAddress, '127.0.0.2', 'the server sees the client, not nginx or the forged address');

    // The socket: upgraded, identified, answered.
    const socket = await openSocket(proxy, proxy.origin, async (ws) => {
      ws.send(JSON.stringify({ op: 'IDENTIFY', d: { token } }));
      t.match(await nextFrame(ws), { op: 'READY' });
      ws.send(JSON.stringify({ type: 'ping' }));
      t.same(await nextFrame(ws), { type: 'pong' });
    });
    t.equal(socket.status, 101, 'the socket opened through nginx');
    t.equal((await openSocket(proxy, 'https://evil.example')).status, 403, 'a page of another site is still refused');

    // A file of MAX_UPLOAD_BYTES passes nginx; one byte more reaches the server too, which refuses it.
    const fits = await uploadThrough(proxy, token, MAX_UPLOAD_BYTES);
    t.equal(fits.status, 201, 'an upload of MAX_UPLOAD_BYTES is taken', { body: fits.body.slice(0, 200) });
    t.match(JSON.parse(fits.body), { size_bytes: MAX_UPLOAD_BYTES });
    const over = await uploadThrough(proxy, token, MAX_UPLOAD_BYTES + 1);
    t.equal(over.status, 413, 'one byte more is refused');
    t.match(JSON.parse(over.body), { code: 'PAYLOAD_TOO_LARGE' }, "the server's answer, not nginx's");

    t.equal((await get(proxy, '/healthz')).status, 200, '/healthz through nginx');
    const hsts = await get(proxy, '/v1/server');
    t.match(hsts.headers['strict-transport-security'], /max-age=/, 'HSTS from the TLS end');

    // Plain HTTP redirects to HTTPS.
    const plain = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.httpPort, path: '/some/page?x=1', headers: { host: 'localhost' } }, resolve).on('error', reject);
    });
    plain.resume();
    t.equal(plain.statusCode, 301, 'plain HTTP redirects');
    t.equal(plain.headers.location, 'https://localhost/some/page?x=1', 'to the same page over HTTPS');
  });

  t.test('two people chat in the web client through nginx', async (t) => {
    if (chromiumMissing) {
      // Either flag asks for this test: it is the one that proves the example with a real client.
      if (process.env.REQUIRE_NGINX_TESTS || process.env.REQUIRE_BROWSER_TESTS) t.fail(`REQUIRE_NGINX_TESTS or REQUIRE_BROWSER_TESTS is set but there is ${noChromium}`);
      else t.plan(0, noChromium);
      return;
    }
    const proxy = await behindNginx(t, true);
    const browser = await launch(t);
    const errors: string[] = [];
    const open = async (who: string) => {
      // The certificate is self-signed: the browser is told to accept it.
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 700 } });
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      watchErrors(page, errors, who);
      return page;
    };
    const alice = await open('alice');
    const bob = await open('bob');
    const sockets: string[] = [];
    alice.on('websocket', (ws) => sockets.push(ws.url()));

    const url = `${proxy.origin}/`;
    await logIn(bob, url, 'bob');
    await logIn(alice, url, 'alice');
    t.same(sockets, [`wss://localhost:${proxy.port}/v1/ws`], "the client's socket goes through nginx");

    await alice.getByLabel('Search people to start a chat').fill('bo');
    await alice.getByRole('button', { name: 'Start a chat with bob' }).click();
    await alice.locator('#chat-title', { hasText: 'bob' }).waitFor();
    // Bob hears of the chat on his socket, without reloading.
    await bob.locator('.chat-item', { hasText: 'alice' }).click();
    await bob.locator('#chat-title', { hasText: 'alice' }).waitFor();

    await alice.getByLabel('Message', { exact: true }).pressSequentially('Hello through nginx', { delay: 10 });
    await bob.locator('#typing', { hasText: 'alice is typing…' }).waitFor();
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    await message(bob, 'Hello through nginx').waitFor();

    await bob.getByLabel('Message', { exact: true }).fill('Loud and clear');
    await bob.getByLabel('Message', { exact: true }).press('Enter');
    await message(alice, 'Loud and clear').waitFor();
    await alice.locator('li.msg.mine .receipt', { hasText: 'Seen' }).waitFor();

    t.same(errors, [], 'no page errors');
    t.notOk(proxy.server.logs.some((line) => /WebSocket refused/.test(line)), 'no socket refused');
  });

  t.test("the compose file's nginx configuration passes nginx -t", async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    // dm-1 and dm-2 resolve only inside the compose network: the check needs addresses it can resolve.
    const site = render(readFileSync(COMPOSE_SITE, 'utf8'), [
      ['server dm-1:3000', 'server 127.0.0.1:1', 1],
      ['server dm-2:3000', 'server 127.0.0.1:2', 1],
      ['listen 80;', `listen 127.0.0.1:${port};`, 1],
    ]);
    const conf = writeNginxConf(dir, site);
    const check = spawnSync(nginxPath, ['-t', '-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log')], { encoding: 'utf8' });
    t.equal(check.status, 0, 'nginx -t accepts it', { stderr: check.stderr });
  });
}

interface Proxied {
  server: ChildServer;
  /** `https://localhost:<port>`: what users open. */
  origin: string;
  port: number;
  /** The plain HTTP port, which redirects. */
  httpPort: number;
  /** The self-signed certificate, to trust it. */
  ca: Buffer;
}

/**
 * A server from the sources, as a deployment runs it (relative paths under its working directory,
 * TRUST_PROXY=true, and PUBLIC_URL the address users open, or unset), behind nginx on
 * free ports, configured by deploy/nginx/dm-server.conf with its EDIT lines filled in.
 */
async function behindNginx(t: Test, withPublicUrl: boolean): Promise<Proxied> {
  const dir = tempDir(t);
  const [port, httpPort] = [await freePort(), await freePort()];
  const origin = `https://localhost:${port}`;

  const serverDir = path.join(dir, 'server');
  mkdirSync(serverDir);
  const server = await spawnServer(
    {
      DATA_DIR: 'data',
      DATABASE_URL: 'sqlite:data/chat.db',
      REDIS_URL: '',
      JWT_SECRET: 'a-test-secret-that-is-long-enough-for-production',
      AUTH_MODE: 'open',
      TRUST_PROXY: 'true',
      UPLOAD_MIN_FREE_BYTES: '0',
      PUBLIC_URL: withPublicUrl ? origin : '',
    },
    { cwd: serverDir },
  );
  t.teardown(async () => {
    server.process.kill('SIGTERM');
    await server.exited;
  });

  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const openssl = spawnSync(opensslPath, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost',
  ], { encoding: 'utf8' });
  if (openssl.status !== 0) throw new Error(`openssl: ${openssl.stderr}`);

  const site = render(readFileSync(SITE, 'utf8'), [
    ['server 127.0.0.1:3000;', `server ${new URL(server.url).host};`, 1],
    ['listen 443 ssl http2;', `listen 127.0.0.1:${port} ssl http2;`, 1],
    ['listen 80;', `listen 127.0.0.1:${httpPort};`, 1],
    // A test machine may have no IPv6.
    ['listen [::]:443 ssl http2;', '', 1],
    ['listen [::]:80;', '', 1],
    ['server_name chat.example.com;', 'server_name localhost;', 2],
    ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', cert, 1],
    ['/etc/letsencrypt/live/chat.example.com/privkey.pem', key, 1],
  ]);
  const conf = writeNginxConf(dir, site);
  const errorLog = path.join(dir, 'error.log');
  const args = ['-p', `${dir}/`, '-c', conf, '-e', errorLog];
  const check = spawnSync(nginxPath, ['-t', ...args], { encoding: 'utf8' });
  t.equal(check.status, 0, 'nginx -t accepts the example', { stderr: check.stderr });

  const nginx = spawn(nginxPath, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(nginx);
  let stderr = '';
  nginx.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => nginx.once('exit', () => resolve()));
  void exited.then(() => running.delete(nginx));
  t.teardown(async () => {
    nginx.kill('SIGTERM');
    await exited;
  });
  await waitForPort(port, exited, () => `${stderr}${readFileSync(errorLog, 'utf8')}`);
  return { server, origin, port, httpPort, ca: readFileSync(cert) };
}

/** A temporary folder removed after the test, which nginx's workers may pass through when run by root. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-nginx-'));
  // Run by root, nginx's workers are `nobody`: they reach their temp folders (which the master
  // makes and hands to them) through this one.
  chmodSync(dir, 0o711);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The main configuration around a site file, with every path nginx writes in `dir`. */
function writeNginxConf(dir: string, site: string): string {
  writeFileSync(path.join(dir, 'site.conf'), site);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/site.conf;
}
`,
  );
  return conf;
}

/** Replaces each placeholder, which must occur exactly as often as said: the example cannot drift from the test. */
function render(text: string, replacements: [string, string, number][]): string {
  for (const [from, to, count] of replacements) {
    const parts = text.split(from);
    if (parts.length - 1 !== count) throw new Error(`expected "${from}" ${count} time(s) in the example, found ${parts.length - 1}`);
    text = parts.join(to);
  }
  return text;
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitForPort(port: number, exited: Promise<void>, why: () => string): Promise<void> {
  let stopped = false;
  void exited.then(() => (stopped = true));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (stopped) throw new Error(`nginx exited: ${why()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx is not listening on ${port}: ${why()}`);
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTPS request to nginx, trusting the test's certificate, from `localAddress` if given. */
function send(proxy: Proxied, method: string, url: string, headers: Record<string, string> = {}, body?: Buffer | string, localAddress?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${proxy.origin}${url}`, { method, headers, ca: proxy.ca, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const get = (proxy: Proxied, url: string) => send(proxy, 'GET', url);
const post = (proxy: Proxied, url: string, body: string | Buffer, headers: Record<string, string>, localAddress?: string) =>
  send(proxy, 'POST', url, headers, body, localAddress);

/** `POST /v1/upload` of `size` bytes, as multipart form data the way a browser builds it. */
async function uploadThrough(proxy: Proxied, token: string, size: number): Promise<Answer> {
  const form = new FormData();
  form.append('file', new Blob([Buffer.alloc(size, 'x')], { type: 'application/octet-stream' }), 'big.bin');
  const encoded = new Response(form);
  const body = Buffer.from(await encoded.arrayBuffer());
  return post(proxy, '/v1/upload', body, { authorization: `Bearer ${token}`, 'content-type': encoded.headers.get('content-type')! });
}

/**
 * Opens `wss://localhost:<port>/v1/ws` as a page of `origin` would: 101 once `use` is done with the
 * open socket, or the status and body of the refusal.
 */
function openSocket(proxy: Proxied, origin: string, use?: (ws: WebSocket) => Promise<void>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${proxy.port}/v1/ws`, { origin, ca: proxy.ca });
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode!, body });
      });
    });
    ws.on('open', () => {
      (use ?? (async () => {}))(ws).then(
        () => {
          ws.close();
          resolve({ status: 101, body: '' });
        },
        (err: unknown) => {
          ws.terminate();
          reject(err as Error);
        },
      );
    });
    ws.on('error', reject);
  });
}

function nextFrame(ws: WebSocket): Promise<Record<string, unknown>> {
  return new Promise((resolve) => ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()))));
}

type LogLine = Record<string, any>;

/** The first line of the server's log that `match` accepts, waiting for it a little (logs are written asynchronously). */
async function logLine(server: ChildServer, match: (line: LogLine) => boolean): Promise<LogLine> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    for (const raw of server.logs) {
      if (!raw.startsWith('{')) continue; // a line for people, such as the one at start-up
      const line = JSON.parse(raw) as LogLine;
      if (match(line)) return line;
    }
    if (Date.now() > deadline) throw new Error(`no such line in the server's log:\n${server.logs.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
