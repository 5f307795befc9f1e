import type { Locator, Page } from 'playwright-core';
import t from 'tap';
import { pair, startServer } from '../helpers/server.js';
import { launch, message, openPage, withChromium } from './browser.js';

// Run in the page by page.evaluate: the browser's own, which the Node-side type check does not know.
declare const document: any, getComputedStyle: any;

// Editing and deleting one's own messages in the web client: the menu (hover, keyboard,
// long-press), Up to edit the last one, Esc to cancel, a confirmed delete; the other side sees both live.

const composer = (page: Page) => page.getByLabel('Message', { exact: true });
const menu = (page: Page) => page.locator('#message-menu');
const opacity = (locator: Locator) => locator.evaluate((el) => getComputedStyle(el).opacity);
const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press('Enter');
  await message(page, text).waitFor();
}

/** Opens a message's menu as a mouse user does: hover, then its button. */
async function openMenu(page: Page, row: Locator) {
  await row.hover();
  await row.locator('.msg-menu-btn').click();
  await menu(page).waitFor();
}

withChromium(t, () => {
  t.setTimeout(180_000);

  t.test('editing and deleting one’s own messages', async (t) => {
    const server = await startServer(t);
    await pair(server);
    const browser = await launch(t);
    const errors: string[] = [];
    const alice = await openPage(browser, server.url, 'alice', errors, { chatWith: 'bob' });
    const bob = await openPage(browser, server.url, 'bob', errors, { chatWith: 'alice' });

    await send(alice, 'Lunch at noon?');
    await send(bob, 'Sure!');
    await message(alice, 'Sure!').waitFor();

    // The menu button shows on hover, on my messages only.
    const row = message(alice, 'Lunch at noon?');
    const button = row.locator('.msg-menu-btn');
    t.equal(await opacity(button), '0', 'hidden until hovered');
    await row.hover();
    t.equal(await opacity(button), '1', 'shown on hover');
    t.equal(await message(alice, 'Sure!').locator('.msg-menu-btn').count(), 0, "no menu on someone else's message");
    t.equal(await message(bob, 'Lunch at noon?').locator('.msg-menu-btn').count(), 0, "nor on bob's side");
    t.equal(await message(bob, 'Sure!').locator('.msg-menu-btn').count(), 1, 'bob has his own');

    // Edit from the menu: bob sees the new text and "edited", live.
    await button.click();
    await menu(alice).waitFor();
    t.equal(await button.getAttribute('aria-expanded'), 'true');
    t.equal(await focusedId(alice), 'menu-edit', 'the first item has the focus');
    await alice.getByRole('menuitem', { name: 'Edit' }).click();
    t.ok(await menu(alice).isHidden(), 'the menu closes');
    t.equal(await composer(alice).inputValue(), 'Lunch at noon?');
    t.ok(await alice.locator('#edit-banner').isVisible(), 'the composer says it is editing');
    await composer(alice).fill('Lunch at 1?');
    await composer(alice).press('Enter');
    const edited = message(bob, 'Lunch at 1?');
    await edited.waitFor();
    await edited.locator('.meta', { hasText: 'edited' }).waitFor();
    t.equal(await message(bob, 'Lunch at noon?').count(), 0, 'the old text is gone');
    await message(alice, 'Lunch at 1?').locator('.meta', { hasText: 'edited' }).waitFor();
    t.equal(await composer(alice).inputValue(), '', 'the composer is empty again');
    t.ok(await alice.locator('#edit-banner').isHidden());

    // Up in the empty composer edits my last message; Esc cancels.
    await composer(alice).press('ArrowUp');
    t.equal(await composer(alice).inputValue(), 'Lunch at 1?', 'Up edits the last of my messages');
    t.ok(await alice.locator('#edit-banner').isVisible());
    await composer(alice).press('Escape');
    t.equal(await composer(alice).inputValue(), '');
    t.ok(await alice.locator('#edit-banner').isHidden(), 'Esc cancels');

    // A draft is kept while a message is edited, and comes back on Esc.
    await composer(alice).fill('half a thought');
    const lunch = message(alice, 'Lunch at 1?');
    await openMenu(alice, lunch);
    await alice.getByRole('menuitem', { name: 'Edit' }).click();
    t.equal(await composer(alice).inputValue(), 'Lunch at 1?');
    await composer(alice).fill('Lunch at 2?');
    await composer(alice).press('Escape');
    t.equal(await composer(alice).inputValue(), 'half a thought', 'the draft is back');
    t.equal(await message(alice, 'Lunch at 1?').count(), 1, 'nothing was saved');
    await composer(alice).fill('');

    // The keyboard: the button takes the focus, Enter opens the menu, arrows move, Esc closes.
    await lunch.locator('.msg-menu-btn').focus();
    await alice.keyboard.press('Enter');
    await menu(alice).waitFor();
    t.equal(await focusedId(alice), 'menu-edit');
    await alice.keyboard.press('ArrowDown');
    t.equal(await focusedId(alice), 'menu-delete');
    await alice.keyboard.press('Escape');
    await menu(alice).waitFor({ state: 'hidden' });
    t.ok(await lunch.locator('.msg-menu-btn').evaluate((el) => el === document.activeElement), 'the focus goes back to the button');

    // Delete asks first; Cancel keeps the message.
    await openMenu(alice, lunch);
    await alice.getByRole('menuitem', { name: 'Delete' }).click();
    const dialog = alice.locator('#delete-dialog');
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    t.equal(await message(alice, 'Lunch at 1?').count(), 1, 'Cancel keeps it');
    await openMenu(alice, lunch);
    await alice.getByRole('menuitem', { name: 'Delete' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await message(bob, 'Message deleted').waitFor();
    t.equal(await message(bob, 'Lunch at 1?').count(), 0, 'bob sees it deleted, live');
    const tombstone = message(alice, 'Message deleted');
    await tombstone.waitFor();
    t.equal(await tombstone.locator('.msg-menu-btn').count(), 0, 'a deleted message has no menu');
    t.equal(await tombstone.locator('.meta', { hasText: 'edited' }).count(), 0);

    // A message with a file: an edit changes its text and keeps the file.
    await alice.locator('#file-input').setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('step one\n') });
    await alice.locator('#staged-files li', { hasText: 'plan.txt' }).locator('.file-size').waitFor();
    await send(alice, 'The plan');
    await message(bob, 'The plan').locator('a.file-link', { hasText: 'plan.txt' }).waitFor();
    await composer(alice).press('ArrowUp');
    t.equal(await composer(alice).inputValue(), 'The plan');
    t.ok(await alice.locator('#attach-btn').isDisabled(), 'no files are attached while editing');
    await composer(alice).fill('The plan, v2');
    await composer(alice).press('Enter');
    const v2 = message(bob, 'The plan, v2');
    await v2.locator('.meta', { hasText: 'edited' }).waitFor();
    const link = v2.locator('a.file-link', { hasText: 'plan.txt' });
    t.equal(await link.count(), 1, 'bob still has the file');
    const download = await fetch(server.url + (await link.getAttribute('href')));
    t.equal(await download.text(), 'step one\n', 'and can download it');
    t.equal(await message(alice, 'The plan, v2').locator('a.file-link', { hasText: 'plan.txt' }).count(), 1, 'so has alice');

    // A file sent alone has no caption to edit: one can be added, and removed again.
    await alice.locator('#file-input').setInputFiles({ name: 'photo.txt', mimeType: 'text/plain', buffer: Buffer.from('pixels') });
    await alice.locator('#staged-files li', { hasText: 'photo.txt' }).locator('.file-size').waitFor();
    await composer(alice).press('Enter');
    const alone = bob.locator('#message-list li.msg[data-id]').filter({ has: bob.locator('a.file-link', { hasText: 'photo.txt' }) });
    await alone.waitFor();
    await composer(alice).press('ArrowUp');
    t.equal(await composer(alice).inputValue(), '', 'no caption to edit');
    await composer(alice).fill('A caption');
    await composer(alice).press('Enter');
    await alone.locator('.text', { hasText: 'A caption' }).waitFor();
    await composer(alice).press('ArrowUp');
    t.equal(await composer(alice).inputValue(), 'A caption');
    await composer(alice).fill('');
    await composer(alice).press('Enter');
    await alone.locator('.text').waitFor({ state: 'detached' });
    t.equal(await alone.locator('a.file-link').count(), 1, 'the caption is gone, the file stays');
    t.ok(await alice.locator('#edit-banner').isHidden());

    t.same(errors, [], 'no page errors');
  });

  t.test('a long-press opens the menu on a touch screen', async (t) => {
    const server = await startServer(t);
    await pair(server);
    const browser = await launch(t);
    const errors: string[] = [];
    const bob = await openPage(browser, server.url, 'bob', errors, { chatWith: 'alice' });
    const phone = await openPage(browser, server.url, 'alice', errors, {
      chatWith: 'bob',
      context: { hasTouch: true, isMobile: true, viewport: { width: 390, height: 780 } },
    });
    await send(bob, 'Are you coming?');
    await message(phone, 'Are you coming?').waitFor();
    await send(phone, 'On my way');

    const cdp = await phone.context().newCDPSession(phone);
    const longPress = async (row: Locator) => {
      const box = (await row.locator('.bubble').boundingBox())!;
      const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [point] });
      await new Promise((resolve) => setTimeout(resolve, 600));
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    };

    // On someone else's message, nothing.
    await longPress(message(phone, 'Are you coming?'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.ok(await menu(phone).isHidden(), "no menu on someone else's message");

    await longPress(message(phone, 'On my way'));
    await menu(phone).waitFor();
    const box = (await menu(phone).boundingBox())!;
    t.ok(box.x >= 0 && box.x + box.width <= 390 && box.y >= 0 && box.y + box.height <= 780, 'the menu is on the screen');
    await phone.getByRole('menuitem', { name: 'Edit' }).tap();
    t.equal(await composer(phone).inputValue(), 'On my way');
    await composer(phone).fill('On my way, 5 min');
    await phone.getByRole('button', { name: 'Save the edit' }).tap();
    await message(bob, 'On my way, 5 min').locator('.meta', { hasText: 'edited' }).waitFor();

    // A tap elsewhere closes the menu.
    await longPress(message(phone, 'On my way, 5 min'));
    await menu(phone).waitFor();
    await phone.locator('#chat-title').tap();
    await menu(phone).waitFor({ state: 'hidden' });

    t.same(errors, [], 'no page errors');
  });
});
