// The settings dialog: the profile (display name, bio), the password (protecting a username-only
// account with one, or changing it), and logging out here or everywhere. Its notifications section
// is notifications.js's.

import { $, h } from './dom.js';
import { client, me } from './state.js';
import { logout, renderMe, saveSession, serverInfo } from './session.js';

const BIO_MAX = 500;

/** Takes in the user as `GET`/`PATCH /v1/me` answered, everywhere the page shows it. */
function adoptMe(user) {
  if (!client.session) return;
  client.session.user = { ...client.session.user, ...user };
  saveSession();
  renderMe();
}

export function openSettings() {
  for (const id of ['profile-error', 'profile-status']) $(id).textContent = '';
  passwordDone = '';
  fillProfile();
  $('settings-dialog').showModal();
  renderPassword();
  $('settings-close').focus();
  // Whether the account has a password (set on another device, say), and the profile, as they are now.
  client
    .request('GET', '/me')
    .then((user) => {
      const editing = $('settings-dialog').contains(document.activeElement) && document.activeElement.matches('input, textarea');
      adoptMe(user);
      if (!editing) fillProfile();
      renderPassword();
    })
    .catch(() => {});
}

/** Opens the settings at the password form (from the sidebar's notice). */
export function openPasswordSettings() {
  openSettings();
  const field = $('password-current') ?? $('password-new');
  // Before /me has answered there is no form yet: the dialog's own scroll shows it when it comes.
  field?.focus();
  field?.closest('form').scrollIntoView({ block: 'nearest' });
}

// Profile ----------------------------------------------------------------------------------------

function fillProfile() {
  const user = me();
  $('profile-username').textContent = user.username;
  $('profile-name').value = user.display_name ?? '';
  $('profile-bio').value = user.bio ?? '';
  countBio();
}

function countBio() {
  const length = $('profile-bio').value.length;
  $('profile-bio-count').textContent = `${length} / ${BIO_MAX} characters`;
}

/** The server's VALIDATION_ERROR for a profile field, as a sentence for people. */
function profileProblem(err) {
  const field = err.body?.field;
  if (field === 'display_name') {
    if (/another user's username/.test(err.message)) {
      return 'That display name looks like someone else’s username: pick one that does not pass for another person.';
    }
    if (/more than/.test(err.message)) return 'A display name is at most 64 characters.';
    return `That display name cannot be used: ${err.message.replace(/^display_name:\s*/, '')}`;
  }
  if (field === 'bio') return `A bio is at most ${BIO_MAX} characters.`;
  return err.message;
}

async function onProfileSubmit(event) {
  event.preventDefault();
  const error = $('profile-error');
  const status = $('profile-status');
  error.textContent = '';
  status.textContent = '';
  const displayName = $('profile-name').value.trim();
  const bio = $('profile-bio').value.trim();
  // "" clears a field on the server.
  const body = { display_name: displayName, bio };
  const button = $('profile-save');
  button.disabled = true;
  try {
    adoptMe(await client.request('PATCH', '/me', body));
  } catch (err) {
    error.textContent = err.code === 'VALIDATION_ERROR' ? profileProblem(err) : err.message;
    $(err.body?.field === 'bio' ? 'profile-bio' : 'profile-name').focus();
    return;
  } finally {
    button.disabled = false;
  }
  fillProfile();
  status.textContent = 'Saved.';
}

// Password ---------------------------------------------------------------------------------------
//
// Built while the dialog is open and removed when it closes: while it is closed, the page's only
// password field is the log-in form's, the one autofill (and anything that finds a field by its
// label) should find.

/** Which form is built: `set`, `change`, or null until /me has said whether there is a password. */
let passwordForm = null;
/** A sentence that outlives rebuilding the form (set, then the change form appears). */
let passwordDone = '';

const minLength = () => serverInfo().password_min_length ?? 8;

function passwordField(id, label, autocomplete) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id, text: label }),
    h('input', { id, type: 'password', autocomplete, maxlength: 256, oninput: () => ($('password-error').textContent = '') }),
  );
}

/** The form that fits the account: set one (none yet), change it, or none until /me has said. */
function renderPassword() {
  renderPasswordBanner();
  const user = me();
  const wanted = !$('settings-dialog').open || typeof user.has_password !== 'boolean' ? null : user.has_password ? 'change' : 'set';
  if (wanted === passwordForm) return;
  passwordForm = wanted;
  if (wanted === null) {
    $('password-section').replaceChildren();
    return;
  }
  const set = wanted === 'set';
  const intro = set
    ? serverInfo().auth_mode === 'open'
      ? `Until this account has a password, anyone who logs in as “${user.username}” gets it. With one, logging in needs the password.`
      : 'Logging in will need this password.'
    : 'Your other devices are logged out when it changes.';
  const form = h(
    'form',
    { id: 'password-form', class: 'settings-section', novalidate: true, 'aria-labelledby': 'password-heading', onsubmit: set ? onPasswordSet : onPasswordChange },
    h('h3', { id: 'password-heading', tabindex: -1, text: set ? 'Protect this name with a password' : 'Change password' }),
    h('p', { class: 'hint password-intro', text: intro }),
    // For password managers: whose password this is.
    h('input', { type: 'text', autocomplete: 'username', value: user.username, hidden: true, readonly: true, tabindex: -1 }),
    set ? null : passwordField('password-current', 'Current password', 'current-password'),
    passwordField('password-new', set ? 'Password' : 'New password', 'new-password'),
    passwordField('password-repeat', set ? 'Repeat the password' : 'Repeat the new password', 'new-password'),
    h('p', { id: 'password-error', class: 'error', role: 'alert' }),
    h(
      'div',
      { class: 'settings-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary btn-small', id: 'password-save', text: set ? 'Set password' : 'Change password' }),
      h('span', { class: 'settings-done', id: 'password-status', role: 'status', text: passwordDone }),
    ),
  );
  $('password-section').replaceChildren(form);
}

