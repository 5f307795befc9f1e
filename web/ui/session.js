// Logging in, signing up, and what starts and ends with a session.

import { USERNAME_PATTERN } from '../client.js';
import { $, fillAvatar, toast } from './dom.js';
import { adoptChat, client, me, state } from './state.js';
import { renderPasswordBanner } from './settings.js';
import { clearStaged } from './attachments.js';
import { closeNotifications } from './notifications.js';
import { confirmAction } from './chat-info.js';

const SESSION_KEY = 'dm.session';

/** What `GET /v1/server` said: which forms this server wants. */
const server = { auth_mode: 'open', registration: 'open', password_min_length: 8, max_upload_bytes: null, max_files_per_message: 10 };
/** `login` or `signup` (only where accounts come from /register). */
let mode = 'login';
/** In open mode, the name the server asked a password for: the field stays while that name does. */
let passwordAskedFor = null;

/** Called once the page has a session: set by app.js (it opens the chats and the socket). */
let onStart = async () => {};
let onEnd = () => {};
export function sessionHooks({ start, end }) {
  onStart = start;
  onEnd = end;
}

export function savedSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
    if (saved && typeof saved.token === 'string' && Number.isInteger(saved.user?.id)) return saved;
  } catch {
    // A damaged entry: log in again.
  }
  return null;
}

/** Keeps the session across reloads, with the user as last known (its display name may change). */
export function saveSession() {
  if (client.session) localStorage.setItem(SESSION_KEY, JSON.stringify(client.session));
}

export async function loadServerInfo() {
  try {
    Object.assign(server, await client.serverInfo());
  } catch {
    // An older server, or none reachable yet: the open-mode form, which asks for more when told.
  }
}

export const serverInfo = () => server;

export function showLogin(message = '') {
  document.title = 'Messages';
  $('app-view').hidden = true;
  $('login-view').hidden = false;
  setMode('login');
  $('login-error').textContent = message;
  $('login-password').value = '';
  $('login-username').focus();
}

/** Shows the form for `next`: the fields this server's policy asks for. */
function setMode(next) {
  mode = next;
  passwordAskedFor = null;
  const signup = mode === 'signup';
  const passwordServer = server.auth_mode === 'password';
  $('login-title').textContent = signup ? 'Create an account' : 'Messages';
  let intro;
  if (signup) intro = server.registration === 'invite' ? 'Pick a username and a password, and enter your invite code.' : 'Pick a username and a password.';
  else if (passwordServer) intro = server.registration === 'closed' ? 'Log in with your username and password. This server takes no new accounts.' : 'Log in with your username and password.';
  else if (server.registration === 'open') intro = 'Log in with a username. A new name creates an account.';
  else if (server.registration === 'invite') intro = 'Log in with your username. A new name creates an account with an invite code.';
  else intro = 'Log in with your username. This server takes no new accounts.';
  $('login-intro').textContent = intro;
  $('login-password-field').hidden = !(signup || passwordServer);
  $('login-password').autocomplete = signup ? 'new-password' : 'current-password';
  $('login-password-hint').textContent = signup
    ? `At least ${server.password_min_length} characters.`
    : 'This account is protected by a password.';
  $('login-password-hint').hidden = passwordServer && !signup;
  // A code is asked of new accounts only: on sign-up, or in open mode where a new name makes one.
  const invite = server.registration === 'invite' && (signup || !passwordServer);
  $('login-invite-field').hidden = !invite;
  $('login-invite-hint').textContent = signup ? 'This server asks new members for an invite code.' : 'Only for a new account: this server asks new members for one.';
  $('login-submit').textContent = signup ? 'Create account' : 'Log in';
  const canSignUp = passwordServer && server.registration !== 'closed';
  $('login-switch').hidden = !canSignUp;
  $('login-switch-btn').textContent = signup ? 'I have an account: log in' : 'New here? Create an account';
  $('login-error').textContent = '';
}

