import t from 'tap';
import WebSocket from 'ws';
import { pair, request, startServer } from '../helpers/server.js';
import { GENERAL } from '../helpers/rooms-api.js';

// Events are handed to sockets as shared bytes: every surface's clients must still get text frames.

t.test('every surface sends events as text frames', async (t) => {
  const server = await startServer(t);
  const { alice, bob, chatId } = await pair(server);
  const base = server.url.replace(/^http/, 'ws');
  const open = (url: string) =>
    new Promise<{ ws: WebSocket; frames: { text: string; binary: boolean }[] }>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${bob.token}` } });
      t.teardown(() => ws.terminate());
      const frames: { text: string; binary: boolean }[] = [];
      ws.on('message', (data, isBinary) => frames.push({ text: data.toString(), binary: isBinary }));
      ws.once('open', () => resolve({ ws, frames }));
      ws.once('error', reject);
    });
  const native = await open(`${base}/v1/ws`);
  const shindensen = await open(`${base}/ws`);
  const rooms = await open(`${base}/api/ws/${GENERAL}`);
  native.ws.send('{"type":"ping"}');
  await new Promise((r) => setTimeout(r, 100));

  await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'direct' } });
  await request(server, 'POST', '/api/messages', { token: alice.token, body: { room_id: GENERAL, content: 'room' } });
  await new Promise((r) => setTimeout(r, 200));
  for (const [name, { frames }] of Object.entries({ native, shindensen, rooms })) {
    t.ok(frames.length > 0, `${name} got frames`);
    t.same(frames.filter((f) => f.binary), [], `${name}: no binary frame`);
  }
  // Opening the room socket made bob a member of the room: a chat frame, then the room's message too.
  t.same(native.frames.map((f) => JSON.parse(f.text).type).sort(), ['chat', 'message', 'message', 'pong']);
  t.match(rooms.frames.map((f) => JSON.parse(f.text).message.content), ['room']);
});
