import t from 'tap';
import WebSocket from 'ws';
import { pair, startServer } from '../helpers/server.js';
import { connected, history, newClient, record, waitFor, type Client } from './helpers.js';

// web/client.js's handshake: IDENTIFY, resume and the outbox leave together when the socket opens,
// before READY; a replay that comes after live frames (the server's 1 s hold expired before the
// resume reached it) loses and doubles nothing; reconnectNow() lets a young handshake finish.

/** Each frame a client sent, with the client's status at that moment. */
type Sent = { frame: any; status: string };

/**
 * ws's WebSocket that records the client's frames; `afterFirst` runs in a microtask after the
 * first one (IDENTIFY), once the client has done all it does when the socket opens.
 */
function recording(client: () => Client, sent: Sent[], afterFirst: () => void) {
  return class extends WebSocket {
    override send(data: any, ...rest: any[]): void {
      sent.push({ frame: JSON.parse(String(data)), status: client().status });
      if (sent.length === 1) queueMicrotask(afterFirst);
      (super.send as any)(data, ...rest);
    }
  };
}

/** ws's WebSocket whose frames after the first (IDENTIFY) leave `delayMs` late, in order: a slow uplink. */
function slowAfterIdentify(delayMs: number) {
  return class extends WebSocket {
    private frames = 0;
    override send(data: any, ...rest: any[]): void {
      if (this.frames++ === 0) return (super.send as any)(data, ...rest);
      setTimeout(() => this.readyState === WebSocket.OPEN && (super.send as any)(data, ...rest), delayMs);
    }
  };
}

t.test('IDENTIFY, then resume, then the outbox, all sent as the socket opens, before READY', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const b = newClient(t, server, { session: bob });
  await connected(b);
  const atBob = record(b, 'message');
  b.send(chatId, 'seen before');
  await waitFor(() => atBob.length === 1, 'the first message');
  const seen = atBob[0].id;

  const sent: Sent[] = [];
  let during: { client_id: string } | undefined;
  const a: Client = newClient(t, server, {
    session: alice,
    // A send made once the socket is open, READY not yet in: it goes straight out too.
    WebSocket: recording(() => a, sent, () => (during = a.send(chatId, 'while connecting'))),
  });
  const one = a.send(chatId, 'one');
  const two = a.send(chatId, 'two');
  await connected(a, { after: seen });
  t.match(
    sent.map((s) => s.frame),
    [
      { op: 'IDENTIFY', d: { token: alice.token } },
      { type: 'resume', after: seen },
      { chat_id: chatId, content: 'one', client_id: one.client_id },
      { chat_id: chatId, content: 'two', client_id: two.client_id },
      { chat_id: chatId, content: 'while connecting', client_id: during?.client_id },
    ],
    'IDENTIFY, resume after the highest id, the outbox, then the send made meanwhile',
  );
  t.equal(sent.length, 5, 'nothing sent again at READY');
  t.same(
    sent.map((s) => s.status),
    ['connecting', 'connecting', 'connecting', 'connecting', 'connecting'],
    'all before READY',
  );

  await waitFor(() => a.pending().length === 0, 'the echoes');
  await waitFor(() => atBob.length === 4, 'the three messages at Bob');
  t.same(atBob.map((m) => m.content), ['seen before', 'one', 'two', 'while connecting'], 'each delivered once, in order');
  t.same((await history(server, bob.token, chatId)).map((m) => m.content), ['seen before', 'one', 'two', 'while connecting'], 'each stored once');
});

