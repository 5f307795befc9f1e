import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { login, request, startServer } from '../helpers/server.js';
import { launch, logIn, message, online, setVisibility, watchErrors, withChromium } from './browser.js';

// The page's globals, for the functions that run in it (the tests compile without the DOM library).
declare const window: any;
declare const sessionStorage: any;

// Telling alice about messages she is not looking at: browser notifications (asked for on a click,
// never on load), a chime that can be turned off, and the unread count in the title. Rooms count as
// unread but neither ring nor notify.

/**
 * Runs in the page before its own scripts: Notification and AudioContext replaced by recorders. The
 * permission starts as 'default' (kept in sessionStorage across reloads, as a browser would keep it).
 */
function recorders() {
  const w = window;
  const notes: { title: string; body?: string; tag?: string }[] = [];
  const instances: EventTarget[] = [];
  const record = { notes, instances, permissionRequests: 0, tones: [] as number[] };
  w.__record = record;
  class RecordingNotification extends EventTarget {
    static get permission() {
      return sessionStorage.getItem('test.permission') ?? 'default';
    }
    /** Answers 'granted' a moment later, as a person would in the browser's prompt. */
    static requestPermission() {
      record.permissionRequests += 1;
      return new Promise((resolve) =>
        setTimeout(() => {
          sessionStorage.setItem('test.permission', 'granted');
          resolve('granted');
        }, 200),
      );
    }
    constructor(title: string, options: { body?: string; tag?: string } = {}) {
      super();
      notes.push({ title, body: options.body, tag: options.tag });
      instances.push(this);
    }
    close() {}
  }
  w.Notification = RecordingNotification;
  const node = () => ({ connect: (next: unknown) => next });
  class RecordingAudioContext {
    state = 'running';
    currentTime = 0;
    destination = node();
    resume() {
      return Promise.resolve();
    }
    createOscillator() {
      return { ...node(), frequency: { value: 0 }, start() { record.tones.push(this.frequency.value); }, stop() {} };
    }
    createGain() {
      return { ...node(), gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} } };
    }
  }
  w.AudioContext = RecordingAudioContext;
}

interface Recorded {
  notes: { title: string; body?: string; tag?: string }[];
  permissionRequests: number;
  tones: number[];
}
const recorded = (page: Page) => page.evaluate(() => window.__record as Recorded);
/** Chimes played: each is two tones, the first at 880 Hz. */
const chimes = async (page: Page) => (await recorded(page)).tones.filter((f) => f === 880).length;

