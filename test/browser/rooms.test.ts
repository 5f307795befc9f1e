import path from 'node:path';
import t from 'tap';
import { AuthResponse, call, Message as ApiMessage, Rooms, RoomSocket } from '../helpers/rooms-api.js';
import { login, request, startServer } from '../helpers/server.js';
import { ensureScreenshotDir, launch, logIn, message, online, waitForTexts, watchErrors, withChromium } from './browser.js';

// Public rooms in the web client: the directory, making, joining and leaving a room, and chatting in one.

withChromium(t, () => {

  t.test('two people meet in a room they found in the directory', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    // Alice on a desktop; bob on a phone, in the dark, with a second tab open on the same account.
    const aliceContext = await browser.newContext({ viewport: { width: 1200, height: 750 } });
    const bobContext = await browser.newContext({ viewport: { width: 390, height: 780 }, colorScheme: 'dark' });
    for (const context of [aliceContext, bobContext]) context.setDefaultTimeout(10_000);
    const alice = await aliceContext.newPage();
    const bob = await bobContext.newPage();
    watchErrors(alice, errors, 'alice');
    watchErrors(bob, errors, 'bob');
    await logIn(alice, server.url, 'alice');
    await logIn(bob, server.url, 'bob');
    const bobTab = await bobContext.newPage();
    watchErrors(bobTab, errors, 'bob (tab 2)');
    await bobTab.goto(server.url);
    await online(bobTab);

    // The directory lists the rooms every server has, by name, with their member counts.
    await alice.getByRole('button', { name: 'Rooms', exact: true }).click();
    await waitForTexts(alice.locator('#rooms-results .room-name'), ['general', 'random']);
    t.same(await alice.locator('#rooms-results .room-count').allTextContents(), ['0 members', '0 members']);
    await alice.getByRole('button', { name: 'Join general' }).waitFor();

    // Alice makes a room: she is its first member, and it opens.
    await alice.getByLabel('New room').fill('Book Club');
    await alice.getByRole('button', { name: 'Create room' }).click();
    await alice.locator('#chat-title', { hasText: 'Book Club' }).waitFor();
    await alice.locator('#chat-subtitle', { hasText: /^1 member$/ }).waitFor();
    t.ok(await alice.locator('#chat-avatar.avatar-room').isVisible(), 'the header shows a room avatar');
    t.ok(await alice.getByRole('button', { name: 'Leave room' }).isVisible(), 'a room can be left from its header');
    const aliceItem = alice.getByRole('button', { name: /^Book Club, room/ });
    await aliceItem.waitFor();
    t.equal(await aliceItem.locator('.avatar-room').count(), 1, 'the list marks it as a room');
    t.notOk(await alice.locator('#rooms-dialog').isVisible(), 'the directory closed');
    const roomId = Number(await aliceItem.getAttribute('data-chat-id'));

    // The same name in other capitals is taken: the error says so and the room that has it shows.
    await alice.getByRole('button', { name: 'Rooms', exact: true }).click();
    await alice.getByLabel('New room').fill('book club');
    await alice.getByRole('button', { name: 'Create room' }).click();
    await alice.locator('#room-create-error', { hasText: 'A room called “book club” already exists' }).waitFor();
    t.equal(await alice.getByLabel('Find a room').inputValue(), 'book club');
    await alice.getByRole('button', { name: 'Open Book Club' }).waitFor();
    // A name the server refuses (too long: typed past the field's own limit) is explained too.
    await alice.getByLabel('New room').evaluate((input, name) => ((input as unknown as { value: string }).value = name), 'x'.repeat(65));
    await alice.getByRole('button', { name: 'Create room' }).click();
    await alice.locator('#room-create-error', { hasText: 'a room name is 1–64 characters' }).waitFor();
    await alice.getByLabel('New room').fill('   ');
    await alice.getByRole('button', { name: 'Create room' }).click();
    await alice.locator('#room-create-error', { hasText: 'Give the room a name.' }).waitFor();
    await alice.getByRole('button', { name: 'Close' }).click();

    // Bob finds it by part of its name and joins; his other tab learns it from the `chat` frame.
    await bob.getByRole('button', { name: 'Rooms', exact: true }).click();
    await bob.getByLabel('Find a room').fill('club');
    // Only the rooms that match, once the search (typed while the full list loads) has answered.
    await waitForTexts(bob.locator('#rooms-results .room-name'), ['Book Club']);
    t.equal(await bob.locator('#rooms-results .room-count').textContent(), '1 member');
    const dir = ensureScreenshotDir();
    await bob.screenshot({ path: path.join(dir, 'rooms-directory-phone-dark.png') });
    await bob.getByRole('button', { name: 'Join Book Club' }).click();
    await bob.locator('#chat-title', { hasText: 'Book Club' }).waitFor();
    await bob.locator('#chat-subtitle', { hasText: /^2 members$/ }).waitFor();
    t.notOk(await bob.locator('.sidebar').isVisible(), 'narrow: the room fills the screen');
    await bobTab.locator('.chat-item', { hasText: 'Book Club' }).waitFor();

    // Messages both ways, with the sender's name on each, as in a group; typing shows too.
    await alice.getByLabel('Message', { exact: true }).fill('Welcome to the club!');
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    await message(bob, 'Welcome to the club!').waitFor();
    t.equal(await message(bob, 'Welcome to the club!').locator('.sender').textContent(), 'alice');
    await bob.getByLabel('Message', { exact: true }).pressSequentially('Thanks for having me', { delay: 15 });
    await alice.locator('#typing', { hasText: 'bob is typing…' }).waitFor();
    await bob.getByLabel('Message', { exact: true }).press('Enter');
    await message(alice, 'Thanks for having me').waitFor();
    t.equal(await message(alice, 'Thanks for having me').locator('.sender').textContent(), 'bob');
    await message(bob, 'Thanks for having me').waitFor();
    t.equal(await bob.locator('li.msg.pending').count(), 0, 'no send is left pending');
    // Bob has read alice's message, but a room shows no receipts.
    t.equal(await alice.locator('#message-list .receipt').count(), 0, 'no "Seen" in a room');
    t.equal(await bob.locator('#message-list .receipt').count(), 0, 'no "Seen" in a room');

    // Joins are not sent to the other members: alice's count catches up from the directory.
    t.equal(await alice.locator('#chat-subtitle').textContent(), '1 member');
    await alice.getByRole('button', { name: 'Rooms', exact: true }).click();
    await alice.locator('#rooms-results li.room', { hasText: 'Book Club' }).filter({ hasText: '2 members' }).waitFor();
    await alice.keyboard.press('Escape');
    await alice.locator('#chat-subtitle', { hasText: /^2 members$/ }).waitFor();

    // Someone posting through the REST API shows up live in both pages.
    const carol = await login(server, 'carol');
    t.equal((await request(server, 'POST', `/v1/rooms/${roomId}/join`, { token: carol.token })).status, 200);
    const posted = await request(server, 'POST', `/v1/chats/${roomId}/messages`, { token: carol.token, body: { content: 'Hello from the API' } });
    t.equal(posted.status, 201);
    for (const page of [alice, bob]) {
      await message(page, 'Hello from the API').waitFor();
      t.equal(await message(page, 'Hello from the API').locator('.sender').textContent(), 'carol');
    }
    await bobTab.locator('.chat-item', { hasText: 'carol: Hello from the API' }).waitFor();

    // A client of the rooms server (/api) follows the room on its socket and posts to it.
    const rita = await call(server, 'POST', '/api/register', AuthResponse, { body: { username: 'rita', password: 'password1' } });
    const roomUuid = (await call(server, 'GET', '/api/rooms', Rooms, { token: rita.token })).find((r: { name: string }) => r.name === 'Book Club').id;
    const ritaSocket = await RoomSocket.open(t, server, roomUuid, rita.token);
    await call(server, 'POST', '/api/messages', ApiMessage, { token: rita.token, body: { room_id: roomUuid, content: 'Hello from /api' } });
    for (const page of [alice, bob]) await message(page, 'Hello from /api').waitFor();
    await alice.getByLabel('Message', { exact: true }).fill('Hello, rita');
    await alice.getByLabel('Message', { exact: true }).press('Enter');
    const onApi = await ritaSocket.received(2);
    t.same(onApi.map((f) => [f.message.username, f.message.content]), [['rita', 'Hello from /api'], ['alice', 'Hello, rita']], 'the web client\'s message reaches the /api socket');
    t.same(ritaSocket.undecodable, []);
    const expected = ['Welcome to the club!', 'Thanks for having me', 'Hello from the API', 'Hello from /api', 'Hello, rita'];
    for (const page of [alice, bob]) {
      // The last one may still be on its way to bob's page.
      await waitForTexts(page.locator('#message-list li.msg .text'), expected);
      t.same(await page.locator('#message-list li.msg .text').allTextContents(), expected, 'every message once, in order');
    }
    await bob.screenshot({ path: path.join(dir, 'room-phone-dark.png') });
    await alice.screenshot({ path: path.join(dir, 'room-desktop.png') });

    // Bob leaves: the room goes from his list, in this tab and the other, and nothing more of it comes.
    await bob.getByRole('button', { name: 'Leave room' }).click();
    await bob.locator('#toast', { hasText: 'You left Book Club.' }).waitFor();
    t.ok(await bob.locator('.sidebar').isVisible(), 'narrow: back to the list');
    t.equal(await bob.locator('.chat-item', { hasText: 'Book Club' }).count(), 0, 'gone from the list');
    await bobTab.locator('.chat-item', { hasText: 'Book Club' }).waitFor({ state: 'detached' });
    await request(server, 'POST', `/v1/chats/${roomId}/messages`, { token: carol.token, body: { content: 'Bob left?' } });
    await message(alice, 'Bob left?').waitFor();
    await bob.getByRole('button', { name: 'Rooms', exact: true }).click();
    await bob.getByRole('button', { name: 'Join Book Club' }).waitFor(); // the directory, fresh from the server
    t.equal(await bob.locator('.chat-item', { hasText: 'Book Club' }).count(), 0, 'a message after leaving does not bring it back');
    t.equal(await bobTab.locator('.chat-item', { hasText: 'Book Club' }).count(), 0);
    const bobChats = await request(server, 'GET', '/v1/chats', { token: (await login(server, 'bob')).token });
    t.notOk(bobChats.body.some((c: { id: number }) => c.id === roomId), 'the server agrees');

    // The taken name and the too-long name show in the console as failed requests; nothing else may.
    t.same(errors.filter((e) => !/status of (400|409)/.test(e)), [], 'no page errors');
    t.equal(errors.length, 2);
  });

  t.test('the directory searches and pages by name', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const errors: string[] = [];
    watchErrors(page, errors, 'dana');

    // More rooms than one page (50) holds, made out of order.
    const owner = await login(server, 'owner');
    const names = Array.from({ length: 57 }, (_, i) => `Lounge ${String(i + 1).padStart(2, '0')}`);
    for (const name of [...names].reverse()) {
      const res = await request(server, 'POST', '/v1/rooms', { token: owner.token, body: { name } });
      t.equal(res.status, 201, name);
    }

    await logIn(page, server.url, 'dana');
    await page.getByRole('button', { name: 'Rooms', exact: true }).click();
    await page.getByLabel('Find a room').fill('LOUNGE');
    const rows = page.locator('#rooms-results li.room');
    // The search answers after the full list (general, then the lounges) that opening the dialog asked for.
    await waitForTexts(page.locator('#rooms-results .room-name'), names.slice(0, 50));
    await page.getByRole('button', { name: 'Show more rooms' }).click();
    await rows.nth(56).waitFor();
    t.same(await page.locator('#rooms-results .room-name').allTextContents(), names, 'all of them, once, by name');
    t.ok(await page.getByRole('button', { name: 'Show more rooms' }).isHidden(), 'nothing more to show');
    t.equal(await page.locator('#rooms-results button:focus').getAttribute('aria-label'), 'Join Lounge 51', 'the keyboard goes on at the first new room');

    // A search that matches nothing says so.
    await page.getByLabel('Find a room').fill('no such room');
    await page.locator('#rooms-status', { hasText: 'No room name has “no such room” in it.' }).waitFor();
    t.equal(await rows.count(), 0);

    // Joining from the second page opens the room.
    await page.getByLabel('Find a room').fill('lounge 5');
    await page.getByRole('button', { name: 'Join Lounge 57' }).click();
    await page.locator('#chat-title', { hasText: 'Lounge 57' }).waitFor();
    await page.locator('#chat-subtitle', { hasText: /^2 members$/ }).waitFor();
    await page.locator('#history-status', { hasText: 'No messages yet. Say hello!' }).waitFor();
    t.same(errors, [], 'no page errors');
  });
});
