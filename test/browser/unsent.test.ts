import type { Page } from 'playwright-core';
import t from 'tap';
import { pair, request, startServer } from '../helpers/server.js';
import { launch, message, online, openPage, withChromium } from './browser.js';

// What the web client does with what is not sent yet, and when the server is slow to give it its
// chats: a refused message can be retried or deleted; logging out with unsent messages asks first;
// without its chat list the page does not connect (a resume after 0 would replay everything).

// Run in the page by page.evaluate: the browser's own, which the Node-side type check does not know.
declare const localStorage: any;

const composer = (page: Page) => page.getByLabel('Message', { exact: true });

withChromium(t, () => {
  t.test('a refused message shows "Not sent", and Delete removes it', async (t) => {
    const server = await startServer(t);
    const { alice, chatId } = await pair(server);
    const browser = await launch(t);
    const errors: string[] = [];
    const page = await openPage(browser, server.url, 'alice', errors, { chatWith: 'bob' });
    // An unsent message from an earlier visit, naming a file that is not alice's: the server refuses it for good.
    await page.evaluate(
      ([userId, entry]) => localStorage.setItem(`dm.outbox.${userId}`, JSON.stringify([entry])),
      [alice.user.id, { client_id: 'refused-1', chat_id: chatId, content: 'With a file that is not mine', files: [999], timestamp: new Date().toISOString(), status: 'pending' }] as const,
    );
    await page.reload();
    await online(page);
    await page.locator('.chat-item', { hasText: 'bob' }).click();
    const failed = page.locator('li.msg.failed', { hasText: 'With a file that is not mine' });
    await failed.locator('.failed-note', { hasText: 'Not sent' }).waitFor();
    await failed.getByRole('button', { name: 'Delete' }).click();
    await failed.waitFor({ state: 'detached' });
    t.equal(await page.evaluate((id) => localStorage.getItem(`dm.outbox.${id}`), alice.user.id), null, 'the stored outbox is empty');
    const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
    t.same(history.body, [], 'nothing was stored');
    t.same(errors, [], 'no page errors');
  });

  t.test('logging out with an unsent message asks first', async (t) => {
    const server = await startServer(t);
    await pair(server);
    const browser = await launch(t);
    const errors: string[] = [];
    const page = await openPage(browser, server.url, 'alice', errors, { chatWith: 'bob' });
    await page.context().setOffline(true);
    await page.locator('#conn-status[data-state="offline"]').waitFor();
    await composer(page).fill('Written on the train');
    await composer(page).press('Enter');
    await page.locator('li.msg.pending', { hasText: 'Written on the train' }).waitFor();

    await page.getByRole('button', { name: 'Log out' }).click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.getByText('One message is not sent yet').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    t.ok(await page.locator('#app-view').isVisible(), 'Cancel keeps the session');

    // Back online, the message goes, and logging out asks nothing.
    await page.context().setOffline(false);
    await online(page);
    await message(page, 'Written on the train').waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-view').waitFor();
    t.notOk(await dialog.isVisible(), 'no question with nothing unsent');
    t.same(errors, [], 'no page errors');
  });

  t.test('without its chat list the page waits and retries, then resumes after the newest message', async (t) => {
    const server = await startServer(t);
    const { alice, chatId } = await pair(server);
    let last = 0;
    for (const content of ['one', 'two', 'three']) {
      last = (await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content } })).body.id;
    }
    const browser = await launch(t);
    const errors: string[] = [];
    const page = await openPage(browser, server.url, 'alice', errors);
    // The next start: the list fails twice (a server restarting), then answers.
    let failures = 0;
    await page.route('**/v1/chats', (route) => (failures++ < 2 ? route.fulfill({ status: 503, body: '{"error":"Busy","code":"DATABASE_UNAVAILABLE"}' }) : route.continue()));
    const frames: string[] = [];
    page.on('websocket', (ws) => ws.on('framesent', (frame) => frames.push(String(frame.payload))));
    await page.reload();
    await online(page);
    t.ok(failures >= 3, 'asked again until it had the list (and again after the resume)');
    const resumes = frames.map((f) => JSON.parse(f)).filter((f) => f.type === 'resume');
    t.same(resumes, [{ type: 'resume', after: last }], 'one resume, after the newest message the list shows');
    await page.locator('.chat-item', { hasText: 'three' }).waitFor();
    // The toast said so; its wording is the page's own.
    t.same(
      errors.filter((e) => !/status of 503/.test(e)),
      [],
      'no page errors but the refused requests',
    );
  });
});
