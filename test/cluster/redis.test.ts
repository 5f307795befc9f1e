import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  clusterServices,
  threeProcesses,
  Device,
  group,
  RedisServer,
  Sender,
  stored,
  summary,
  until,
  verify,
  watchHealth,
} from '../helpers/cluster.js';

// Three server processes on one PostgreSQL database and a Redis of their own, which is killed with
// SIGKILL in the middle of a burst and started again on the same port ~2 s later. Messages travel
// through the database, not Redis: they keep flowing, and every device holds each once, in order.
// /healthz says REDIS_UNAVAILABLE while Redis is gone (typing and presence do not cross processes).

if (clusterServices(t)) {
  t.setTimeout(180_000);

  t.test('Redis killed mid-burst and started again: messages keep flowing, none lost, /healthz tells', async (t) => {
    const redis = await RedisServer.start(t);
    const cluster = await threeProcesses(t, { REDIS_URL: redis.url });
    const PER_SENDER = 600;

    const { users, chatId } = await group(cluster.node(0), 'rds', 4);
    const devices = users.flatMap((user, u) => cluster.alive().map((node) => ({ device: new Device(`rds${u}@${node.index}`, user, cluster), node })));
    const senders = [0, 1, 2].map((i) => new Sender(new Device(`rds${i} sender@${i}`, users[i]!, cluster), chatId, `rds${i}`, PER_SENDER, 20));
    await Promise.all([...devices.map(({ device, node }) => device.start(node)), ...senders.map((s, i) => s.device.start(cluster.node(i)))]);
    const everyDevice = [...devices.map((d) => d.device), ...senders.map((s) => s.device)];
    const confirmed = () => senders.reduce((n, s) => n + s.acked.size, 0);
    for (const node of cluster.alive()) t.equal((await fetch(`${node.url}/healthz`)).status, 200, `process ${node.index} is healthy`);

    senders.forEach((s) => s.pump());
    await until(() => confirmed() >= PER_SENDER / 2, 'a sixth of the burst confirmed');
    const watches = cluster.alive().map((node) => watchHealth(node));
    await redis.kill();
    const atKill = confirmed();
    const killedAt = Date.now();
    t.ok(atKill < 3 * PER_SENDER, `Redis killed mid-burst (${atKill} of ${3 * PER_SENDER} confirmed)`);
    await until(() => watches.every((w) => w.states.includes('503 REDIS_UNAVAILABLE')), '/healthz says REDIS_UNAVAILABLE everywhere', 5_000).catch(() => {});
    await sleep(Math.max(0, 2_000 - (Date.now() - killedAt)));
    const duringOutage = confirmed() - atKill;
    t.ok(duringOutage > 0 || confirmed() === 3 * PER_SENDER, `messages kept flowing while Redis was down (${duringOutage} confirmed in ~2 s)`);

    await redis.restart();
    await until(() => watches.every((w) => w.states.at(-1) === '200'), '/healthz 200 everywhere again', 20_000).catch(() => {});
    const states = await Promise.all(watches.map((w) => w.stop()));
    states.forEach((s, i) => {
      t.ok(s.includes('503 REDIS_UNAVAILABLE'), `process ${i}: /healthz answered 503 REDIS_UNAVAILABLE while Redis was down (${s.join(' → ')})`);
      t.equal(s.at(-1), '200', `process ${i}: /healthz answers 200 once Redis is back`);
    });

    await until(() => confirmed() === 3 * PER_SENDER, 'every send confirmed', 60_000);
    const expected = await stored(cluster, [chatId]);
    t.equal(expected.get(chatId)!.length, 3 * PER_SENDER, 'each message stored once');
    const tally = await verify(t, 'redis killed', everyDevice, expected);
    t.comment(
      `redis killed: ${atKill} confirmed before the kill, ${duringOutage} during the ~2 s outage; ` +
        `/healthz ${states.map((s, i) => `${i}: ${s.join(' → ')}`).join('; ')}; ${summary(tally)}`,
    );
    await Promise.all(everyDevice.map((d) => d.stop()));
  });
}
