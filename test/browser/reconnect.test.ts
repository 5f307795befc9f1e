import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { buildApp } from '../../src/app.js';
import { pair, request, startServer, testConfig, type Teardown, type TestServer } from '../helpers/server.js';
import { launch, logIn, message, online, setVisibility, watchErrors, withChromium } from './browser.js';

// The page's globals, for the functions that run in it (the tests compile without the DOM library).
declare const localStorage: any;

// The web client keeps its conversation through a server restart, a lost network and a page that
// was in the background: it says it is disconnected, shows nobody's presence meanwhile, sends what
// was written in the gap once, and reconnects at once when the network or the page comes back.

/** A server that can be stopped and started again on the same SQLite file and the same port. */
async function restartableServer(t: Teardown) {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = testConfig(dir);
  let app: FastifyInstance | null = await buildApp(config, { logger: false });
  t.teardown(() => app?.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const server: TestServer = { app, config, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
  return {
    server,
    /** As on SIGTERM: sends under way go out, then every socket is closed with 1001. */
    async stop() {
      await app?.close();
      app = null;
    },
    async start() {
      const next = await buildApp(config, { logger: false });
      for (let attempt = 0; ; attempt++) {
        try {
          await next.listen({ host: '127.0.0.1', port });
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) {
            await next.close();
            throw err;
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      app = next;
      server.app = next;
    },
  };
}

const status = (page: Page) => page.locator('#conn-status');

/** Waits until the status line is not Online and says what it waits for. */
async function disconnected(page: Page) {
  await page.locator('#conn-status:not([data-state="online"])').waitFor();
  return (await status(page).textContent()) ?? '';
}

/** Polls the status line until it announces a retry at least `seconds` away; returns that delay. */
async function backoffOfAtLeast(page: Page, seconds: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = /retrying in (\d+) s/.exec((await status(page).textContent()) ?? '');
    if (match && Number(match[1]) >= seconds) return Number(match[1]);
    await page.waitForTimeout(50);
  }
  throw new Error(`no backoff of ${seconds} s within ${timeoutMs} ms: ${await status(page).textContent()}`);
}

/** The page's document as hidden or visible (a tab in the background, or back in front). */

/** Stops the page's timers where they are: a reconnect after this is not the backoff's. */
async function pauseTimers(page: Page) {
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1);
}

async function twoPeople(t: Teardown, server: TestServer, options: { clock?: boolean } = {}) {
  const browser = await launch(t);
  const errors: string[] = [];
  const newContext = async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(10_000);
    return context;
  };
  const aliceContext = await newContext();
  const bobContext = await newContext();
  if (options.clock) await aliceContext.clock.install();
  const alice = await aliceContext.newPage();
  const bob = await bobContext.newPage();
  watchErrors(alice, errors, 'alice');
  watchErrors(bob, errors, 'bob');
  const { chatId } = await pair(server);
  await logIn(alice, server.url, 'alice');
  await logIn(bob, server.url, 'bob');
  await alice.locator('.chat-item', { hasText: 'bob' }).click();
  await bob.locator('.chat-item', { hasText: 'alice' }).click();
  await alice.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();
  return { alice, bob, aliceContext, errors, chatId };
}

async function say(page: Page, text: string) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
}

const texts = (page: Page) => page.locator('#message-list li.msg .text').allTextContents();

/** What a page shows while its socket is down: no presence anywhere (no dot, no "online"). */
async function presenceUnknown(t: Test, page: Page, what: string) {
  await page.locator('#chat-subtitle', { hasText: 'Waiting for the connection…' }).waitFor();
  t.equal(await page.locator('#chat-avatar .presence-dot').count(), 0, `${what}: no presence dot in the header`);
  t.equal(await page.locator('#chat-list .presence-dot').count(), 0, `${what}: no presence dot in the list`);
  t.notMatch(await page.locator('.chat-item').first().getAttribute('aria-label'), /online/, `${what}: the list does not say online`);
}

