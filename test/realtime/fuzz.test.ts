import fc from 'fast-check';
import t from 'tap';
import { pair, request, startServer } from '../helpers/server.js';
import { connect, type Frame } from '../helpers/ws-client.js';

// Random and malformed input, over the WebSocket and REST: the server never crashes, never
// answers 500, and every frame is answered (or is a valid frame that is not answered by design).

const RUNS = 1000;

/** Values of every JSON type, biased towards what the server looks at. */
const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom(-1, 0, 1, 2, 2 ** 31, '1', '', null, true, [], {}),
);

const frameObject = (chatId: number) =>
  fc.record(
    {
      type: fc.oneof(fc.constantFrom('send', 'typing', 'read', 'resume', 'ping', 'bogus', ''), anyValue),
      op: fc.oneof(fc.constant('IDENTIFY'), anyValue),
      chat_id: fc.oneof(fc.constant(chatId), anyValue),
      content: fc.oneof(fc.string({ minLength: 0, maxLength: 4100 }), anyValue),
      client_id: anyValue,
      message_id: anyValue,
      after: anyValue,
      d: anyValue,
    },
    { requiredKeys: [] },
  );

const rawFrame = (chatId: number) =>
  fc.oneof(
    frameObject(chatId).map((f) => JSON.stringify(f)),
    // Well-formed sends, so that valid frames are among the random ones.
    fc
      .record({ chat_id: fc.constant(chatId), content: fc.string({ minLength: 1, maxLength: 100 }), client_id: fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined }) }, { requiredKeys: ['chat_id', 'content'] })
      .map((f) => JSON.stringify(f)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
  );

/** Frames that are valid and, by design, answered to others rather than to the sender. */
const silentByDesign = (frame: unknown) =>
  typeof frame === 'object' && frame !== null && ['typing', 'read'].includes((frame as Frame).type);

t.test(`${RUNS} random WebSocket frames: each answered, the socket stays open`, async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const socket = await connect(t, server, alice);
  let unanswered = 0;
  let messages = 0;

  let round = 0;
  await fc.assert(
    fc.asyncProperty(rawFrame(chatId), async (text) => {
      // A read of a message that does not exist waits for earlier sends to commit, then answers an
      // error carrying its client_id: it marks the end of this round's answers.
      const marker = `marker-${round++}`;
      socket.send(text);
      socket.send({ type: 'read', chat_id: chatId, message_id: 2 ** 31 - 1, client_id: marker });
      const answers: Frame[] = [];
      for (let f = await socket.next(); f.client_id !== marker || f.type !== 'error'; f = await socket.next()) answers.push(f);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      messages += answers.filter((a) => a.type === 'message').length;
      if (answers.length === 0 && !silentByDesign(parsed)) {
        unanswered++;
        t.comment(`unanswered: ${text.slice(0, 200)}`);
      }
      return answers.every((a) => a.type !== 'error' || (typeof a.code === 'string' && typeof a.error === 'string' && a.code !== 'INTERNAL_ERROR'));
    }),
    { numRuns: RUNS },
  );
  t.equal(unanswered, 0, 'every frame got a message or an error frame');
  t.ok(messages > 0, `${messages} valid sends among them`);
  await socket.ping();
});

const routes: [method: string, path: (chatId: number) => string][] = [
  ['POST', () => '/v1/login'],
  ['POST', () => '/v1/register'],
  ['PATCH', () => '/v1/me'],
  ['PUT', () => '/v1/me/password'],
  ['POST', () => '/v1/chats/initiate'],
  ['POST', () => '/v1/chats'],
  ['POST', (id) => `/v1/chats/${id}/members`],
  ['POST', (id) => `/v1/chats/${id}/messages`],
  ['PATCH', (id) => `/v1/chats/${id}/messages/1`],
  ['POST', (id) => `/v1/chats/${id}/read`],
];

t.test(`${RUNS} random REST bodies: never a 500, always {error, code} on 4xx`, async (t) => {
  const server = await startServer(t);
  const { alice, chatId } = await pair(server);
  const body = fc.oneof(
    frameObject(chatId).map((f) => JSON.stringify(f)),
    fc.record({ username: anyValue, password: anyValue, target_username: anyValue, target_id: anyValue, name: anyValue, members: anyValue, display_name: anyValue, bio: anyValue, user_id: anyValue }, { requiredKeys: [] }).map((b) => JSON.stringify(b)),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 100 }),
  );
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...routes), body, fc.oneof({ arbitrary: fc.constant('application/json'), weight: 8 }, fc.constant('text/plain'), fc.constant('application/x-www-form-urlencoded')), async ([method, path], payload, type) => {
      const res = await request(server, method, path(chatId), { token: alice.token, body: payload, headers: { 'content-type': type } });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) return false;
      if (res.status >= 400) return typeof res.body?.error === 'string' && typeof res.body?.code === 'string';
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass(`statuses seen: ${JSON.stringify(Object.fromEntries(statuses))}`);
  t.equal((await request(server, 'GET', '/healthz')).status, 200, 'still healthy');
});
