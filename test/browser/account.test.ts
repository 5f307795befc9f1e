import t from 'tap';
import type { Browser, Page } from 'playwright-core';
import { createInvites } from '../../src/admin/commands.js';
import { login, pair, request, startServer, type TestServer } from '../helpers/server.js';
import { launch, logIn, online, watchErrors, withChromium } from './browser.js';

// The account in the web client: the profile, protecting a name with a password, changing it,
// logging out everywhere, and signing up as each server policy allows.

async function newPage(browser: Browser, errors: string[], who: string, viewport = { width: 1100, height: 760 }): Promise<Page> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  watchErrors(page, errors, who);
  return page;
}

async function openSettings(page: Page) {
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.locator('#settings-dialog[open]').waitFor();
  return page.locator('#settings-dialog');
}

/** The log-in form, filled and sent (the password field only where it shows). */
async function submitLogin(page: Page, username: string, password?: string) {
  await page.getByLabel('Username').fill(username);
  if (password !== undefined) await page.locator('#login-password').fill(password);
  await page.locator('#login-submit').click();
}

/** In open mode the form asks for the password once the server says the account has one. */
async function logInWithPassword(page: Page, username: string, password: string) {
  await submitLogin(page, username);
  await page.locator('#login-password').waitFor();
  await page.locator('#login-password').fill(password);
  await page.locator('#login-submit').click();
  await online(page);
}

const newInvite = async (server: TestServer) => (await createInvites(server.app.db, 1, null)).lines[0]!;

