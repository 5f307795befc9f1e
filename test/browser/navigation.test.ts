import type { Page } from 'playwright-core';
import t from 'tap';
import { login, request, startServer } from '../helpers/server.js';
import { launch, logIn, message, watchErrors, withChromium } from './browser.js';

// The page's globals, for the functions that run in it (the tests compile without the DOM library).
declare const document: any;
declare const location: any;

// Back and Forward in the web client, on a phone-sized page. What is right:
// - the app's history is the list's entry with at most one chat entry above it (`#chat=<id>`);
// - the in-app back button is the browser's Back: after either, Forward reopens the chat, and Back
//   from the list leaves the app in one step, just as if no chat had been opened (no second list
//   entry to wade through, no chat coming back);
// - a reload on a chat reopens it, and Back still leads to the list; a link to a chat opens it above
//   a list entry, so that neither Back nor the in-app button leaves the app from it;
// - a link to a chat the user is not in shows the list, with a clean address and no error.

withChromium(t, () => {
  t.test('Back, Forward, the back button and reloads agree on a phone', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    const context = await browser.newContext({ viewport: { width: 390, height: 780 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    watchErrors(page, errors, 'alice');

    const alice = await login(server, 'alice');
    const bob = await login(server, 'bob');
    const carol = await login(server, 'carol');
    const initiate = async (token: string, target: string): Promise<number> =>
      (await request(server, 'POST', '/v1/chats/initiate', { token, body: { target_username: target } })).body.chat_id;
    const bobChat = await initiate(alice.token, 'bob');
    const carolChat = await initiate(alice.token, 'carol');
    const notMine = await initiate(bob.token, 'carol');
    await request(server, 'POST', `/v1/chats/${bobChat}/messages`, { token: bob.token, body: { content: 'Hi from bob' } });
    await request(server, 'POST', `/v1/chats/${carolChat}/messages`, { token: carol.token, body: { content: 'Hi from carol' } });

    // Identified (on a phone the status line is in the list, hidden while a chat shows).
    const online = (p: Page) => p.locator('#conn-status[data-state="online"]').waitFor({ state: 'attached' });
    const app = `${server.url}/`;
    const chatUrl = (id: number) => `${app}#chat=${id}`;
    const item = (p: Page, name: string) => p.locator('.chat-item', { hasText: name });
    const showsList = async (p: Page, what: string) => {
      await p.locator('body[data-view="list"]').waitFor();
      t.equal(p.url(), app, `${what}: the address is the app's, without a chat`);
      t.ok(await p.locator('.sidebar').isVisible(), `${what}: the list shows`);
      t.notOk(await p.locator('#chat-pane').isVisible(), `${what}: the conversation is hidden`);
    };
    const showsChat = async (p: Page, name: string, id: number, what: string) => {
      await p.locator('body[data-view="chat"] #chat-title', { hasText: name }).waitFor();
      t.equal(p.url(), chatUrl(id), `${what}: the address names the chat`);
      t.notOk(await p.locator('.sidebar').isVisible(), `${what}: only the conversation shows`);
    };

    // A page before the app: Back from the app's first entry leads there.
    const before = 'data:text/html,<title>Before</title>';
    await page.goto(before);
    await logIn(page, server.url, 'alice');
    await showsList(page, 'logged in');

    // Open a chat from the list; Back → the list, Forward → the chat.
    await item(page, 'bob').click();
    await showsChat(page, 'bob', bobChat, 'opened');
    await message(page, 'Hi from bob').waitFor();
    await page.goBack();
    await showsList(page, 'after Back');
    await page.goForward();
    await showsChat(page, 'bob', bobChat, 'after Forward');
    await message(page, 'Hi from bob').waitFor();

    // The in-app back button does what Back does: the chat is the Forward entry.
    await page.getByRole('button', { name: 'Back to chats' }).click();
    await showsList(page, 'after the back button');
    t.equal(
      await page.evaluate(() => document.activeElement.dataset.chatId),
      String(bobChat),
      'the focus is on the chat just left (not the search field: no keyboard popping up on a phone)',
    );
    await page.goForward();
    await showsChat(page, 'bob', bobChat, 'Forward after the back button');

    // Another chat from the list, after the back button: still one chat entry above the list.
    await page.getByRole('button', { name: 'Back to chats' }).click();
    await showsList(page, 'back button again');
    await item(page, 'carol').click();
    await showsChat(page, 'carol', carolChat, 'another chat');
    await page.goBack();
    await showsList(page, 'Back from the other chat');
    // … and Back from the list leaves the app at once, to the page before it.
    await page.goBack();
    await page.waitForURL(before);
    t.equal(page.url(), before, 'one Back from the list leaves the app, as if no chat had been opened');
    await page.goForward();
    await online(page);
    await showsList(page, 'Forward into the app again');
    t.equal(await page.locator('#chat-title').textContent(), '', 'no chat came back');

    // The back button pressed and a chat opened before the browser has taken the step back.
    await item(page, 'bob').click();
    await showsChat(page, 'bob', bobChat, 'reopened');
    await page.evaluate((id) => {
      document.getElementById('back-btn').click();
      document.querySelector(`.chat-item[data-chat-id="${id}"]`).click();
    }, carolChat);
    await page.waitForTimeout(300);
    await showsChat(page, 'carol', carolChat, 'a chat opened during the step back stays open');
    await page.goBack();
    await showsList(page, 'and Back from it');

    // A reload on a chat reopens it; Back then leads to the list, and Back again out of the app.
    await item(page, 'bob').click();
    await showsChat(page, 'bob', bobChat, 'before the reload');
    await page.reload();
    await online(page);
    await showsChat(page, 'bob', bobChat, 'after the reload');
    await message(page, 'Hi from bob').waitFor();
    await page.goBack();
    await showsList(page, 'Back after the reload');
    await page.goBack();
    await page.waitForURL(before);
    t.pass('Back after the reload needs no second step from the list');
    await page.goForward();
    await online(page);
    await showsList(page, 'back in the app');

    // A link to a chat, in a new tab: the chat opens above a list entry of its own.
    const tab = await context.newPage();
    watchErrors(tab, errors, 'alice (tab 2)');
    await tab.goto(chatUrl(carolChat));
    await online(tab);
    await showsChat(tab, 'carol', carolChat, 'a link to a chat');
    await message(tab, 'Hi from carol').waitFor();
    await tab.getByRole('button', { name: 'Back to chats' }).click();
    await showsList(tab, 'the back button from a linked chat stays in the app');
    await tab.goForward();
    await showsChat(tab, 'carol', carolChat, 'Forward from there');
    await tab.goBack();
    await showsList(tab, 'Back from a linked chat stays in the app');

    // A link to a chat alice is not in, or to no chat at all: the list, a clean address, no error.
    for (const hash of [`#chat=${notMine}`, '#chat=999999', '#chat=nonsense']) {
      await tab.goto(`${app}${hash}`);
      await online(tab);
      await item(tab, 'bob').waitFor();
      await showsList(tab, `a link to ${hash}`);
    }
    // The same typed into the address bar while the app is open (a fragment navigation).
    await tab.evaluate((id) => (location.hash = `#chat=${id}`), notMine);
    await showsList(tab, 'a typed link to a chat alice is not in');
    await tab.evaluate((id) => (location.hash = `#chat=${id}`), bobChat);
    await showsChat(tab, 'bob', bobChat, 'a typed link to her chat');
    await tab.getByRole('button', { name: 'Back to chats' }).click();
    await showsList(tab, 'the back button from a typed link');
    await tab.close();

    // A chat left meanwhile: Forward to its entry shows the list.
    await item(page, 'bob').click();
    await showsChat(page, 'bob', bobChat, 'bob again');
    await page.goBack();
    await showsList(page, 'before leaving');
    const group = (await request(server, 'POST', '/v1/chats', { token: bob.token, body: { name: 'Gone soon', members: ['alice'] } })).body;
    await item(page, 'Gone soon').click();
    await showsChat(page, 'Gone soon', group.id, 'a group');
    await page.goBack();
    await showsList(page, 'Back from the group');
    const removed = await request(server, 'DELETE', `/v1/chats/${group.id}/members/${alice.user.id}`, { token: bob.token });
    t.equal(removed.status, 204, 'bob removes alice from the group');
    await item(page, 'Gone soon').waitFor({ state: 'detached' });
    await page.goForward();
    await showsList(page, 'Forward to a chat alice was removed from');

    t.same(errors, [], 'no page errors');
  });
});
