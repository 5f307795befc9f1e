// Makes docs/screenshot.png, the README's picture of the web client: a realistic conversation at
// desktop size. Not part of `npm test`; run it by hand with
//   npx tap --disable-coverage test/browser/readme-screenshot.ts
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { login, request, startServer, type Session, type TestServer } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { uploaded } from '../helpers/files.js';
import { chromiumMissing, launch, logIn, message, skipReason } from './browser.js';

const output = fileURLToPath(new URL('../../docs/screenshot.png', import.meta.url));

async function say(server: TestServer, from: Session, chatId: number, content: string, files: number[] = []) {
  const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: from.token, body: { content, files } });
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
  t.setTimeout(120_000);
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

    // A chart to share, drawn by the browser itself.
    const browser = await launch(t);
    const drawing = await browser.newPage({ viewport: { width: 520, height: 260 } });
    await drawing.setContent(chart());
    const picture = await drawing.screenshot({ type: 'png' });
    await drawing.close();
    const chartFile = await uploaded(server, alice.token, picture, 'latency.png');

    const withBob = await direct(server, bob, 'alice');
    const lines: [Session, string, number[]?][] = [
      [bob, 'Morning! Did the deploy go out last night?'],
      [alice, 'It did. Version 0.4 is live, and the migrations ran in under a second.'],
      [alice, 'Latency since then:', [chartFile.id]],
      [bob, 'Nice. Anything odd in the logs?'],
      [alice, 'One rate-limit warning from the load test, nothing from real users.'],
      [alice, 'The reconnect fix is in too: a dropped phone now catches up on everything it missed.'],
      [bob, 'Perfect. I’ll write the release notes after lunch.'],
      [alice, 'Great, send them over when they’re ready and I’ll review.'],
    ];
    let lastId = 0;
    for (const [who, text, files] of lines) lastId = (await say(server, who, withBob, text, files)).id;

    // Bob and Carol are online; Bob has read everything and is typing.
    const bobSocket = await connect(t, server, bob, 'identify');
    await connect(t, server, carol, 'identify');

    const context = await browser.newContext({ viewport: { width: 1200, height: 750 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await logIn(page, server.url, 'alice');
    // The first-visit offers (notifications, a password), answered.
    const notNow = page.getByRole('button', { name: 'Not now' });
    while ((await notNow.count()) > 0) await notNow.first().click();
    await page.getByRole('button', { name: /^Bob Martin/ }).click();
    await message(page, lines.at(-1)![1]).waitFor();
    await request(server, 'POST', `/v1/chats/${withBob}/read`, { token: bob.token, body: { message_id: lastId } });
    await page.locator('li.msg.mine .receipt', { hasText: 'Seen' }).waitFor();
    bobSocket.send({ type: 'typing', chat_id: withBob });
    await page.locator('#typing', { hasText: 'is typing' }).waitFor();
    await page.locator('.file-image img').evaluate((img: any) => img.decode());
    await page.locator('#composer-input').blur();
    await page.screenshot({ path: output });
    t.pass(`wrote ${output}`);
  });
}

/** A small bar chart of p99 latency, as a page to photograph. */
function chart(): string {
  const bars = [41, 39, 44, 40, 18, 15, 14, 16, 15, 13];
  const rects = bars
    .map((v, i) => `<rect x="${40 + i * 46}" y="${210 - v * 3.3}" width="30" height="${v * 3.3}" rx="4" fill="${i < 4 ? '#a5b4fc' : '#4f46e5'}"/>`)
    .join('');
  return `<body style="margin:0"><svg xmlns="http://www.w3.org/2000/svg" width="520" height="260" font-family="system-ui, sans-serif">
  <rect width="520" height="260" fill="#ffffff"/>
  <text x="24" y="30" font-size="16" font-weight="600" fill="#172033">p99 latency (ms), hourly</text>
  <line x1="30" y1="210" x2="500" y2="210" stroke="#e1e6ef"/>
  <line x1="223" y1="50" x2="223" y2="215" stroke="#b42318" stroke-dasharray="4 4"/>
  <text x="229" y="62" font-size="12" fill="#b42318">deploy 0.4</text>
  ${rects}
  </svg></body>`;
}