const noticeKey = () => `dm.password-notice-dismissed.${me().id}`;

/**
 * A quiet notice in the sidebar, until set or dismissed, for an account without a password on an
 * open-mode server, where anyone who types the name gets the account. (In password mode nobody
 * logs in to such an account: the settings still offer to set one.)
 */
export function renderPasswordBanner() {
  const user = client.session?.user;
  let dismissed = false;
  try {
    dismissed = user ? localStorage.getItem(noticeKey()) === '1' : true;
  } catch {
    // Storage refused: shown, and dismissing hides it for this page only.
  }
  $('password-banner').hidden = !user || user.has_password !== false || dismissed || serverInfo().auth_mode !== 'open';
  if (user) $('password-banner-text').textContent = `Anyone who logs in as “${user.username}” gets this account until it has a password.`;
}

/** What is wrong with the new password as typed, or ''. */
function newPasswordProblem() {
  const password = $('password-new').value;
  if (password.length < minLength()) {
    $('password-new').focus();
    return `A password needs at least ${minLength()} characters.`;
  }
  if (password !== $('password-repeat').value) {
    $('password-repeat').focus();
    return 'The two passwords are not the same.';
  }
  return '';
}

async function putPassword(body) {
  const error = $('password-error');
  const button = $('password-save');
  button.disabled = true;
  try {
    await client.request('PUT', '/me/password', body);
    return true;
  } catch (err) {
    if (err.code === 'WRONG_PASSWORD') {
      error.textContent = 'The current password is wrong.';
      $('password-current').select();
    } else if (err.code === 'VALIDATION_ERROR' && err.body?.field === 'password') {
      error.textContent = `A password is ${minLength()} to 256 characters.`;
    } else {
      error.textContent = err.message;
    }
    return false;
  } finally {
    button.disabled = false;
  }
}

async function onPasswordSet(event) {
  event.preventDefault();
  const error = $('password-error');
  error.textContent = '';
  error.textContent = newPasswordProblem();
  if (error.textContent !== '') return;
  if (!(await putPassword({ password: $('password-new').value }))) return;
  passwordDone = 'Your name is protected: logging in needs the password now. Your other devices were logged out.';
  adoptMe({ has_password: true });
  renderPassword();
  // The form it was typed in is gone: the keyboard goes on at the one that replaced it.
  $('password-heading').focus();
}

async function onPasswordChange(event) {
  event.preventDefault();
  const error = $('password-error');
  error.textContent = '';
  $('password-status').textContent = '';
  if ($('password-current').value === '') {
    error.textContent = 'Enter your current password.';
    $('password-current').focus();
    return;
  }
  error.textContent = newPasswordProblem();
  if (error.textContent !== '') return;
  if (!(await putPassword({ password: $('password-new').value, current_password: $('password-current').value }))) return;
  for (const id of ['password-current', 'password-new', 'password-repeat']) $(id).value = '';
  $('password-status').textContent = 'Password changed. Your other devices were logged out.';
}

// Wiring -----------------------------------------------------------------------------------------

export function wireSettings() {
  $('settings-close').addEventListener('click', () => $('settings-dialog').close());
  $('profile-form').addEventListener('submit', onProfileSubmit);
  $('profile-bio').addEventListener('input', countBio);
  for (const id of ['profile-name', 'profile-bio']) {
    $(id).addEventListener('input', () => {
      $('profile-error').textContent = '';
      $('profile-status').textContent = '';
    });
  }
  $('settings-logout').addEventListener('click', () => logout());
  $('settings-logout-all').addEventListener('click', () => logout({ everywhere: true }));
  $('password-banner-set').addEventListener('click', openPasswordSettings);
  $('password-banner-dismiss').addEventListener('click', () => {
    try {
      localStorage.setItem(noticeKey(), '1');
    } catch {
      // Hidden for this page only.
    }
    $('password-banner').hidden = true;
  });
  // Passwords typed and not saved are not kept for the next opening.
  $('settings-dialog').addEventListener('close', () => {
    passwordForm = null;
    $('password-section').replaceChildren();
  });
}