async function presenceKnown(page: Page) {
  await page.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();
  await page.locator('#chat-avatar.is-online .presence-dot').waitFor();
  await page.locator('#chat-list .avatar.is-online .presence-dot').waitFor();
}

/**
 * What Chromium logs while the server or the network is away: failed socket attempts. Expected here,
 * and nothing else is.
 */
const expectedWhileDown = /console: (WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/v1\/ws' failed|Failed to load resource: net::ERR_(INTERNET_DISCONNECTED|CONNECTION_REFUSED))/;

withChromium(t, () => {
  t.test('a server restart mid-conversation: reconnected at once, the gap sent once, in order', async (t) => {
    const restartable = await restartableServer(t);
    const { server } = restartable;
    const { alice, bob, errors, chatId } = await twoPeople(t, server);

    await say(alice, 'Before the restart');
    await message(bob, 'Before the restart').waitFor();

    // The server shuts down (closing sockets with 1001): both pages say they are reconnecting.
    await restartable.stop();
    t.match(await disconnected(alice), /Disconnected: retrying in \d+ s|Connecting…/, 'alice sees she is disconnected');
    await disconnected(bob);
    await presenceUnknown(t, alice, 'alice, the server down');

    // Written in the gap: queued, shown as sending.
    for (const text of ['Written in the gap', 'And another one']) await say(alice, text);
    await alice.locator('li.msg.pending', { hasText: 'And another one' }).waitFor();
    t.equal(await alice.locator('li.msg.pending .state', { hasText: 'Sending…' }).count(), 2, 'both wait, shown as sending');

    // Down long enough for a few failed attempts, then back on the same file and port. Nobody
    // touches either page: each reconnects on its own, long before 10 s.
    await alice.waitForTimeout(1_500);
    await restartable.start();
    const back = Date.now();
    await online(alice);
    await online(bob);
    t.comment(`online again ${Date.now() - back} ms after the server was back`);
    t.ok(Date.now() - back < 8_000, 'reconnected well before 10 s');

    for (const text of ['Written in the gap', 'And another one']) {
      await message(bob, text).waitFor();
      await message(alice, text).waitFor();
    }
    await alice.locator('li.msg.pending').waitFor({ state: 'detached' });
    await say(bob, 'Got both');
    await message(alice, 'Got both').waitFor();
    await presenceKnown(alice);

    const expected = ['Before the restart', 'Written in the gap', 'And another one', 'Got both'];
    t.same(await texts(alice), expected, 'alice: each once, in order');
    t.same(await texts(bob), expected, 'bob: each once, in order');
    const alicesSession = await alice.evaluate(() => JSON.parse(localStorage.getItem('dm.session')!));
    const stored = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alicesSession.token });
    t.same(
      stored.body.map((m: { content: string }) => m.content),
      expected,
      'the server stored each once, in order',
    );
    t.same(errors.filter((e) => !expectedWhileDown.test(e)), [], 'no page errors');
    t.comment(`${errors.length} console errors while disconnected`);
  });

  t.test('offline and back online: presence unknown meanwhile, online again at once', async (t) => {
    const server = await startServer(t);
    const { alice, bob, aliceContext, errors } = await twoPeople(t, server, { clock: true });
    await presenceKnown(alice);

    await aliceContext.setOffline(true);
    await alice.locator('#conn-status[data-state="offline"]', { hasText: 'Offline: waiting for the network' }).waitFor();
    await presenceUnknown(t, alice, 'alice offline');
    // Bob sees her go: the server dropped her socket.
    await bob.locator('#chat-subtitle', { hasText: /last seen/ }).waitFor();

    for (const scheme of ['light', 'dark'] as const) {
      await alice.emulateMedia({ colorScheme: scheme });
      await alice.screenshot({ path: `/tmp/disconnected-${scheme}.png`, animations: 'disabled' });
    }
    await alice.emulateMedia({ colorScheme: null });

    // The backoff's timer cannot fire now: only the `online` event can bring her back.
    await pauseTimers(alice);
    await aliceContext.setOffline(false);
    await online(alice);
    await presenceKnown(alice);
    await bob.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();
    await alice.clock.resume();

    await say(bob, 'Welcome back');
    await message(alice, 'Welcome back').waitFor();

    // Bob leaves while alice is offline: she cannot hear of it. Back online, she must not show him
    // online from before (not even until the list is fetched again), only as he is now.
    await aliceContext.setOffline(true);
    await alice.locator('#conn-status[data-state="offline"]').waitFor();
    await bob.close();
    await alice.locator('#chat-subtitle').evaluate((el: any) => {
      const seen: string[] = [];
      (globalThis as any).__subtitles = seen;
      new (globalThis as any).MutationObserver(() => seen.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await aliceContext.setOffline(false);
    await online(alice);
    await alice.locator('#chat-subtitle', { hasText: /last seen/ }).waitFor();
    const shown: string[] = await alice.evaluate(() => (globalThis as any).__subtitles);
    t.notOk(shown.includes('online'), `never shown online after reconnecting: ${JSON.stringify(shown)}`);
    t.equal(await alice.locator('#chat-avatar.is-online').count(), 0, 'no green dot');

    t.same(errors.filter((e) => !expectedWhileDown.test(e)), [], 'no page errors');
    t.comment(`${errors.length} console errors while disconnected`);
  });

  t.test('back to the page during a long backoff: reconnects without waiting it out', async (t) => {
    const restartable = await restartableServer(t);
    const { server } = restartable;
    const { alice, errors } = await twoPeople(t, server, { clock: true });

    // The page goes to the background; the server goes away long enough for the backoff to grow.
    await setVisibility(alice, 'hidden');
    await restartable.stop();
    const delay = await backoffOfAtLeast(alice, 3);
    await pauseTimers(alice);
    t.comment(`the next attempt was ${delay} s away`);
    await restartable.start();
    await alice.waitForTimeout(500);
    t.not(await status(alice).getAttribute('data-state'), 'online', 'still waiting out the backoff');

    // Back to the page: it reconnects now (its timers stand still, so not by the backoff's timer).
    await setVisibility(alice, 'visible');
    await online(alice);
    await presenceKnown(alice);
    await alice.clock.resume();
    await say(alice, 'Back in front');
    await message(alice, 'Back in front').waitFor();
    t.same(errors.filter((e) => !expectedWhileDown.test(e)), [], 'no page errors');
    t.comment(`${errors.length} console errors while disconnected`);
  });

  t.test("the log-in form takes the server's usernames and explains a refusal", async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const errors: string[] = [];
    watchErrors(page, errors, 'page');
    const logins: string[] = [];
    page.on('request', (req) => {
      if (req.url().endsWith('/v1/login')) logins.push(req.postData() ?? '');
    });

    await page.goto(server.url);
    for (const refused of ['a b', 'bob!', '']) {
      await page.getByLabel('Username').fill(refused);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#login-error', { hasText: 'A username is 1–32 letters or digits (any alphabet), “_”, “.” or “-”.' }).waitFor();
      await page.getByLabel('Username').fill('');
      await page.locator('#login-error').evaluate((el) => (el.textContent = ''));
    }
    t.same(logins, [], 'refused on the page, before asking the server');

    // zoë typed decomposed (e + combining diaeresis) is the same name as composed.
    for (const [typed, name] of [['zoe\u0308', 'zoë'], ['José', 'José'], ['田中', '田中']] as const) {
      await page.getByLabel('Username').fill(typed);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#me-name', { hasText: name }).waitFor();
      await online(page);
      t.equal(await page.locator('#me-name').textContent(), name, `logged in as ${name}`);
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('Username').waitFor();
    }
    const found = await request(server, 'POST', '/v1/login', { body: { username: 'zoë' } });
    t.equal(found.body.user.username, 'zoë', 'the account is zoë, composed');
    t.same(errors.filter((e) => !expectedWhileDown.test(e)), [], 'no page errors');
    t.comment(`${errors.length} console errors while disconnected`);
  });
});
