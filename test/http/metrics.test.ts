import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { GENERAL } from '../helpers/rooms-api.js';
import { pair, request, startServer, type TestServer } from '../helpers/server.js';
import { connect, open } from '../helpers/ws-client.js';

const TOKEN = 'metrics-token-for-the-tests';
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** Samples by series (`name{labels}`), checking that every line is Prometheus text format. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/.exec(line);
    if (!match) throw new Error(`not Prometheus text format: ${JSON.stringify(line)}`);
    samples.set(match[1]!, Number(match[2]));
  }
  return samples;
}

async function scrape(server: TestServer): Promise<Map<string, number>> {
  const res = await fetch(`${server.url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parse(await res.text());
}

/** Scrapes until `ready` holds: sockets are counted out when the server hears that they closed. */
async function scrapeUntil(server: TestServer, ready: (samples: Map<string, number>) => boolean): Promise<Map<string, number>> {
  for (let i = 0; ; i++) {
    const samples = await scrape(server);
    if (ready(samples) || i === 50) return samples;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const unknownRoute = { error: 'No route GET /metrics', code: 'NOT_FOUND' };

t.test('off by default: /metrics is an unknown route', async (t) => {
  const server = await startServer(t);
  const res = await request(server, 'GET', '/metrics');
  t.equal(res.status, 404);
  t.same(res.body, unknownRoute);
  t.equal(server.app.metrics, null, 'and nothing is counted');
});

t.test('METRICS=true: Prometheus text with the process and the server metrics', async (t) => {
  const server = await startServer(t, { METRICS: 'true' });
  const res = await fetch(`${server.url}/metrics`);
  t.equal(res.status, 200);
  t.equal(res.headers.get('content-type'), PROMETHEUS_TEXT);
  const text = await res.text();
  const samples = parse(text);
  for (const series of [
    'dm_sockets_open{surface="native"}',
    'dm_sockets_open{surface="shindensen"}',
    'dm_sockets_open{surface="rooms"}',
    'dm_users_online',
    'dm_log_queue_depth',
    'dm_messages_stored_total',
    'dm_events_delivered_total{via="live"}',
    'dm_events_delivered_total{via="resume"}',
    'dm_log_commit_seconds_count',
    'dm_log_flush_seconds_count',
    'nodejs_eventloop_lag_seconds',
    'nodejs_eventloop_lag_p99_seconds',
    'process_cpu_seconds_total',
  ]) {
    t.ok(samples.has(series), series);
  }
  t.match(text, /# TYPE dm_log_commit_seconds histogram/);
  t.match(text, /# TYPE dm_messages_stored_total counter/);
  t.equal(samples.get('dm_sockets_open{surface="native"}'), 0);
  t.equal(samples.get('dm_users_online'), 0);
});

t.test('the counters follow two users who chat over every surface', async (t) => {
  const server = await startServer(t, { METRICS: 'true' });
  const { alice, bob, chatId } = await pair(server);
  const wsBase = server.url.replace(/^http/, 'ws');
  const aliceSocket = await connect(t, server, alice);
  const bobSocket = await connect(t, server, bob);
  const bobShindensen = await open(t, `${wsBase}/ws?token=${encodeURIComponent(bob.token)}`);
  const aliceRoom = await open(t, `${wsBase}/api/ws/${GENERAL}?token=${encodeURIComponent(alice.token)}`);

  const before = await scrape(server);
  t.equal(before.get('dm_sockets_open{surface="native"}'), 2);
  t.equal(before.get('dm_sockets_open{surface="shindensen"}'), 1);
  t.equal(before.get('dm_sockets_open{surface="rooms"}'), 1);
  t.equal(before.get('dm_users_online'), 2);

  const n = 5;
  for (let i = 0; i < n; i++) aliceSocket.send({ chat_id: chatId, content: `hello ${i}` });
  for (let i = 0; i < n; i++) {
    await aliceSocket.nextOfType('message');
    await bobSocket.nextOfType('message');
    await bobShindensen.next((f) => f.content === `hello ${i}`);
  }
  const after = await scrape(server);
  t.ok(after.get('dm_messages_stored_total')! - before.get('dm_messages_stored_total')! >= n, 'messages stored');
  const live = 'dm_events_delivered_total{via="live"}';
  // Alice's socket, Bob's two: the room socket follows another chat.
  t.ok(after.get(live)! - before.get(live)! >= 3 * n, 'events delivered, one per socket');
  t.ok(after.get('dm_log_commit_seconds_count')! >= 1, 'commits timed');
  t.ok(after.get('dm_log_flush_seconds_count')! >= 1, 'flushes timed');
  t.equal(after.get('dm_log_queue_depth'), 0);

  // A socket that comes later replays what it missed.
  const bobLater = await connect(t, server, bob);
  bobLater.send({ type: 'resume', after: 0 });
  await bobLater.nextOfType('resumed');
  t.ok((await scrape(server)).get('dm_events_delivered_total{via="resume"}')! >= n, 'a resume counts what it replays');

  await bobSocket.close();
  await bobLater.close();
  await bobShindensen.close();
  await aliceRoom.close();
  const closed = await scrapeUntil(server, (s) => s.get('dm_users_online') === 1);
  t.equal(closed.get('dm_sockets_open{surface="native"}'), 1, 'closed sockets are counted out');
  t.equal(closed.get('dm_sockets_open{surface="shindensen"}'), 0);
  t.equal(closed.get('dm_sockets_open{surface="rooms"}'), 0);
  t.equal(closed.get('dm_users_online'), 1);
});

t.test('without a token: loopback peers only, and not through a proxy', async (t) => {
  const server = await startServer(t, { METRICS: 'true', RATE_LIMIT_API: '2' });
  const get = (remoteAddress: string, headers: Record<string, string> = {}) =>
    server.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers });

  for (const address of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) {
    t.equal((await get(address)).statusCode, 200, `${address} gets it`);
  }
  for (const address of ['203.0.113.5', '10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1']) {
    const res = await get(address);
    t.equal(res.statusCode, 404, `${address} is refused`);
    t.same(res.json(), unknownRoute, 'as a route that does not exist');
  }
  for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
    const res = await get('127.0.0.1', { [header]: header === 'forwarded' ? 'for=203.0.113.5' : '203.0.113.5' });
    t.equal(res.statusCode, 404, `a loopback request that a proxy passed on (${header}) is refused`);
  }
  // More than RATE_LIMIT_API allows.
  for (let i = 0; i < 5; i++) t.equal((await get('127.0.0.1')).statusCode, 200, 'scrapes are not rate-limited');
  const docs = (await server.app.inject({ method: 'GET', url: '/docs/json' })).json();
  t.notOk('/metrics' in docs.paths, 'not in the API docs');
});

t.test('with METRICS_TOKEN: the bearer token, from anywhere', async (t) => {
  const server = await startServer(t, { METRICS: 'true', METRICS_TOKEN: TOKEN });
  const get = (remoteAddress: string, authorization?: string) =>
    server.app.inject({ method: 'GET', url: '/metrics', remoteAddress, headers: authorization ? { authorization } : {} });

  const missing = await get('127.0.0.1');
  t.equal(missing.statusCode, 401, 'loopback needs it too');
  t.same(missing.json(), { error: 'Authorization: Bearer <METRICS_TOKEN> is required', code: 'UNAUTHORIZED' });
  for (const wrong of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, 'Bearer x', `Basic ${TOKEN}`]) {
    const res = await get('203.0.113.5', wrong);
    t.equal(res.statusCode, 401, `refused: ${wrong}`);
  }
  t.same((await get('203.0.113.5', 'Bearer nope')).json(), { error: 'The metrics token is not valid', code: 'INVALID_TOKEN' });
  const right = await server.app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: '203.0.113.5',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '198.51.100.7' },
  });
  t.equal(right.statusCode, 200, 'the right token works from another machine, through a proxy');
  t.equal(right.headers['content-type'], PROMETHEUS_TEXT);
  t.match(right.body, /^dm_users_online 0$/m);
});

t.test('configuration', async (t) => {
  const dataDir = t.testdir();
  const base = { DATABASE_URL: 'sqlite::memory:', DATA_DIR: dataDir };
  t.equal(loadConfig(base).metrics, false);
  t.equal(loadConfig({ ...base, METRICS: 'true' }).metrics, true);
  t.equal(loadConfig({ ...base, METRICS: 'true' }).metricsToken, null);
  t.equal(loadConfig({ ...base, METRICS: 'true', METRICS_TOKEN: TOKEN }).metricsToken, TOKEN);
  t.throws(() => loadConfig({ ...base, METRICS: 'yes' }), /METRICS must be one of true, false/);
  t.throws(() => loadConfig({ ...base, METRICS: 'true', METRICS_TOKEN: 'short' }), /METRICS_TOKEN must be at least 16 characters/);
});