export async function onLoginSubmit(event) {
  event.preventDefault();
  const username = $('login-username').value.trim().normalize('NFC');
  const passwordShown = !$('login-password-field').hidden;
  const password = $('login-password').value;
  const invite = $('login-invite-field').hidden ? '' : $('login-invite').value.trim();
  const error = $('login-error');
  error.textContent = '';
  if (!USERNAME_PATTERN.test(username)) {
    error.textContent = 'A username is 1–32 letters or digits (any alphabet), “_”, “.” or “-”.';
    $('login-username').focus();
    return;
  }
  if (mode === 'signup' && password.length < server.password_min_length) {
    error.textContent = `A password needs at least ${server.password_min_length} characters.`;
    $('login-password').focus();
    return;
  }
  if (mode === 'signup' && server.registration === 'invite' && invite === '') {
    error.textContent = 'This server takes new members by invite: enter the invite code you were given.';
    $('login-invite').focus();
    return;
  }
  const body = { username };
  if (passwordShown && password !== '') body.password = password;
  if (invite !== '') body.invite = invite;
  const button = $('login-submit');
  button.disabled = true;
  try {
    if (mode === 'signup') await client.register(body);
    else await client.login(body);
    saveSession();
    $('login-invite').value = '';
    await onStart();
  } catch (err) {
    if (err.code === 'PASSWORD_REQUIRED') {
      passwordAskedFor = username;
      $('login-password-field').hidden = false;
      $('login-password-hint').hidden = false;
      error.textContent = passwordShown ? 'Enter the password.' : '';
      $('login-password').focus();
    } else if (err.code === 'INVITE_REQUIRED' || err.code === 'INVITE_INVALID') {
      $('login-invite-field').hidden = false;
      if (err.code === 'INVITE_INVALID') error.textContent = 'That invite code is unknown, used or expired. Check it, or ask for a new one.';
      else if (mode === 'signup') error.textContent = 'This server takes new members by invite: enter the invite code you were given.';
      else error.textContent = `There is no account called “${username}” yet: a new account needs an invite code.`;
      $('login-invite').focus();
    } else if (err.code === 'REGISTRATION_CLOSED') {
      error.textContent = mode === 'signup' ? 'This server takes no new accounts.' : `There is no account called “${username}”, and this server takes no new accounts.`;
      $('login-username').focus();
    } else if (err.code === 'USERNAME_TAKEN') {
      error.textContent = `${err.message}. Pick another, or log in if it is yours.`;
      $('login-username').select();
    } else if (err.code === 'VALIDATION_ERROR' && err.body?.field === 'username') {
      // The server's rules for new names go further than the characters (a letter or digit, no look-alikes).
      error.textContent = `That name cannot be used: it ${err.message.replace(/^username: /, '')}.`;
      $('login-username').select();
    } else {
      error.textContent = err.message;
      if (passwordShown && err.code === 'INVALID_CREDENTIALS') $('login-password').select();
    }
  } finally {
    button.disabled = false;
  }
}

export function wireLogin() {
  $('login-form').addEventListener('submit', onLoginSubmit);
  $('login-username').addEventListener('input', () => {
    // Another name: it may not need a password.
    if (server.auth_mode === 'open' && mode === 'login' && $('login-username').value.trim().normalize('NFC') !== passwordAskedFor) {
      $('login-password-field').hidden = true;
      $('login-password').value = '';
    }
  });
  $('login-switch-btn').addEventListener('click', () => {
    setMode(mode === 'signup' ? 'login' : 'signup');
    $('login-username').focus();
  });
}

/** Forgets everything the page held for the session, then shows the log-in form. */
export function endSession(message) {
  localStorage.removeItem(SESSION_KEY);
  onEnd();
  state.chats.clear();
  state.activeChatId = null;
  state.readSent.clear();
  for (const typing of state.typing.values()) for (const entry of typing.values()) clearTimeout(entry.timer);
  state.typing.clear();
  state.lastTypingSent.clear();
  state.touched.clear();
  state.forgotten.clear();
  // Nothing of this person's may stay on the page for the next one.
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
  $('message-menu').hidden = true;
  $('announcer').textContent = '';
  $('user-search').value = '';
  $('search-section').hidden = true;
  $('search-results').replaceChildren();
  clearStaged();
  closeNotifications();
  showLogin(message);
}

/** Logs out here (`everywhere`: on every device); the socket and the form follow from session_ended. */
export async function logout({ everywhere = false } = {}) {
  const unsent = client.pending().length;
  if (
    unsent > 0 &&
    !(await confirmAction({
      title: unsent === 1 ? 'One message is not sent yet' : `${unsent} messages are not sent yet`,
      text: 'Logging out now drops them. Stay logged in, and they go as soon as the server can be reached.',
      action: 'Log out anyway',
    }))
  ) {
    return;
  }
  try {
    await client.logout({ everywhere });
  } catch (err) {
    // The session ends here anyway; the server forgets it at its expiry.
    if (err.status !== 401) toast(`Logged out on this device only: ${err.message}`);
  }
}

/** The chats, as the server has them now (the start, and after every resume). */
/**
 * The chats, as the server has them now (the start, and after every resume). Live frames keep
 * coming while the answer is on its way: a chat they changed meanwhile keeps what they said (but
 * takes its members' presence from the answer), one left meanwhile stays gone, and one that came
 * meanwhile stays.
 */
export async function fetchChats() {
  const since = state.version;
  const chats = await client.request('GET', '/chats');
  const newer = (id) => (state.touched.get(id) ?? 0) > since || (state.forgotten.get(id) ?? 0) > since;
  const ids = new Set(chats.map((c) => c.id));
  for (const chat of chats) {
    if (!newer(chat.id)) adoptChat(chat);
    else mergePresence(state.chats.get(chat.id), chat);
  }
  for (const id of [...state.chats.keys()]) if (!ids.has(id) && !newer(id)) state.chats.delete(id);
  return chats;
}

function mergePresence(known, fresh) {
  for (const member of known?.members ?? []) {
    const now = fresh.members?.find((m) => m.id === member.id);
    if (now) Object.assign(member, { online: now.online, last_seen_at: now.last_seen_at });
  }
}

export function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  renderMe();
  $('login-username').value = '';
}

export function renderMe() {
  const user = me();
  $('me-name').textContent = user.display_name ?? user.username;
  fillAvatar($('me-avatar'), user.display_name ?? user.username);
  $('me-name').title = user.display_name ? `${user.display_name} (@${user.username})` : user.username;
  renderPasswordBanner();
}
