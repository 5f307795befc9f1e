import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { login, request, startServer, type TestServer } from '../helpers/server.js';
import { launch, online, openPage, waitForTexts, withChromium } from './browser.js';

// A group's and a room's details in the web client: renaming, the members, adding, removing and
// leaving, each seen live on the other members' pages.

const open = (browser: Browser, server: TestServer, username: string, errors: string[], viewport = { width: 1100, height: 760 }) =>
  openPage(browser, server.url, username, errors, { context: { viewport } });

const chatItem = (page: Page, name: string) => page.locator('.chat-item', { has: page.locator('.chat-item-title', { hasText: new RegExp(`^${name}$`) }) });

async function openDetails(page: Page) {
  await page.getByRole('button', { name: 'Chat details' }).click();
  await page.locator('#chat-info-dialog[open]').waitFor();
}

withChromium(t, () => {
  t.test('a group: rename, add, remove and leave, live on every member’s page', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    const alice = await open(browser, server, 'alice', errors);
    const bob = await open(browser, server, 'bob', errors);
    const carol = await open(browser, server, 'carol', errors, { width: 390, height: 780 });
    const dave = await open(browser, server, 'dave', errors);

    // Alice makes the group (over REST, from another session of hers): every page lists it.
    const aliceApi = await login(server, 'alice');
    const made = await request(server, 'POST', '/v1/chats', { token: aliceApi.token, body: { name: 'Weekend', members: ['bob', 'carol'] } });
    t.equal(made.status, 201);
    const chatId = made.body.id as number;
    for (const page of [alice, bob, carol]) await chatItem(page, 'Weekend').click();

    // Her details: the name, everyone with their presence, her the owner.
    await openDetails(alice);
    const dialog = alice.locator('#chat-info-dialog');
    t.equal(await dialog.locator('#chat-info-title').textContent(), 'Weekend');
    t.equal(await dialog.locator('#chat-info-subtitle').textContent(), 'Group · 3 members');
    await waitForTexts(dialog.locator('.member-name'), ['alice', 'bob', 'carol']);
    t.same(await dialog.locator('.member .tag').allTextContents(), ['owner', 'you']);
    await waitForTexts(dialog.locator('.member-status'), ['online', 'online']);
    t.ok(await dialog.getByRole('button', { name: 'Remove bob' }).isVisible(), 'the owner may remove others');
    t.equal(await dialog.getByRole('button', { name: 'Remove alice' }).count(), 0, 'but not herself: she leaves instead');

    // Carol opens the details too: they follow the changes that come.
    await openDetails(carol);

    // A rename shows on the other pages at once: bob's list and header, carol's open details.
    const nameField = dialog.getByLabel('Name', { exact: true });
    t.equal(await nameField.inputValue(), 'Weekend');
    await nameField.fill('   ');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('#chat-rename-error', { hasText: 'Give the group a name.' }).waitFor();
    await nameField.fill('Weekend trip');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('#chat-info-title', { hasText: 'Weekend trip' }).waitFor();
    await alice.locator('#chat-title', { hasText: 'Weekend trip' }).waitFor();
    await chatItem(bob, 'Weekend trip').waitFor();
    await bob.locator('#chat-title', { hasText: 'Weekend trip' }).waitFor();
    await carol.locator('#chat-info-title', { hasText: 'Weekend trip' }).waitFor();
    t.equal(await carol.locator('#chat-rename-input').inputValue(), 'Weekend trip', 'the field follows too');

    // Alice adds dave by searching for him: his list gets the group live.
    const search = dialog.getByLabel('Add members');
    await search.fill('da');
    await dialog.getByRole('button', { name: 'Add dave' }).click();
    await waitForTexts(dialog.locator('.member-name'), ['alice', 'bob', 'carol', 'dave']);
    t.equal(await dialog.locator('#chat-info-subtitle').textContent(), 'Group · 4 members');
    t.equal(await search.inputValue(), '', 'the search is cleared for the next one');
    await chatItem(dave, 'Weekend trip').waitFor();
    await bob.locator('#chat-subtitle', { hasText: /^4 members/ }).waitFor();
    await waitForTexts(carol.locator('#chat-members .member-name'), ['alice', 'bob', 'carol', 'dave']);
    // Someone who is in the group already is not offered.
    await search.fill('bob');
    await dialog.locator('#chat-add-results', { hasText: 'Everyone found is in the group already.' }).waitFor();
    await search.fill('');

    // Bob, not the owner: he may rename the group, but has no Remove buttons.
    await openDetails(bob);
    const bobDialog = bob.locator('#chat-info-dialog');
    await waitForTexts(bobDialog.locator('.member-name'), ['alice', 'bob', 'carol', 'dave']);
    t.equal(await bobDialog.getByRole('button', { name: /^Remove/ }).count(), 0, 'no Remove buttons for a member');
    t.ok(await bobDialog.getByLabel('Name', { exact: true }).isEnabled(), 'any member renames a group');
    t.equal(await bobDialog.locator('#chat-rename-note').textContent(), 'Anyone in the group can rename it.');

    // Alice removes carol, after a confirmation: carol's details close and the group leaves her page.
    await dialog.getByRole('button', { name: 'Remove carol' }).click();
    const confirm = alice.locator('#confirm-dialog');
    t.equal(await confirm.locator('h2').textContent(), 'Remove carol?');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    t.equal(await dialog.locator('.member-name').count(), 4, 'cancelled: nobody removed');
    await dialog.getByRole('button', { name: 'Remove carol' }).click();
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await waitForTexts(dialog.locator('.member-name'), ['alice', 'bob', 'dave']);
    await carol.locator('#chat-info-dialog').waitFor({ state: 'hidden' });
    await chatItem(carol, 'Weekend trip').waitFor({ state: 'detached' });
    await carol.locator('#toast', { hasText: 'You are no longer in Weekend trip.' }).waitFor();
    t.ok(await carol.locator('#chat-view').isHidden(), 'the group she had open is closed');
    await waitForTexts(bobDialog.locator('.member-name'), ['alice', 'bob', 'dave']);
    // Nor can she open it from its address.
    await carol.goto(`${server.url}/#chat=${chatId}`);
    await carol.reload();
    await online(carol);
    t.ok(await carol.locator('#chat-view').isHidden(), 'the address does not open it');
    t.equal(await carol.locator('body').getAttribute('data-view'), 'list');
    t.equal(await chatItem(carol, 'Weekend trip').count(), 0);

    // Bob leaves, after a confirmation; alice sees the list shorter when she opens the details again.
    await bobDialog.getByRole('button', { name: 'Leave group' }).click();
    await bob.locator('#confirm-dialog').getByRole('button', { name: 'Leave group' }).click();
    await bob.locator('#chat-info-dialog').waitFor({ state: 'hidden' });
    await bob.locator('#toast', { hasText: 'You left Weekend trip.' }).waitFor();
    await chatItem(bob, 'Weekend trip').waitFor({ state: 'detached' });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await openDetails(alice);
    await waitForTexts(dialog.locator('.member-name'), ['alice', 'dave']);
    await alice.locator('#chat-subtitle', { hasText: /^2 members/ }).waitFor();

    const members = await request(server, 'GET', `/v1/chats/${chatId}`, { token: aliceApi.token });
    t.same(members.body.participants, [aliceApi.user.id, (await login(server, 'dave')).user.id], 'the server agrees');
    t.same(errors, [], 'no page errors');
  });

  t.test('a room: only the owner renames it, members page by page, and a removal', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];

    const aliceApi = await login(server, 'alice');
    const room = (await request(server, 'POST', '/v1/rooms', { token: aliceApi.token, body: { name: 'Climbing' } })).body;
    await request(server, 'POST', '/v1/rooms', { token: aliceApi.token, body: { name: 'Bouldering' } });
    // More members than a page (50) holds.
    for (let i = 1; i <= 55; i++) {
      const member = await login(server, `climber${String(i).padStart(2, '0')}`);
      t.equal((await request(server, 'POST', `/v1/rooms/${room.id}/join`, { token: member.token })).status, 200);
    }
    const bobApi = await login(server, 'bob');
    await request(server, 'POST', `/v1/rooms/${room.id}/join`, { token: bobApi.token });

    const alice = await open(browser, server, 'alice', errors);
    const bob = await open(browser, server, 'bob', errors, { width: 390, height: 780 });
    await chatItem(alice, 'Climbing').click();
    await chatItem(bob, 'Climbing').click();

    // The owner's details: the name can change; the members come a page at a time.
    await openDetails(alice);
    const dialog = alice.locator('#chat-info-dialog');
    t.equal(await dialog.locator('#chat-info-subtitle').textContent(), 'Public room · 57 members');
    const climbers = Array.from({ length: 55 }, (_, i) => `climber${String(i + 1).padStart(2, '0')}`);
    await waitForTexts(dialog.locator('.member-name'), ['alice', ...climbers.slice(0, 49)]);
    t.same(await dialog.locator('.member').first().locator('.tag').allTextContents(), ['owner', 'you']);
    await dialog.getByRole('button', { name: 'Show more' }).click();
    await waitForTexts(dialog.locator('.member-name'), ['alice', ...climbers, 'bob']);
    t.ok(await dialog.getByRole('button', { name: 'Show more' }).isHidden(), 'nothing more to show');
    t.equal(await dialog.getByLabel('Add members').count(), 1);
    t.ok(await dialog.getByLabel('Add members').isHidden(), 'people join a room themselves: nobody adds them');

    // A name another room has, in other capitals, is refused and said so.
    const nameField = dialog.getByLabel('Name', { exact: true });
    await nameField.fill('bouldering');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('#chat-rename-error', { hasText: 'A room called “bouldering” already exists' }).waitFor();
    await nameField.evaluate((input, name) => ((input as unknown as { value: string }).value = name), 'x'.repeat(65));
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('#chat-rename-error', { hasText: 'a name is 1–64 characters' }).waitFor();

    // Bob is not the owner: the field is shut, with why; he sees the members but no Remove.
    await openDetails(bob);
    const bobDialog = bob.locator('#chat-info-dialog');
    t.ok(await bobDialog.getByLabel('Name', { exact: true }).isDisabled(), 'a member cannot rename the room');
    t.ok(await bobDialog.getByRole('button', { name: 'Save' }).isHidden());
    t.equal(await bobDialog.locator('#chat-rename-note').textContent(), 'Only the room’s owner can rename it.');
    await waitForTexts(bobDialog.locator('.member-name'), ['alice', ...climbers.slice(0, 49)]);
    t.equal(await bobDialog.getByRole('button', { name: /^Remove/ }).count(), 0);

    // The owner renames it: bob's open details, header and list follow.
    await nameField.fill('Climbing club');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await dialog.locator('#chat-info-title', { hasText: 'Climbing club' }).waitFor();
    await bobDialog.locator('#chat-info-title', { hasText: 'Climbing club' }).waitFor();
    t.equal(await bobDialog.getByLabel('Name', { exact: true }).inputValue(), 'Climbing club');
    await bob.locator('#chat-title', { hasText: 'Climbing club' }).waitFor();

    // She removes bob: his details close and the room leaves his list.
    await dialog.getByRole('button', { name: 'Remove bob' }).click();
    await alice.locator('#confirm-dialog').getByRole('button', { name: 'Remove' }).click();
    await waitForTexts(dialog.locator('.member-name'), ['alice', ...climbers]);
    t.equal(await dialog.locator('#chat-info-subtitle').textContent(), 'Public room · 56 members');
    await bob.locator('#chat-info-dialog').waitFor({ state: 'hidden' });
    await chatItem(bob, 'Climbing club').waitFor({ state: 'detached' });

    // A room nobody owns (one of the two every server has) says why its name stays.
    await bob.getByRole('button', { name: 'Rooms', exact: true }).click();
    await bob.getByRole('button', { name: 'Join general' }).click();
    await bob.locator('#chat-title', { hasText: 'general' }).waitFor();
    await openDetails(bob);
    t.equal(await bobDialog.locator('#chat-rename-note').textContent(), 'This room has no owner, so its name cannot change.');
    await waitForTexts(bobDialog.locator('.member-name'), ['bob']);
    // Leaving from the details: the room goes from his list.
    await bobDialog.getByRole('button', { name: 'Leave room' }).click();
    await bob.locator('#confirm-dialog').getByRole('button', { name: 'Leave room' }).click();
    await bob.locator('#toast', { hasText: 'You left general.' }).waitFor();
    await chatItem(bob, 'general').waitFor({ state: 'detached' });

    // The taken name and the too-long one show in the console as failed requests; nothing else may.
    t.same(errors.filter((e) => !/status of (400|409)/.test(e)), [], 'no page errors');
    t.equal(errors.length, 2);
  });
});