/** Polls `read` until it gives `expected` (the page's CSP rules out waitForFunction's strings). */
async function until<T>(read: () => Promise<T>, expected: T, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let actual = await read();
  while (JSON.stringify(actual) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    actual = await read();
  }
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, still ${JSON.stringify(actual)}`);
}

/** The chat named exactly `title` in the list. */
const item = (page: Page, title: string) =>
  page.locator('.chat-item').filter({ has: page.locator('.chat-item-title').getByText(title, { exact: true }) });

/** The page's chime is held back for 2 s after the last one (a replay must not ring for each message). */
const pastChimeGap = (page: Page) => page.waitForTimeout(2_100);


withChromium(t, () => {
  t.test('notifications, the chime and the unread count in the title', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    const context = await browser.newContext({ viewport: { width: 1200, height: 750 } });
    context.setDefaultTimeout(10_000);
    await context.grantPermissions(['notifications']);
    await context.addInitScript(recorders);
    const page = await context.newPage();
    watchErrors(page, errors, 'alice');

    const bob = await login(server, 'bob');
    const carol = await login(server, 'carol');
    const alice = await login(server, 'alice');
    const initiate = async (token: string): Promise<number> =>
      (await request(server, 'POST', '/v1/chats/initiate', { token, body: { target_username: 'alice' } })).body.chat_id;
    const bobChat = await initiate(bob.token);
    const carolChat = await initiate(carol.token);
    const room = (await request(server, 'POST', '/v1/rooms', { token: bob.token, body: { name: 'Busy room' } })).body;
    const send = async (token: string, chatId: number, content: string) => {
      const res = await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token, body: { content } });
      t.equal(res.status, 201, `sent: ${content}`);
    };

    await logIn(page, server.url, 'alice');
    t.equal((await request(server, 'POST', `/v1/rooms/${room.id}/join`, { token: alice.token })).status, 200, 'alice joins a room');
    await item(page, 'Busy room').waitFor();

    // Nothing is asked on load: the banner offers it.
    await page.waitForTimeout(300);
    t.equal((await recorded(page)).permissionRequests, 0, 'no permission request on load');
    const banner = page.locator('#notify-banner');
    await banner.waitFor();
    t.equal(await page.title(), 'Messages');

    const dir = '/tmp';
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.locator('.sidebar').screenshot({ path: path.join(dir, `notify-banner-${scheme}.png`), animations: 'disabled' });
    }
    await page.emulateMedia({ colorScheme: null });

    // Turn on, from the banner: one request, then the banner goes.
    await banner.getByRole('button', { name: 'Turn on' }).click();
    await banner.waitFor({ state: 'hidden' });
    t.equal((await recorded(page)).permissionRequests, 1, 'the click asked once');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#notify-status', { hasText: /^On/ }).waitFor();
    t.equal(await page.locator('#notify-toggle').textContent(), 'Turn off');
    t.ok(await page.getByLabel('Play a sound for new messages').isChecked(), 'the sound is on by default');
    await page.locator('#settings-close').click();

    // Alice has carol's chat open; bob writes in his: a notification with his name and the text, a chime, the count.
    await item(page, 'carol').click();
    await page.locator('#chat-title', { hasText: 'carol' }).waitFor();
    await send(bob.token, bobChat, 'Are you coming tonight?');
    await until(async () => (await recorded(page)).notes, [{ title: 'bob', body: 'Are you coming tonight?', tag: `chat-${bobChat}` }], 'a notification');
    await until(() => chimes(page), 1, 'a chime');
    await until(() => page.title(), '(1) Messages', 'the title counts it');
    await item(page, 'bob').locator('.badge', { hasText: /^1$/ }).waitFor();

    // Clicking the notification opens bob's chat; read, the title is back to "Messages".
    await page.evaluate(() => window.__record.instances[0].dispatchEvent(new Event('click')));
    await page.locator('#chat-title', { hasText: 'bob' }).waitFor();
    await message(page, 'Are you coming tonight?').waitFor();
    await until(() => page.title(), 'Messages', 'read: the title has no count');

    // In the open chat, with the page visible: no notification, no chime, no count.
    await pastChimeGap(page);
    await send(bob.token, bobChat, 'See you at 8');
    await message(page, 'See you at 8').waitFor();
    await page.waitForTimeout(300);
    t.equal((await recorded(page)).notes.length, 1, 'no notification for the open chat');
    t.equal(await chimes(page), 1, 'no chime for the open chat');
    t.equal(await page.title(), 'Messages');

    // The same chat while the tab is hidden: a notification and a chime; visible again, it is read.
    await setVisibility(page, 'hidden');
    await send(bob.token, bobChat, 'Hello?');
    await until(async () => (await recorded(page)).notes.at(-1), { title: 'bob', body: 'Hello?', tag: `chat-${bobChat}` }, 'notified while hidden');
    await until(() => chimes(page), 2, 'a chime while hidden');
    await until(() => page.title(), '(1) Messages', 'counted while hidden');
    await setVisibility(page, 'visible');
    await until(() => page.title(), 'Messages', 'read once visible');

    // A room message: counted as unread, but neither a notification nor a chime.
    await pastChimeGap(page);
    await send(bob.token, room.id, 'Hello room');
    await item(page, 'Busy room').locator('.badge', { hasText: /^1$/ }).waitFor();
    await until(() => page.title(), '(1) Messages', 'the room counts in the title');
    await page.waitForTimeout(300);
    t.equal((await recorded(page)).notes.length, 2, 'no notification for a room');
    t.equal(await chimes(page), 2, 'no chime for a room');

    // A group names the sender and the group.
    const group = (await request(server, 'POST', '/v1/chats', { token: carol.token, body: { name: 'Dinner', members: ['alice', 'bob'] } })).body;
    await item(page, 'Dinner').waitFor();
    await send(carol.token, group.id, 'Pizza?');
    await until(async () => (await recorded(page)).notes.at(-1), { title: 'carol in Dinner', body: 'Pizza?', tag: `chat-${group.id}` }, 'a group notification');
    await until(() => chimes(page), 3, 'a chime for the group');
    await until(() => page.title(), '(2) Messages', 'the room and the group');

    // The sound turned off in Settings: notifications go on, the chime does not.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Play a sound for new messages').uncheck();
    await page.locator('#settings-close').click();
    await pastChimeGap(page);
    await send(carol.token, carolChat, 'Quiet please');
    await until(async () => (await recorded(page)).notes.at(-1)?.body, 'Quiet please', 'notified with the sound off');
    await page.waitForTimeout(300);
    t.equal(await chimes(page), 3, 'no chime with the sound off');
    await until(() => page.title(), '(3) Messages', 'three unread');

    // The setting survives a reload; so does the permission, and nothing is asked again.
    await page.reload();
    await online(page);
    await until(() => page.title(), '(3) Messages', 'the count after a reload');
    t.ok(await page.locator('#notify-banner').isHidden(), 'no banner once answered');
    await page.getByRole('button', { name: 'Settings' }).click();
    t.notOk(await page.getByLabel('Play a sound for new messages').isChecked(), 'the sound stays off after a reload');
    await page.locator('#notify-status', { hasText: /^On/ }).waitFor();
    await page.locator('#settings-close').click();
    // The reload reopened bob's chat (the address named it): Back to the list, so that none is open.
    await page.locator('#chat-title', { hasText: 'bob' }).waitFor();
    await page.goBack();
    await page.locator('body[data-view="list"]').waitFor();
    await send(bob.token, bobChat, 'Still there?');
    await until(async () => (await recorded(page)).notes.at(-1)?.body, 'Still there?', 'notified after the reload');
    await page.waitForTimeout(300);
    t.equal(await chimes(page), 0, 'no chime after the reload either');
    t.equal((await recorded(page)).permissionRequests, 0, 'no request after the reload');

    // Turned off in Settings: no more notifications.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#notify-toggle', { hasText: 'Turn off' }).click();
    await page.locator('#notify-status', { hasText: 'Off.' }).waitFor();
    await page.locator('#settings-close').click();
    const count = (await recorded(page)).notes.length;
    await send(bob.token, bobChat, 'Nobody?');
    await item(page, 'bob').filter({ hasText: 'Nobody?' }).waitFor();
    await page.waitForTimeout(300);
    t.equal((await recorded(page)).notes.length, count, 'none once turned off');

    // Reading everything brings the title back.
    for (const name of ['bob', 'carol', 'Busy room', 'Dinner']) {
      await item(page, name).click();
      await page.locator('#chat-title', { hasText: name }).waitFor();
    }
    await until(() => page.title(), 'Messages', 'all read');

    t.same(errors, [], 'no page errors');
  });

  t.test('the Settings dialog asks for the permission on a click, once', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    context.setDefaultTimeout(10_000);
    await context.grantPermissions(['notifications']);
    await context.addInitScript(recorders);
    const page = await context.newPage();
    watchErrors(page, errors, 'dave');
    await logIn(page, server.url, 'dave');
    await page.locator('#notify-banner').waitFor();
    // "Not now" hides the banner for good, without asking.
    await page.locator('#notify-banner').getByRole('button', { name: 'Not now' }).click();
    await page.locator('#notify-banner').waitFor({ state: 'hidden' });
    await page.reload();
    await online(page);
    t.ok(await page.locator('#notify-banner').isHidden(), 'still hidden after a reload');
    t.equal((await recorded(page)).permissionRequests, 0, 'nothing asked');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#notify-status', { hasText: 'Off.' }).waitFor();
    // Two clicks before the browser answers: one request.
    await page.locator('#notify-toggle', { hasText: 'Turn on' }).evaluate((button: any) => {
      button.click();
      button.click();
    });
    await page.locator('#notify-status', { hasText: /^On/ }).waitFor();
    t.equal((await recorded(page)).permissionRequests, 1, 'asked once, on the click');
    t.same(errors, [], 'no page errors');
  });
});