withChromium(t, () => {
  t.test('the profile: display name and bio, and what others see of them', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    await pair(server, 'alice', 'bob');
    const alice = await newPage(browser, errors, 'alice');
    const bob = await newPage(browser, errors, 'bob');
    await logIn(alice, server.url, 'alice');
    await logIn(bob, server.url, 'bob');
    await bob.locator('.chat-item-title', { hasText: /^alice$/ }).waitFor();

    const settings = await openSettings(alice);
    t.equal(await settings.locator('#profile-username').textContent(), 'alice');
    // A display name that passes for another's username is refused, and said so.
    await settings.getByLabel('Display name').fill('BOB');
    await settings.getByRole('button', { name: 'Save profile' }).click();
    await settings.locator('#profile-error', { hasText: 'looks like someone else’s username' }).waitFor();

    await settings.getByLabel('Display name').fill('  Alice Liddell ');
    await settings.getByLabel('Bio').fill('Down the rabbit hole.');
    t.equal(await settings.locator('#profile-bio-count').textContent(), '21 / 500 characters');
    await settings.getByRole('button', { name: 'Save profile' }).click();
    await settings.locator('#profile-status', { hasText: 'Saved.' }).waitFor();
    t.equal(await settings.getByLabel('Display name').inputValue(), 'Alice Liddell', 'as the server keeps it: trimmed');
    t.equal(await settings.locator('#profile-error').textContent(), '');
    await alice.locator('#me-name', { hasText: 'Alice Liddell' }).waitFor();
    await settings.getByRole('button', { name: 'Close' }).click();

    // After a reload the page has them from the server.
    await alice.reload();
    await online(alice);
    t.equal(await alice.locator('#me-name').textContent(), 'Alice Liddell');
    await openSettings(alice);
    t.equal(await settings.getByLabel('Display name').inputValue(), 'Alice Liddell');
    t.equal(await settings.getByLabel('Bio').inputValue(), 'Down the rabbit hole.');
    await settings.getByRole('button', { name: 'Close' }).click();

    // The server sends no frame for a profile change: bob's list shows the new name once it asks
    // for the chats again (a reload, or a reconnect).
    await bob.reload();
    await online(bob);
    await bob.locator('.chat-item-title', { hasText: 'Alice Liddell (@alice)' }).waitFor();

    // Emptied, the display name is cleared: the username shows again.
    await openSettings(alice);
    await settings.getByLabel('Display name').fill('');
    await settings.getByRole('button', { name: 'Save profile' }).click();
    await settings.locator('#profile-status', { hasText: 'Saved.' }).waitFor();
    await alice.locator('#me-name', { hasText: /^alice$/ }).waitFor();
    t.match((await request(server, 'GET', '/v1/me', { token: (await login(server, 'alice')).token })).body, { display_name: null, bio: 'Down the rabbit hole.' });

    // The refused display name shows in the console as a failed request; nothing else may.
    t.same(errors.filter((e) => !/status of 400/.test(e)), [], 'no page errors');
    t.equal(errors.length, 1);
  });

  t.test('a password: protecting a name, changing it, and logging out everywhere', async (t) => {
    const server = await startServer(t);
    const browser = await launch(t);
    const errors: string[] = [];
    const laptop = await newPage(browser, errors, 'laptop');
    const phone = await newPage(browser, errors, 'phone', { width: 390, height: 780 });
    await logIn(laptop, server.url, 'alice');

    // A username-only account: a notice in the sidebar offers a password.
    const banner = laptop.locator('#password-banner');
    await banner.waitFor();
    t.match(await banner.textContent(), 'Anyone who logs in as “alice” gets this account until it has a password.');
    await banner.getByRole('button', { name: 'Set a password' }).click();
    const settings = laptop.locator('#settings-dialog');
    await settings.getByRole('heading', { name: 'Protect this name with a password' }).waitFor();
    const field = (label: string) => settings.getByLabel(label, { exact: true });
    t.ok(await field('Password').evaluate((el) => el === el.ownerDocument.activeElement), 'the notice leads to the field');
    await field('Password').fill('short');
    await field('Repeat the password').fill('short');
    await settings.getByRole('button', { name: 'Set password' }).click();
    await settings.locator('#password-error', { hasText: 'A password needs at least 8 characters.' }).waitFor();
    await field('Password').fill('correct horse');
    await field('Repeat the password').fill('correct hose');
    await settings.getByRole('button', { name: 'Set password' }).click();
    await settings.locator('#password-error', { hasText: 'The two passwords are not the same.' }).waitFor();
    await field('Repeat the password').fill('correct horse');
    await settings.getByRole('button', { name: 'Set password' }).click();
    await settings.locator('#password-status', { hasText: 'Your name is protected' }).waitFor();
    await settings.getByRole('heading', { name: 'Change password' }).waitFor();
    t.ok(await banner.isHidden(), 'the notice is gone');
    await settings.getByRole('button', { name: 'Close' }).click();

    // Logging in again (here, on a phone) needs the password now.
    await phone.goto(server.url);
    await submitLogin(phone, 'alice');
    await phone.locator('#login-password').waitFor();
    t.ok(await phone.locator('#app-view').isHidden(), 'not in without the password');
    // Typing the same name again keeps the password field (another name would hide it).
    await submitLogin(phone, 'alice', 'correct horse');
    await online(phone);
    t.ok(await phone.locator('#password-banner').isHidden(), 'no notice for an account with a password');

    // A change with a wrong current password is refused; with the right one, the phone is logged out.
    await openSettings(laptop);
    await field('Current password').fill('wrong horse');
    await field('New password').fill('battery staple');
    await field('Repeat the new password').fill('battery staple');
    await settings.getByRole('button', { name: 'Change password' }).click();
    await settings.locator('#password-error', { hasText: 'The current password is wrong.' }).waitFor();
    t.ok(await phone.locator('#app-view').isVisible(), 'the phone is still in');
    await field('Current password').fill('correct horse');
    await settings.getByRole('button', { name: 'Change password' }).click();
    await settings.locator('#password-status', { hasText: 'Password changed. Your other devices were logged out.' }).waitFor();
    await phone.locator('#login-error', { hasText: 'Your session has ended. Please log in again.' }).waitFor();
    t.ok(await phone.locator('#app-view').isHidden(), 'the phone shows the log-in form');
    t.ok(await laptop.locator('#app-view').isVisible(), 'the laptop, which made the change, stays in');
    await settings.getByRole('button', { name: 'Close' }).click();

    // The phone logs in with the new password; "Log out everywhere" on the laptop ends both.
    await logInWithPassword(phone, 'alice', 'battery staple');
    await openSettings(laptop);
    await settings.getByRole('button', { name: 'Log out everywhere' }).click();
    await laptop.locator('#login-view').waitFor();
    t.equal(await laptop.locator('#login-error').textContent(), '', 'here: no message, the person chose it');
    await phone.locator('#login-error', { hasText: 'Your session has ended. Please log in again.' }).waitFor();
    t.ok(await phone.locator('#app-view').isHidden());
    t.ok(await laptop.locator('#settings-dialog').isHidden(), 'no dialog is left over the form');

    // "Log out" logs out this page only.
    await logInWithPassword(laptop, 'alice', 'battery staple');
    await logInWithPassword(phone, 'alice', 'battery staple');
    await openSettings(laptop);
    await settings.getByRole('button', { name: 'Log out', exact: true }).click();
    await laptop.locator('#login-view').waitFor();
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.ok(await phone.locator('#app-view').isVisible(), 'the phone is still in');

    // The log-ins without a password (401 PASSWORD_REQUIRED) and the wrong current password (403)
    // show in the console as failed requests; nothing else may.
    t.same(errors.filter((e) => !/status of (401|403)/.test(e)), [], 'no page errors');
    t.equal(errors.length, 5);
  });

  t.test('signing up where the server takes new accounts by invite (password mode)', async (t) => {
    const server = await startServer(t, { AUTH_MODE: 'password', REGISTRATION: 'invite' });
    const browser = await launch(t);
    const errors: string[] = [];
    const page = await newPage(browser, errors, 'newbie');
    await page.goto(server.url);
    t.equal(await page.locator('#login-intro').textContent(), 'Log in with your username and password.');
    t.ok(await page.locator('#login-invite-field').isHidden(), 'logging in asks for no code');

    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    t.match(await page.locator('#login-intro').textContent(), 'invite code');
    t.ok(await page.getByLabel('Invite code').isVisible(), 'signing up asks for the code');
    // Without a code: said at once, and nothing is sent.
    await submitLogin(page, 'newbie', 'correct horse');
    await page.locator('#login-error', { hasText: 'This server takes new members by invite: enter the invite code you were given.' }).waitFor();
    t.ok(await page.getByLabel('Invite code').evaluate((el) => el === el.ownerDocument.activeElement), 'the code field has the focus');
    // A code that is not one.
    await page.getByLabel('Invite code').fill('AAAA-BBBB-CCCC-DDDD');
    await page.locator('#login-submit').click();
    await page.locator('#login-error', { hasText: 'That invite code is unknown, used or expired.' }).waitFor();
    // A good one: in.
    await page.getByLabel('Invite code').fill(await newInvite(server));
    await page.locator('#login-submit').click();
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), 'newbie');
    // The server refused the same sign-up without a code too (it never reached it from the form).
    const bare = await request(server, 'POST', '/v1/register', { body: { username: 'other', password: 'correct horse' } });
    t.equal(bare.body.code, 'INVITE_REQUIRED');

    // The bad code shows in the console as a failed request (403); nothing else may.
    t.same(errors.filter((e) => !/status of 403/.test(e)), [], 'no page errors');
    t.equal(errors.length, 1);
  });

  t.test('password mode, open and closed registration; a name in another alphabet', async (t) => {
    const browser = await launch(t);
    const errors: string[] = [];

    // Open: anyone signs up, here as zoë typed with a combining diaeresis (stored composed).
    const open = await startServer(t, { AUTH_MODE: 'password', REGISTRATION: 'open' });
    const page = await newPage(browser, errors, 'zoë');
    await page.goto(open.url);
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    t.ok(await page.locator('#login-invite-field').isHidden(), 'no code asked for');
    await submitLogin(page, 'zoe\u0308', 'correct horse');
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), 'zoë');
    t.equal(await page.locator('#me-name').textContent(), 'zo\u00eb', 'composed');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-view').waitFor();
    t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Messages', 'back to the log-in form, not the sign-up');
    await submitLogin(page, 'zoë', 'correct horse');
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), 'zoë');
    const settings = await openSettings(page);
    t.equal(await settings.locator('#profile-username').textContent(), 'zoë');
    await settings.getByRole('heading', { name: 'Change password' }).waitFor();
    t.equal(await settings.getByRole('heading', { name: 'Protect this name with a password' }).count(), 0);
    await settings.getByRole('button', { name: 'Close' }).click();

    // Closed: no way to sign up is offered.
    const closed = await startServer(t, { AUTH_MODE: 'password', REGISTRATION: 'closed' });
    const closedPage = await newPage(browser, errors, 'closed');
    await closedPage.goto(closed.url);
    await closedPage.getByRole('button', { name: 'Log in' }).waitFor();
    t.ok(await closedPage.locator('#login-switch').isHidden(), 'no sign-up link');
    t.equal(await closedPage.getByRole('button', { name: /Create an account/ }).count(), 0);
    t.equal(await closedPage.locator('#login-intro').textContent(), 'Log in with your username and password. This server takes no new accounts.');
    t.ok(await closedPage.locator('#login-password-field').isVisible(), 'the password is asked for at once');

    t.same(errors, [], 'no page errors');
  });

  t.test('open mode with invites: a new name needs a code, an existing one does not', async (t) => {
    const server = await startServer(t, { AUTH_MODE: 'open', REGISTRATION: 'invite' });
    const browser = await launch(t);
    const errors: string[] = [];
    const page = await newPage(browser, errors, 'guest');
    await page.goto(server.url);
    t.equal(await page.locator('#login-intro').textContent(), 'Log in with your username. A new name creates an account with an invite code.');
    t.ok(await page.getByLabel('Invite code').isVisible(), 'the code field is there, for a new account');
    t.ok(await page.locator('#login-password-field').isHidden());
    t.ok(await page.locator('#login-switch').isHidden(), 'no separate sign-up: a new name is one');

    await submitLogin(page, 'guest');
    await page.locator('#login-error', { hasText: 'There is no account called “guest” yet: a new account needs an invite code.' }).waitFor();
    await page.getByLabel('Invite code').fill((await newInvite(server)).toLowerCase().replaceAll('-', ''));
    await page.locator('#login-submit').click();
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), 'guest');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-view').waitFor();

    // The account exists now: no code needed.
    await submitLogin(page, 'guest');
    await online(page);
    t.equal(await page.locator('#me-name').textContent(), 'guest');

    // The refused new name shows in the console as a failed request (403); nothing else may.
    t.same(errors.filter((e) => !/status of 403/.test(e)), [], 'no page errors');
    t.equal(errors.length, 1);
  });
});
