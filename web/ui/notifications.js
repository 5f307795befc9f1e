// Telling the person about new messages they are not looking at: the unread count in the title,
// a sound (which can be turned off), and browser notifications once they ask for them (on a click,
// never on load). Rooms, which can be busy, count as unread but neither ring nor notify.

import { $ } from './dom.js';
import { chatTitle, memberName, state } from './state.js';
import { messageText } from './attachments.js';
import { chatVisible, openChat } from './conversation.js';

const SETTINGS_KEY = 'dm.notifications';
const SOUND_GAP_MS = 2000;

/** {notify: browser notifications wanted, sound: play a sound, asked: the banner was answered} */
const settings = { notify: false, sound: true, asked: false, ...readSettings() };
let lastSound = 0;
let audio = null;

function readSettings() {
  try {
    return JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') ?? {};
  } catch {
    return {};
  }
}

function save() {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  renderSettings();
}

const supported = () => typeof Notification !== 'undefined';
const granted = () => supported() && Notification.permission === 'granted';

/** The notifications this page has shown and that are still up: a log-out takes them down. */
const shown = new Set();

export function closeNotifications() {
  for (const note of shown) note.close();
  shown.clear();
}

export function setTitleCount(unread) {
  document.title = unread > 0 ? `(${unread}) Messages` : 'Messages';
}

/** A message from someone else arrived: ring and notify unless the person is looking at its chat. */
export function notifyMessage(chat, message) {
  if (chat.chat_type === 'room' || message.deleted_at) return;
  if (chat.id === state.activeChatId && chatVisible()) return;
  if (settings.sound) ring();
  if (!settings.notify || !granted()) return;
  const sender = memberName(chat, message.sender_id, message.sender);
  const title = chat.chat_type === 'direct' ? sender : `${sender} in ${chatTitle(chat)}`;
  try {
    // One notification per chat: a newer one replaces it.
    const note = new Notification(title, { body: messageText(message).slice(0, 200), tag: `chat-${chat.id}` });
    shown.add(note);
    note.addEventListener('close', () => shown.delete(note));
    note.addEventListener('click', () => {
      window.focus();
      openChat(chat.id);
      note.close();
    });
  } catch {
    // Some mobile browsers allow notifications only from a service worker: the sound and title remain.
  }
}

/**
 * A short two-note chime made on the spot (no sound file to fetch). The AudioContext is made at the
 * first chime, not before: making one can take a few hundred milliseconds on some systems.
 */
function ring() {
  const now = Date.now();
  if (now - lastSound < SOUND_GAP_MS) return;
  lastSound = now;
  try {
    audio ??= new AudioContext();
  } catch {
    return; // No audio on this device.
  }
  if (audio.state === 'running') {
    chime();
    return;
  }
  // Browsers start audio only once the person has clicked or typed on the page: until then the
  // resume waits, and a chime that could not start within a moment is dropped, not played late.
  audio.resume().then(
    () => Date.now() - now < 1000 && chime(),
    () => {},
  );
}

function chime() {
  try {
    const start = audio.currentTime;
    for (const [i, freq] of [880, 1320].entries()) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.12, start + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.12 + 0.25);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + i * 0.12);
      osc.stop(start + i * 0.12 + 0.3);
    }
  } catch {
    // No audio on this device.
  }
}

/** Some browsers (Safari) resume audio only from within a click or a key press: a waiting context is resumed on the next one. */
function resumeAudio() {
  if (audio && audio.state !== 'running' && audio.state !== 'closed') audio.resume().catch(() => {});
}

/** Asks the browser for permission: only ever from a click, and once at a time. */
let asking = false;
async function turnOn() {
  if (asking) return;
  settings.asked = true;
  if (!supported()) return save();
  // The banner goes at once: a second click while the browser asks must not ask again.
  $('notify-banner').hidden = true;
  let answer = Notification.permission;
  if (answer === 'default') {
    asking = true;
    try {
      // Called before any await: browsers show their prompt only within the click. (Older Safari
      // answers through a callback and returns nothing: the permission then says it.)
      answer = (await Notification.requestPermission()) ?? Notification.permission;
    } catch {
      answer = 'default';
    } finally {
      asking = false;
    }
  }
  settings.notify = answer === 'granted';
  save();
}

function renderSettings() {
  const status = $('notify-status');
  const button = $('notify-toggle');
  if (!supported()) {
    status.textContent = 'This browser cannot show notifications.';
    button.hidden = true;
  } else if (Notification.permission === 'denied') {
    status.textContent = 'Notifications are blocked for this site: allow them in the browser’s site settings.';
    button.hidden = true;
  } else {
    const on = settings.notify && granted();
    status.textContent = on ? 'On: new messages show a notification while you look elsewhere.' : 'Off.';
    button.hidden = false;
    button.textContent = on ? 'Turn off' : 'Turn on';
  }
  $('sound-toggle').checked = settings.sound;
  $('notify-banner').hidden = settings.asked || !supported() || Notification.permission !== 'default';
}

export function wireNotifications() {
  $('notify-toggle').addEventListener('click', () => {
    if (settings.notify && granted()) {
      settings.notify = false;
      save();
    } else {
      turnOn();
    }
  });
  $('notify-banner-on').addEventListener('click', turnOn);
  $('notify-banner-dismiss').addEventListener('click', () => {
    settings.asked = true;
    save();
  });
  $('sound-toggle').addEventListener('change', () => {
    settings.sound = $('sound-toggle').checked;
    save();
  });
  // The permission may have changed in the browser's site settings since: the dialog says it as it is now.
  $('settings-btn').addEventListener('click', renderSettings);
  navigator.permissions
    ?.query({ name: 'notifications' })
    .then((status) => status.addEventListener('change', renderSettings))
    .catch(() => {});
  for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, resumeAudio, { capture: true, passive: true });
  renderSettings();
}
