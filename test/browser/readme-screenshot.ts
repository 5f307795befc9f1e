// Makes docs/screenshot.png, the README's picture of the web client: a realistic conversation at
// desktop size. Not part of `npm test`; run it by hand with
//   npx tap --disable-coverage test/browser/readme-screenshot.ts
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { login, request, startServer, type Session, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { chromiumMissing, launch, logIn, message, skipReason } from './browser.js';

const output = fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url));

async function say(server: TestServer, from: Session, chatId: number, content: string) {
  const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: from.token, body: { content } });
  if (res.status !== 201) throw new Error(`send: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: number };
}

async function direct(server: TestServer, from: Session, to: string): Promise<number> {
  const res = await request(server, 'POST', '/v1/chats/initiate', { token: from.token, body: { target_username: to } });
  return res.body.chat_id;
}

if (chromiumMissing) {
  t.plan(0, skipReason);
} else {
  t.test('README screenshot', async (t) => {
    const server = await startServer(t);
    const people: Record<string, Session> = {};
    for (const [name, display] of [
      ['alice', 'Alice Chen'],
      ['bob', 'Bob Martin'],
      ['carol', 'Carol Díaz'],
      ['dave', 'Dave Okafor'],
      ['erin', 'Erin Walsh'],
    ] as const) {
      people[name] = await login(server, name);
      await request(server, 'PATCH', '/v1/me', { token: people[name].token, body: { display_name: display } });
    }
    const { alice, bob, carol, dave, erin } = people as Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin', Session>;

    // Older chats first, so that the list is ordered by activity with the open one on top.
    const withErin = await direct(server, erin, 'alice');
    await say(server, erin, withErin, 'Here are the slides from Thursday.');
    const last = await say(server, alice, withErin, 'Thanks, Erin! See you Monday.');
    await request(server, 'POST', `/v1/chats/${withErin}/read`, { token: erin.token, body: { message_id: last.id } });

    const withCarol = await direct(server, carol, 'alice');
    await say(server, carol, withCarol, 'Thanks for the review!');

    const hike = await request(server, 'POST', '/v1/chats', { token: dave.token, body: { name: 'Weekend hike', members: ['alice', 'bob', 'carol'] } });
    await say(server, dave, hike.body.id, 'Saturday, 8am at the trailhead?');
    await say(server, carol, hike.body.id, 'Works for me. I’ll bring snacks 🥨');
    await say(server, bob, hike.body.id, 'Count me in');

    const withBob = await direct(server, bob, 'alice');
    const lines: [Session, string][] = [
      [bob, 'Morning! Did the deploy go out last night?'],
      [alice, 'It did. Version 0.4 is live, and the migrations ran in under a second.'],
      [bob, 'Nice. Anything odd in the logs?'],
      [alice, 'One rate-limit warning from the load test, nothing from real users.'],
      [alice, 'The reconnect fix is in too: a dropped phone now catches up on everything it missed.'],
      [bob, 'Perfect. I’ll write the release notes after lunch.'],
      [alice, 'Great, send them over when they’re ready and I’ll review.'],
    ];
    let lastId = 0;
    for (const [who, text] of lines) lastId = (await say(server, who, withBob, text)).id;

    // Bob and Carol are online; Bob has read everything and is typing.
    const bobSocket = await connect(t, server, bob, 'identify');
    await connect(t, server, carol, 'identify');

    const browser = await launch(t);
    const context = await browser.newContext({ viewport: { width: 1200, height: 750 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await logIn(page, server.url, 'alice');
    await page.getByRole('button', { name: /^Bob Martin/ }).click();
    await message(page, lines.at(-1)![1]).waitFor();
    await request(server, 'POST', `/v1/chats/${withBob}/read`, { token: bob.token, body: { message_id: lastId } });
    await page.locator('li.msg.mine .receipt', { hasText: 'Seen' }).waitFor();
    bobSocket.send({ type: 'typing', chat_id: withBob });
    await page.locator('#typing', { hasText: 'is typing' }).waitFor();
    await page.locator('#composer-input').blur();
    await page.screenshot({ path: output });
    t.pass(`wrote ${output}`);
  });
}
