import path from 'node:path';
import type { Page } from 'playwright-core';
import t from 'tap';
import { login, request, startServer } from '../helpers/server.js';
import { ensureScreenshotDir, launch, logIn, message, online, watchErrors, withChromium } from './browser.js';

// The web client in a real browser: two people chat through the page served at `/`.

withChromium(t, () => {

  t.test('/docs serves the API page and the OpenAPI document', async (t) => {
    const server = await startServer(t);
    const page = await fetch(`${server.url}/docs`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /text\/html/);
    const doc = await request(server, 'GET', '/docs/json');
    t.equal(doc.status, 200);
    t.ok(doc.body.paths['/v1/login'], 'the document lists /login');
  });

  t.test('two people chat in the web client', async (t) => {
    // Replays in pages of one message: a resume after two missed ones takes two pages, with nothing live between them.
    const server = await startServer(t, { RESUME_MAX_MESSAGES: '1' });
    const browser = await launch(t);
    const errors: string[] = [];
    const desktop = { width: 1200, height: 750 };
    const aliceContext = await browser.newContext({ viewport: desktop });
    const bobContext = await browser.newContext({ viewport: desktop });
    for (const context of [aliceContext, bobContext]) context.setDefaultTimeout(10_000);
    const alice = await aliceContext.newPage();
    let bob = await bobContext.newPage();
    watchErrors(alice, errors, 'alice');
    watchErrors(bob, errors, 'bob');

    // The served page itself: an HTML document, with nothing loaded from elsewhere.
    const index = await fetch(server.url + '/');
    t.equal(index.status, 200);
    t.match(index.headers.get('content-type'), /text\/html/);
    const outside: string[] = [];
    const sockets: string[] = [];
    const watch = (page: Page) => {
      page.on('request', (req) => {
        if (!req.url().startsWith(server.url) && !req.url().startsWith('data:')) outside.push(req.url());
      });
      page.on('websocket', (ws) => {
        sockets.push(ws.url());
        ws.once('framesent', (frame) => sockets.push(String(frame.payload)));
      });
    };
    watch(alice);
    watch(bob);

    await logIn(bob, server.url, 'bob');
    await logIn(alice, server.url, 'alice');
    t.ok(await alice.evaluate('localStorage.getItem("dm.session") !== null'), 'the session is kept in localStorage');

    // Alice finds bob and starts a direct chat.
    await alice.getByLabel('Search people to start a chat').fill('bo');
    await alice.getByRole('button', { name: 'Start a chat with bob' }).click();
    await alice.locator('#chat-title', { hasText: 'bob' }).waitFor();
    await alice.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();

    // Bob learns of the chat from its `chat` event, without reloading.
    await bob.locator('.chat-item', { hasText: 'alice' }).click();
    await bob.locator('#chat-title', { hasText: 'alice' }).waitFor();

    // Alice types: bob sees it, then the message, both ways.
    await alice.getByLabel('Message', { exact: true }).pressSequentially('Hi bob! Lunch at noon?', { delay: 15 });
    await bob.locator('#typing', { hasText: 'alice is typing…' }).waitFor();
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    await message(bob, 'Hi bob! Lunch at noon?').waitFor();
    await message(alice, 'Hi bob! Lunch at noon?').waitFor();
    t.equal(await bob.locator('#typing').textContent(), '', 'the typing line clears when the message comes');

    // Bob has the chat open: his read marker comes back to alice as "Seen".
    await alice.locator('li.msg.mine .receipt', { hasText: 'Seen' }).waitFor();

    await bob.getByLabel('Message', { exact: true }).fill('Sounds good, see you there');
    await bob.getByRole('button', { name: 'Send' }).click();
    await message(alice, 'Sounds good, see you there').waitFor();
    await message(bob, 'Sounds good, see you there').waitFor();
    t.equal(await alice.locator('li.msg.pending').count(), 0, 'no send is left pending');

    // Bob's network drops while his page stays open: alice writes twice; he resumes on reconnecting
    // (the server replays one, the client pages the other over REST).
    await bobContext.setOffline(true);
    await bob.locator('#conn-status[data-state="offline"]').waitFor();
    await alice.locator('#chat-subtitle', { hasText: /last seen/ }).waitFor();
    for (const text of ['Are you there?', 'Hello?']) {
      await alice.getByLabel('Message', { exact: true }).fill(text);
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      await message(alice, text).waitFor();
    }
    await bobContext.setOffline(false);
    await online(bob);
    await message(bob, 'Hello?').waitFor();
    await message(bob, 'Are you there?').waitFor();
    await alice.locator('#chat-subtitle', { hasText: /^online$/ }).waitFor();

    // Bob closes his page; alice sends two messages while he is gone.
    await bob.close();
    await alice.locator('#chat-subtitle', { hasText: /last seen/ }).waitFor();
    for (const text of ['Missed one', 'Missed two']) {
      await alice.getByLabel('Message', { exact: true }).fill(text);
      await alice.getByLabel('Message', { exact: true }).press('Enter');
      await message(alice, text).waitFor();
    }

    // He comes back on a phone-sized page in the same browser profile: still logged in, two unread.
    bob = await bobContext.newPage();
    watchErrors(bob, errors, 'bob');
    await bob.setViewportSize({ width: 390, height: 780 });
    await bob.goto(server.url);
    await online(bob);
    const chatItem = bob.locator('.chat-item', { hasText: 'alice' });
    await chatItem.locator('.badge', { hasText: /^2$/ }).waitFor();
    t.match(await chatItem.textContent(), /Missed two/, 'the list shows the last message');
    t.notOk(await bob.locator('#chat-pane').isVisible(), 'narrow: only the chat list shows');
    await chatItem.click();
    t.notOk(await bob.locator('.sidebar').isVisible(), 'narrow: only the conversation shows');
    await message(bob, 'Missed two').waitFor();
    await alice.locator('li.msg.mine', { hasText: 'Missed two' }).locator('.receipt', { hasText: 'Seen' }).waitFor();

    await bob.getByLabel('Message', { exact: true }).fill('Got them both 👍');
    await bob.getByLabel('Message', { exact: true }).press('Enter');
    await message(alice, 'Got them both 👍').waitFor();
    await message(bob, 'Got them both 👍').waitFor();

    const expected = ['Hi bob! Lunch at noon?', 'Sounds good, see you there', 'Are you there?', 'Hello?', 'Missed one', 'Missed two', 'Got them both 👍'];
    for (const page of [alice, bob]) {
      t.same(await page.locator('#message-list li.msg .text').allTextContents(), expected, 'every message once, in order');
    }

    // The back button returns to the list on a narrow screen.
    await bob.getByRole('button', { name: 'Back to chats' }).click();
    await bob.locator('.chat-item', { hasText: 'alice' }).waitFor();

    // A message's text is shown as text, never run as HTML.
    await alice.getByLabel('Message', { exact: true }).fill('<img src=x onerror="window.pwned=1"><b>bold?</b>');
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    await message(alice, '<img src=x onerror="window.pwned=1"><b>bold?</b>').waitFor();
    t.equal(await alice.locator('#message-list img, #message-list b').count(), 0, 'no markup from a message');

    const dir = ensureScreenshotDir();
    await bob.locator('.chat-item', { hasText: 'alice' }).click();
    await message(bob, 'Got them both 👍').waitFor();
    await alice.screenshot({ path: path.join(dir, 'alice-desktop.png') });
    await bob.screenshot({ path: path.join(dir, 'bob-phone.png') });

    t.ok(sockets.length >= 6, 'each page opened its socket');
    t.notOk(sockets.some((s) => s.includes('token=')), 'no token in a socket URL');
    t.ok(
      sockets.filter((s) => s.startsWith('{')).every((s) => JSON.parse(s).op === 'IDENTIFY'),
      'the first frame on every socket is IDENTIFY',
    );
    t.same(errors, [], 'no page errors');
    t.same(outside, [], 'nothing loaded from outside the server');
  });

  t.test('a password account, a new group, and scrolling back through history', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const errors: string[] = [];
    watchErrors(page, errors, 'carol');

    const carol = (await request(server, 'POST', '/v1/register', { body: { username: 'carol', password: 'correct horse' } })).body;
    const dave = await login(server, 'dave');
    // A display name is anyone's choice: the client shows the @username beside it.
    await request(server, 'PATCH', '/v1/me', { token: dave.token, body: { display_name: 'Dave D.' } });
    await login(server, 'erin');
    const { chat_id: chatId } = (await request(server, 'POST', '/v1/chats/initiate', { token: dave.token, body: { target_username: 'carol' } })).body;
    const history = Array.from({ length: 120 }, (_, i) => `line ${i + 1}`);
    for (const content of history) {
      await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: dave.token, body: { content } });
    }

    // A password account: the first try asks for the password, a wrong one is refused.
    await page.goto(server.url);
    await page.getByLabel('Username').fill('carol');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByLabel('Password').waitFor();
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-error', { hasText: 'Wrong username or password' }).waitFor();
    await page.getByLabel('Password').fill('correct horse');
    await page.getByRole('button', { name: 'Log in' }).click();
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), carol.user.username);

    // History comes a page at a time: the newest 50, then older ones when scrolled to the top.
    await page.locator('.chat-item', { hasText: 'dave' }).locator('.badge', { hasText: /^99\+$/ }).waitFor(); // 120 unread, shown as 99+
    await page.locator('.chat-item', { hasText: 'dave' }).click();
    await message(page, 'line 120').waitFor();
    t.equal(await page.locator('#chat-title').textContent(), 'Dave D. (@dave)', 'the display name, with the username beside it');
    const rows = page.locator('#message-list li.msg');
    t.equal(await rows.count(), 50, 'the newest page first');
    await page.locator('#messages').hover();
    let count = 50;
    while (count < history.length) {
      await page.mouse.wheel(0, -100_000);
      await rows.nth(count).waitFor({ state: 'attached' }); // an older page arrived
      count = await rows.count();
    }
    await page.getByText('This is the start of the conversation.').waitFor();
    t.same(await page.locator('#message-list li.msg .text').allTextContents(), history, 'all of it, once, in order');

    // A group with two people picked in the dialog.
    await page.getByRole('button', { name: 'New group' }).click();
    await page.getByLabel('Group name').fill('Book club');
    for (const name of ['dave', 'erin']) {
      await page.getByLabel('Add people').fill(name);
      await page.locator('#group-results').getByRole('button', { name }).click();
      await page.locator('#group-selected', { hasText: name }).waitFor();
    }
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.locator('#chat-title', { hasText: 'Book club' }).waitFor();
    await page.locator('#chat-subtitle', { hasText: '3 members' }).waitFor();
    await page.getByLabel('Message', { exact: true }).fill('First meeting on Friday?');
    await page.getByLabel('Message', { exact: true }).press('Enter');
    await message(page, 'First meeting on Friday?').waitFor();
    const groups = await request(server, 'GET', '/v1/chats', { token: dave.token });
    t.match(groups.body[0], { name: 'Book club', chat_type: 'group', last_message: { content: 'First meeting on Friday?' } });
    // The two refused log-ins show in the console as failed requests; nothing else may.
    t.same(errors.filter((e) => !/status of 401/.test(e)), [], 'no page errors');
    t.equal(errors.length, 2);
  });
});
