import t, { type Test } from 'tap';
import {
  clusterServices,
  threeProcesses,
  Cluster,
  Device,
  group,
  health,
  restBurst,
  Sender,
  stored,
  summary,
  until,
  verify,
  watchHealth,
  type Node,
  type Tally,
} from '../helpers/cluster.js';

// Three server processes on one PostgreSQL database and one Redis, broken on purpose in the middle
// of bursts: a process killed with SIGKILL, and a process that loses its PostgreSQL connections.
// Devices follow docs/delivery.md (reconnect to another process, resume after the highest id, send
// again what has no echo) and must end up holding every stored message exactly once, in id order.

/** How many SIGKILL trials to run (each kills one process mid-burst, then starts a new one). */
const TRIALS = Number(process.env.CLUSTER_TRIALS ?? 3);

if (clusterServices(t)) {
  t.setTimeout(300_000);
  let cluster!: Cluster;
  t.before(async () => {
    cluster = await threeProcesses(t);
  });

  /** One device per user per process, and a WebSocket sender per process (users 0, 1, 2). */
  const spread = async (prefix: string, perSender: number, window: number) => {
    const home = cluster.alive()[0]!;
    const { users, chatId } = await group(home, prefix, 4);
    const devices = users.flatMap((user, u) => cluster.alive().map((node) => ({ device: new Device(`${prefix}${u}@${node.index}`, user, cluster), node })));
    const senders = cluster.alive().map((node, i) => ({ sender: new Sender(new Device(`${prefix}${i} sender@${node.index}`, users[i]!, cluster), chatId, `${prefix}s${i}`, perSender, window), node }));
    await Promise.all([...devices.map(({ device, node }) => device.start(node)), ...senders.map(({ sender, node }) => sender.device.start(node))]);
    return { users, chatId, devices: devices.map((d) => d.device), senders: senders.map((s) => s.sender) };
  };

  const confirmed = (senders: Sender[], extra = 0) => senders.reduce((n, s) => n + s.acked.size, extra);
  const everyDevice = (devices: Device[], senders: Sender[]) => [...devices, ...senders.map((s) => s.device)];
  const add = (sum: Tally | null, tally: Tally): Tally =>
    sum === null ? { ...tally } : (Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, v + tally[k as keyof Tally]])) as unknown as Tally);

  t.test(`SIGKILL mid-burst (${TRIALS} trials): every confirmed and every committed message reaches every device once, in order`, async (t) => {
    const PER_SENDER = 200;
    const REST = 60;
    let total: Tally | null = null;
    let committedUnconfirmed = 0;
    let confirmedAtKill = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const victim = trial % 3;
      const { users, chatId, devices, senders } = await spread(`k${trial}x`, PER_SENDER, 30);
      const restAcked = new Map<string, number>();
      // Over REST too, to the process that dies: a 201 is a confirmation like an echo.
      const rest = restBurst(cluster, victim, users[3]!, chatId, `k${trial}r`, REST, 4, restAcked);
      senders.forEach((s) => s.pump());
      const all = 3 * PER_SENDER + REST;
      await until(() => confirmed(senders, restAcked.size) >= all / 3, 'a third of the burst confirmed');

      const dead = await cluster.kill(victim);
      const acked = new Map([...senders.flatMap((s) => [...s.acked]), ...restAcked]);
      const { rows: atKill } = await cluster.db.query<{ id: number; client_id: string }>('select id, client_id from messages where chat_id = $1', [chatId]);
      t.ok(acked.size < all, `trial ${trial}: process ${victim} killed mid-burst (${acked.size} of ${all} confirmed)`);
      const onDead = devices.filter((d) => d.connections[0]!.node === victim).length;

      await until(() => confirmed(senders, restAcked.size) === all, `trial ${trial}: every send confirmed after the crash`, 60_000);
      await rest;

      const expected = await stored(cluster, [chatId]);
      const ids = expected.get(chatId)!;
      const { rows } = await cluster.db.query<{ id: number; client_id: string }>('select id, client_id from messages where chat_id = $1 order by id', [chatId]);
      t.equal(ids.length, all, `trial ${trial}: each message stored once`);
      t.equal(new Set(rows.map((r) => r.client_id)).size, all, `trial ${trial}: every client_id stored`);
      const byClientId = new Map(rows.map((r) => [r.client_id, Number(r.id)]));
      t.same(
        [...acked].filter(([clientId, id]) => byClientId.get(clientId) !== id),
        [],
        `trial ${trial}: every message confirmed before the crash is stored with the id it was confirmed with`,
      );
      const unconfirmed = atKill.filter((r) => !acked.has(r.client_id)).length;
      const tally = await verify(t, `trial ${trial}`, everyDevice(devices, senders), expected);
      t.comment(
        `trial ${trial}: killed process ${victim} with ${acked.size}/${all} confirmed and ${atKill.length} stored ` +
          `(${unconfirmed} committed but not yet confirmed); ${onDead} devices moved; ${summary(tally)}`,
      );
      total = add(total, tally);
      committedUnconfirmed += unconfirmed;
      confirmedAtKill += acked.size;

      await Promise.all(everyDevice(devices, senders).map((d) => d.stop()));
      t.equal(dead.child.process.signalCode, 'SIGKILL', `trial ${trial}: process ${victim} died of SIGKILL`);
      await cluster.spawn(victim);
    }
    t.comment(
      `SIGKILL: ${TRIALS} trials, ${confirmedAtKill} messages confirmed before a kill, ${committedUnconfirmed} committed by the dead process but not confirmed; ` +
        (total ? summary(total) : ''),
    );
  });

  /** The pids of the PostgreSQL connections of `node` (by application_name), the LISTEN one only with `listenOnly`. */
  const backends = async (node: Node, listenOnly: boolean) => {
    const { rows } = await cluster.db.query<{ pid: number }>(
      `select pid from pg_stat_activity where application_name = $1 ${listenOnly ? "and query ilike 'listen%'" : ''}`,
      [node.appName],
    );
    return rows.map((r) => r.pid);
  };

  const dropConnections = async (t: Test, label: string, victim: number, listenOnly: boolean) => {
    const { chatId, devices, senders } = await spread(listenOnly ? 'lsn' : 'all', 300, 40);
    senders.forEach((s) => s.pump());
    await until(() => confirmed(senders) >= 300, 'a third of the burst confirmed');

    const node = cluster.node(victim);
    const onVictim = everyDevice(devices, senders).flatMap((d) => (d.node === victim ? [d.connections.at(-1)!] : []));
    // Half of the devices there try it again first: it must refuse them while it cannot deliver.
    const returning = devices.filter((d) => d.node === victim).filter((_, i) => i % 2 === 0);
    for (const d of returning) d.returnFirst = true;
    const watch = watchHealth(node);
    const pids = await backends(node, listenOnly);
    if (listenOnly) t.equal(pids.length, 1, `${label}: process ${victim}'s LISTEN connection found`);
    else t.ok(pids.length > 1, `${label}: process ${victim}'s connections found (${pids.length})`);
    await cluster.db.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids]);

    await until(() => onVictim.every((c) => c.closed !== null), `${label}: the sockets on process ${victim} closed`, 15_000).catch(() => {});
    t.same(
      [...new Set(onVictim.map((c) => c.closed))],
      [1013],
      `${label}: every socket on process ${victim} (${onVictim.length}) was closed with 1013`,
    );
    const gone = () => node.child.process.exitCode !== null || node.child.process.signalCode !== null;
    await until(
      () => gone() || (watch.states.includes('503 DELIVERY_UNAVAILABLE') && watch.states.at(-1) === '200'),
      `${label}: /healthz 503 then 200`,
      20_000,
    ).catch(() => {});
    const states = await watch.stop();
    if (gone()) {
      t.comment(`${label}: process ${victim} exited (${node.child.process.exitCode ?? node.child.process.signalCode}); its last warnings and errors:`);
      for (const line of cluster.problems(node)) t.comment(`  ${line}`);
    }
    t.ok(states.includes('503 DELIVERY_UNAVAILABLE'), `${label}: /healthz answered 503 DELIVERY_UNAVAILABLE meanwhile (${states.join(' → ')})`);
    t.equal(states.at(-1), '200', `${label}: /healthz answers 200 again`);
    t.notOk(gone(), `${label}: process ${victim} is still running`);

    await until(() => confirmed(senders) === 900, `${label}: every send confirmed`, 60_000);
    const expected = await stored(cluster, [chatId]);
    t.equal(expected.get(chatId)!.length, 900, `${label}: each message stored once`);
    const tally = await verify(t, label, everyDevice(devices, senders), expected);
    const refusals = everyDevice(devices, senders).flatMap((d) => [...d.refusals]);
    if (listenOnly) {
      t.ok(
        refusals.some(([reason]) => reason === '503 DELIVERY_UNAVAILABLE'),
        `${label}: process ${victim} refused the devices that came back at once with 503 DELIVERY_UNAVAILABLE`,
      );
    }
    const refused = refusals.map(([reason, n]) => `${n}× ${reason}`);
    t.comment(`${label}: /healthz ${states.join(' → ')}; ${onVictim.length} sockets closed; refused reconnects: ${refused.join(', ') || 'none'}; ${summary(tally)}`);
    await Promise.all(everyDevice(devices, senders).map((d) => d.stop()));
  };

  t.test("PostgreSQL drops a process's LISTEN connection mid-burst: its sockets close with 1013, devices resume elsewhere", async (t) => {
    await dropConnections(t, 'listen dropped', 1, true);
  });

  t.test('PostgreSQL drops every connection of a process mid-burst: it recovers, nothing is lost', async (t) => {
    await dropConnections(t, 'all dropped', 2, false);
    // Whatever became of it, the next test (if any) gets three processes.
    if (!cluster.nodes[2] || cluster.nodes[2].child.process.exitCode !== null) {
      cluster.nodes[2] = null;
      await cluster.spawn(2);
    }
    t.equal((await health(cluster.node(2))).status, 200);
  });
}