t.test('a resume that reaches the server after its hold: live frames come first, yet nothing is lost or doubled', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const b = newClient(t, server, { session: bob });
  await connected(b);
  // Alice is away: these are for her replay.
  for (const text of ['away 1', 'away 2', 'away 3']) b.send(chatId, text);
  await waitFor(() => b.pending().length === 0, 'Bob\'s echoes');

  // Alice's uplink is slow: her resume (and her sends) reach the server 2.5 s after IDENTIFY, when
  // the server has stopped holding live frames (1 s).
  const a = newClient(t, server, { session: alice, WebSocket: slowAfterIdentify(2500) });
  t.equal(a.replaying, false, 'no replay before a socket opens');
  const mine = a.send(chatId, 'from Alice, written offline');
  const got: { content: string; id: number; replaying: boolean }[] = [];
  a.on('message', (m: any) => got.push({ content: m.content, id: m.id, replaying: a.replaying }));
  const resumed = record(a, 'resumed');
  await connected(a);
  t.equal(a.replaying, true, 'replaying from the socket\'s open until its resumed');
  b.send(chatId, 'live 1');
  b.send(chatId, 'live 2');
  await waitFor(() => got.filter((m) => m.content.startsWith('live')).length === 2, 'the live frames, after the hold');
  t.same(resumed, [], 'they came before the replay');
  await waitFor(() => resumed.length === 1, 'the end of the replay', 10_000);
  t.equal(a.replaying, false, 'not replaying after resumed');
  await waitFor(() => a.pending().length === 0, 'Alice\'s echo');
  b.send(chatId, 'flush');
  await waitFor(() => got.some((m) => m.content === 'flush'), 'the flush message');

  const contents = got.map((m) => m.content);
  t.same(
    [...contents].sort(),
    ['away 1', 'away 2', 'away 3', 'flush', 'from Alice, written offline', 'live 1', 'live 2'],
    'every message emitted once: the replay below the live frames too',
  );
  t.ok(contents.indexOf('live 1') < contents.indexOf('away 1'), 'the live frames did come first');
  t.ok(
    got.filter((m) => m.content.startsWith('away') || m.content.startsWith('live')).every((m) => m.replaying),
    'what came before resumed was emitted with replaying true',
  );
  t.equal(got.find((m) => m.content === 'flush')?.replaying, false, 'live after resumed');
  const stored = await history(server, alice.token, chatId);
  t.equal(stored.filter((m) => m.client_id === mine.client_id).length, 1, 'Alice\'s message stored once');
  t.equal(stored.length, 7, 'nothing stored twice');
  t.equal(a.lastId, Math.max(...stored.map((m) => m.id)), 'lastId: the highest id');

  // After the replay, the former rule: an echo of a send made again is a repeat.
  a.ws!.send(JSON.stringify({ chat_id: chatId, content: mine.content, client_id: mine.client_id }));
  b.send(chatId, 'flush 2');
  await waitFor(() => got.some((m) => m.content === 'flush 2'), 'the second flush');
  t.equal(got.filter((m) => m.content === mine.content).length, 1, 'a repeated echo is not emitted again');
});

t.test('reconnectNow() replaces a socket still connecting only after 3 s', async (t) => {
  const made: Hanging[] = [];
  /** A WebSocket whose handshake never ends (a slow mobile link). */
  class Hanging {
    readyState = 0;
    closedWith: number | null = null;
    onopen = null;
    onmessage = null;
    onclose = null;
    onerror = null;
    constructor(readonly url: string) {
      made.push(this);
    }
    send(): void {
      throw new Error('not open');
    }
    close(code: number): void {
      this.closedWith = code;
      this.readyState = 3;
    }
  }
  const a = newClient(t, { url: 'http://127.0.0.1:1' }, { session: { token: 'x', user: { id: 1, username: 'alice' } } as any, WebSocket: Hanging });
  a.connect();
  t.equal(made.length, 1);
  t.equal(a.status, 'connecting');

  a.reconnectNow(); // the app came back to the foreground, a second after the handshake started
  t.equal(made.length, 1, 'a handshake younger than 3 s is left to finish');
  t.equal(made[0]!.closedWith, null);
  t.equal(a.ws, made[0]);

  a.connectingSince = Date.now() - 3100; // as 3.1 s later
  a.reconnectNow();
  t.equal(made.length, 2, 'older than 3 s: replaced');
  t.equal(made[0]!.closedWith, 1000, 'the old one closed');
  t.equal(a.ws, made[1]);
  t.equal(a.status, 'connecting');
  a.reconnectNow();
  t.equal(made.length, 2, 'the new one is young again');
});
