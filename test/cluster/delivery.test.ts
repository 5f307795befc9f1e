import t from 'tap';
import {
  clusterServices,
  threeProcesses,
  api,
  Cluster,
  Device,
  group,
  login,
  Sender,
  stored,
  summary,
  until,
  verify,
  type Frame,
  type Session,
} from '../helpers/cluster.js';

// Three server processes on one PostgreSQL database and one Redis. Every process delivers the log
// from the database in commit order (src/log/tailer.ts); devices that follow docs/delivery.md
// ("What a client should do") move between the processes and must end up holding every message
// exactly once, in id order. The crash and outage scenarios are in crash.test.ts and redis.test.ts.

if (clusterServices(t)) {
  t.setTimeout(240_000);
  let cluster!: Cluster;
  t.before(async () => {
    cluster = await threeProcesses(t);
  });

  /** One device per user per process, and a sender per process (users 0, 1, 2). */
  const spread = async (prefix: string, perSender: number) => {
    const { users, chatId } = await group(cluster.node(0), prefix, 4);
    const devices = users.flatMap((user, u) => cluster.alive().map((node) => ({ device: new Device(`${prefix}${u}@${node.index}`, user, cluster), node })));
    const senders = [0, 1, 2].map((i) => new Sender(new Device(`${prefix}${i} sender@${i}`, users[i]!, cluster), chatId, `${prefix}${i}`, perSender));
    await Promise.all([...devices.map(({ device, node }) => device.start(node)), ...senders.map((s, i) => s.device.start(cluster.node(i)))]);
    return { users, chatId, devices: devices.map((d) => d.device), senders };
  };

  const allAcked = (senders: Sender[], timeoutMs = 60_000) =>
    until(() => senders.every((s) => s.acked.size === s.total), 'every send confirmed', timeoutMs);

  t.test('order across processes: concurrent bursts from three processes reach every socket in id order', async (t) => {
    const PER_SENDER = 400;
    const { chatId, devices, senders } = await spread('ord', PER_SENDER);
    senders.forEach((s) => s.pump());
    await allAcked(senders);

    const expected = await stored(cluster, [chatId]);
    const ids = expected.get(chatId)!;
    t.equal(ids.length, 3 * PER_SENDER, 'each message stored once');
    const acked = new Set(senders.flatMap((s) => [...s.acked.values()]));
    t.equal(acked.size, 3 * PER_SENDER, 'every echo names its own message');
    t.ok([...acked].every((id) => ids.includes(id)), 'every echo is a stored message');
    const tally = await verify(t, 'order', [...devices, ...senders.map((s) => s.device)], expected);
    t.equal(tally.connections, devices.length + senders.length, 'no socket was closed');
    t.comment(`order across processes: ${summary(tally)}`);
    await Promise.all([...devices, ...senders.map((s) => s.device)].map((d) => d.stop()));
  });

  t.test('drop right after a frame, resume on another process: every message once, in order', async (t) => {
    const PER_SENDER = 300;
    const { chatId, devices, senders } = await spread('drp', PER_SENDER);
    // Each receiving device cuts its socket right after a frame, every 20 to 80 message frames,
    // while the burst runs, and reconnects to the next process with resume after its highest id.
    let dropping = true;
    let drops = 0;
    const countdown = () => 20 + Math.floor(Math.random() * 60);
    for (const device of devices) {
      let left = countdown();
      device.onMessage.push((_frame, d) => {
        if (!dropping || --left > 0) return;
        left = countdown();
        drops++;
        d.drop();
      });
    }
    senders.forEach((s) => s.pump());
    await allAcked(senders);
    dropping = false;

    const expected = await stored(cluster, [chatId]);
    t.equal(expected.get(chatId)!.length, 3 * PER_SENDER, 'each message stored once');
    const tally = await verify(t, 'drop and resume', [...devices, ...senders.map((s) => s.device)], expected);
    t.ok(drops >= devices.length, `devices dropped their sockets mid-burst (${drops} drops)`);
    const refused = devices.reduce((n, d) => n + [...d.refusals.values()].reduce((a, b) => a + b, 0), 0);
    t.comment(`drop and resume: ${drops} drops, ${refused} refused reconnects; ${summary(tally)}`);
    await Promise.all([...devices, ...senders.map((s) => s.device)].map((d) => d.stop()));
  });

  t.test('long paged replay across processes: a device that drops mid-replay resumes elsewhere', async (t) => {
    const BEHIND = 600;
    const { users, chatId } = await group(cluster.node(0), 'rpl', 2);
    const reader = new Device('rpl1 reader', users[1]!, cluster);
    const senderDevice = new Device('rpl0 sender@1', users[0]!, cluster);
    await Promise.all([reader.start(cluster.node(0)), senderDevice.start(cluster.node(1))]);
    const first = new Sender(senderDevice, chatId, 'rplA', 10);
    first.pump();
    await allAcked([first]);
    await until(() => reader.arrivals.length === 10, 'the reader holds the first 10');
    await reader.stop();

    const behind = new Sender(senderDevice, chatId, 'rplB', BEHIND, 60);
    behind.pump();
    await allAcked([behind]);

    // The reader comes back to process 0, drops after 170 replayed messages, resumes on process 1,
    // drops after 130 more, and finishes on process 2; meanwhile 100 more are sent live.
    const dropAfter = [170, 130];
    let onSocket = 0;
    let socket = 0;
    reader.onMessage.push((_frame, d) => {
      const last = d.arrivals.at(-1)!;
      if (last.socket !== socket) [socket, onSocket] = [last.socket, 0];
      onSocket++;
      const limit = dropAfter[d.connections.length - 2];
      if (last.replay && limit !== undefined && onSocket === limit) d.drop();
    });
    const live = new Sender(senderDevice, chatId, 'rplC', 100, 20);
    await reader.start(cluster.node(0));
    live.pump();
    await allAcked([live]);

    const expected = await stored(cluster, [chatId]);
    t.equal(expected.get(chatId)!.length, 10 + BEHIND + 100, 'each message stored once');
    const tally = await verify(t, 'paged replay', [reader, senderDevice], expected);
    const cutMidReplay = reader.connections.filter((c) => c.dropped && !c.resumed);
    t.equal(cutMidReplay.length, 2, 'the reader dropped twice in the middle of a replay');
    t.same(
      reader.connections.map((c) => c.node),
      [0, 0, 1, 2],
      'it resumed on another process each time',
    );
    const resumed = reader.others.filter((o) => o.frame.type === 'resumed').map((o) => o.frame);
    t.ok(resumed.every((f) => f.complete === true), 'resumed.complete is true');
    t.comment(`paged replay: ${reader.arrivals.filter((a) => a.replay).length} replayed frames over ${reader.connections.length} sockets; ${summary(tally)}`);
    await Promise.all([reader.stop(), senderDevice.stop()]);
  });

  t.test('events in resume: edits, deletes, read markers and chat changes made through one process replay on another', async (t) => {
    const { users, chatId } = await group(cluster.node(0), 'evt', 3);
    const [alice, bob, carol] = users as [Session, Session, Session];
    const bobDevice = new Device('evt1 (away)', bob, cluster);
    const carolDevice = new Device('evt2 (stays)', carol, cluster);
    await Promise.all([bobDevice.start(cluster.node(0)), carolDevice.start(cluster.node(2))]);
    const post = async (content: string) => {
      const res = await api(cluster.node(0), 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content } });
      if (res.status !== 201) throw new Error(`POST ${content}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as number;
    };
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(await post(`m${i}`));
    await until(() => bobDevice.arrivals.length === 20 && carolDevice.arrivals.length === 20, 'both hold the first 20');
    await bobDevice.stop();
    const bobMark = bobDevice.timeline.length;
    const carolMark = carolDevice.timeline.length;

    // Through process 0 while bob is away.
    const A = cluster.node(0);
    const edit = async (id: number, content: string) =>
      t.equal((await api(A, 'PATCH', `/v1/chats/${chatId}/messages/${id}`, { token: alice.token, body: { content } })).status, 200, `edit ${id}`);
    const remove = async (id: number) => t.equal((await api(A, 'DELETE', `/v1/chats/${chatId}/messages/${id}`, { token: alice.token })).status, 204, `delete ${id}`);
    const expectedKeys: string[] = [];
    for (const i of [2, 4, 6]) {
      await edit(ids[i]!, `edited ${i}`);
      expectedKeys.push(`updated ${ids[i]} edited ${i}`);
    }
    for (const i of [3, 8]) {
      await remove(ids[i]!);
      expectedKeys.push(`deleted ${ids[i]}`);
    }
    t.equal((await api(A, 'POST', `/v1/chats/${chatId}/read`, { token: carol.token, body: { message_id: ids[10] } })).status, 204, 'carol reads');
    expectedKeys.push(`read ${carol.user.id} ${ids[10]}`);
    await login(A, 'evt3');
    t.equal((await api(A, 'POST', `/v1/chats/${chatId}/members`, { token: alice.token, body: { username: 'evt3' } })).status, 200, 'a member joins');
    expectedKeys.push('chat evt0,evt1,evt2,evt3');
    const fresh = [await post('new 1'), await post('new 2')];
    expectedKeys.push(`message ${fresh[0]}`, `message ${fresh[1]}`);
    await edit(fresh[0]!, 'edited new 1');
    expectedKeys.push(`updated ${fresh[0]} edited new 1`);

    // Bob comes back on process 1 and resumes after the highest id he holds.
    const highest = bobDevice.highest;
    await bobDevice.start(cluster.node(1));
    t.equal(bobDevice.connections.at(-1)!.node, 1, 'bob is back on another process');
    await until(() => frameKeys(bobDevice, bobMark).length >= expectedKeys.length, 'bob has every change', 10_000).catch(() => {});
    await until(() => frameKeys(carolDevice, carolMark).length >= expectedKeys.length - 1, 'carol has every change', 10_000).catch(() => {});
    t.same(frameKeys(bobDevice, bobMark), expectedKeys, `after ${highest}, bob receives every change once, in the order it was made`);
    const replayed = bobDevice.others.filter((o) => o.socket === 2 && o.replay && o.frame.type !== 'resumed').length;
    t.comment(`events in resume: ${replayed} of ${expectedKeys.length - 2} events came in the replay (the rest live, behind it)`);
    const updated = bobDevice.others.find((o) => o.frame.type === 'message_updated' && o.frame.message.id === ids[2])?.frame;
    t.match(updated, { message: { id: ids[2], chat_id: chatId, content: 'edited 2', edited_at: String } }, 'message_updated carries the message as edited');
    t.match(
      bobDevice.others.find((o) => o.frame.type === 'message_deleted' && o.frame.id === ids[3])?.frame,
      { type: 'message_deleted', chat_id: chatId, id: ids[3] },
      'message_deleted names the message',
    );

    // Carol, who stayed on process 2, received the same changes live (not her own read marker).
    t.same(frameKeys(carolDevice, carolMark), expectedKeys.filter((k) => !k.startsWith('read ')), 'the device that stayed got the same changes live, in the same order');
    const expected = await stored(cluster, [chatId]);
    const tally = await verify(t, 'events', [bobDevice, carolDevice], expected);
    t.comment(`events in resume: ${summary(tally)}`);
    await Promise.all([bobDevice.stop(), carolDevice.stop()]);
  });
}

/** The frames a device received from `from` on (in its timeline), on socket `socket` if given, as comparable keys. */
function frameKeys(device: Device, from: number, socket?: number): string[] {
  return device.timeline
    .slice(from)
    .filter((entry) => socket === undefined || entry.socket === socket)
    .map((entry) => keyOf(entry.frame))
    .filter((key): key is string => key !== null);
}

function keyOf(frame: Frame): string | null {
  switch (frame.type) {
    case 'message':
      return `message ${frame.id}`;
    case 'message_updated':
      return `updated ${frame.message.id} ${frame.message.content}`;
    case 'message_deleted':
      return `deleted ${frame.id}`;
    case 'read':
      return `read ${frame.user_id} ${frame.message_id}`;
    case 'chat':
      return `chat ${frame.chat.members.map((m: { username: string }) => m.username).sort().join(',')}`;
    default:
      return null;
  }
}
