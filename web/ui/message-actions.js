// Editing and deleting one's own messages: a menu on hover (or keyboard focus) and on long-press,
// Up in an empty composer to edit the last one.

import { $, h, icon, toast } from './dom.js';
import { client, me, replaceMessage, state } from './state.js';
import { autosize } from './composer.js';
import { renderMessages } from './conversation.js';
import { onMessageDeleted } from './events.js';
import { captionFor, onlyFiles } from './attachments.js';

const LONG_PRESS_MS = 500;
/** A contextmenu this soon after a touch is the browser's own long-press: ours opens instead. */
const TOUCH_MENU_MS = 1500;

/** The message being edited in the composer: {chatId, id, draft} (what the composer held before). */
let edit = null;
/** An edit on its way to the server: Enter again must not send it twice. */
let saving = false;
/** The message the open menu is for: {chatId, id, button}. */
let menuFor = null;

export const editing = () => edit !== null;

export function messageMenuButton(chat, message) {
  const open = menuFor?.chatId === chat.id && menuFor.id === message.id;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'msg-menu-btn',
      'aria-label': 'Message actions',
      title: 'Edit or delete',
      'aria-haspopup': 'menu',
      'aria-controls': 'message-menu',
      'aria-expanded': open ? 'true' : 'false',
      onclick: (event) => {
        const target = event.currentTarget;
        if (menuFor?.button === target) closeMenu();
        else openMenu(chat.id, message.id, target);
      },
    },
    icon('more'),
  );
  // The list is rebuilt on each change: the open menu's button is the new one.
  if (open) menuFor.button = button;
  return button;
}

/** Opens the menu of a message, under `button` (its menu button) or, for a long-press, at `point`. */
function openMenu(chatId, id, button, point = null) {
  const message = findMessage(chatId, id);
  if (!message || message.deleted_at) return;
  closeMenu();
  const rect = button.getBoundingClientRect();
  // A point is kept relative to the button, so that the menu follows its message when the list scrolls.
  menuFor = { chatId, id, button, point: point && { dx: point.x - rect.left, dy: point.y - rect.top } };
  button.setAttribute('aria-expanded', 'true');
  $('menu-edit').hidden = message.content === null;
  $('message-menu').hidden = false;
  placeMenu();
  menuItems()[0]?.focus();
}

function placeMenu() {
  const menu = $('message-menu');
  const { button, point } = menuFor;
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const rect = button.getBoundingClientRect();
  const box = point ? { top: rect.top + point.dy, bottom: rect.top + point.dy, right: rect.left + point.dx + width / 2 } : rect;
  const top = box.bottom + height + 8 > window.innerHeight ? box.top - height - 4 : box.bottom + 4;
  menu.style.top = `${Math.max(4, top)}px`;
  menu.style.left = `${Math.max(4, Math.min(box.right - width, window.innerWidth - width - 4))}px`;
}

/** The list scrolled: the menu moves with its message, and closes once the message is out of sight. */
function followScroll() {
  if (!menuFor) return;
  const row = menuFor.button.isConnected ? menuFor.button.closest('.msg') : null;
  const visible = $('messages').getBoundingClientRect();
  const box = row?.getBoundingClientRect();
  if (!box || box.bottom < visible.top || box.top > visible.bottom) closeMenu();
  else placeMenu();
}

const menuItems = () => [...$('message-menu').querySelectorAll('button')].filter((b) => !b.hidden);

function closeMenu({ refocus = false } = {}) {
  const menu = $('message-menu');
  if (menu.hidden) return;
  menu.hidden = true;
  const button = menuFor?.button;
  menuFor = null;
  if (!button?.isConnected) return;
  button.setAttribute('aria-expanded', 'false');
  if (refocus) button.focus();
}

function findMessage(chatId, id) {
  return state.chats.get(chatId)?.messages.find((m) => m.id === id) ?? null;
}

function setEditing(on) {
  $('edit-banner').hidden = !on;
  $('composer').classList.toggle('is-editing', on);
  $('send-btn').setAttribute('aria-label', on ? 'Save the edit' : 'Send');
  // An edit changes the text only: files go with a new message.
  $('attach-btn').disabled = on;
  $('composer-input').placeholder = on ? 'Edit your message…' : 'Write a message…';
}

/** Puts a message into the composer to be edited. */
export function startEdit(chatId, id) {
  const message = findMessage(chatId, id);
  if (!message || message.deleted_at || message.content === null || message.sender_id !== me().id) return false;
  const input = $('composer-input');
  edit = { chatId, id, draft: edit ? edit.draft : input.value };
  // A file sent alone carries its name as text, which the bubble does not show: there is no caption to edit.
  input.value = onlyFiles(message) ? '' : message.content;
  autosize();
  setEditing(true);
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  return true;
}

/** Edits the newest of my messages in the open chat that can be edited (Up in an empty composer). */
export function editLastMessage() {
  const chat = state.chats.get(state.activeChatId);
  const last = chat?.messages.findLast((m) => m.sender_id === me().id && !m.deleted_at && m.content !== null);
  return last ? startEdit(chat.id, last.id) : false;
}

/** Leaves edit mode; with `save`, sends the edit first (an unchanged text sends nothing). */
export async function finishEdit({ save = false } = {}) {
  if (!edit || saving) return;
  const { chatId, id, draft } = edit;
  const input = $('composer-input');
  if (save) {
    const message = findMessage(chatId, id);
    if (!message || message.deleted_at) {
      toast('This message was deleted: there is nothing to save.');
    } else {
      const typed = input.value.trim();
      // The API wants text: a message with files and no caption carries their names, as when sent.
      const content = typed === '' && message.files?.length > 0 ? captionFor(message.files) : typed;
      if (content === '') {
        toast('A message needs some text: to remove it, delete it.');
        return;
      }
      if (content !== message.content) {
        saving = true;
        try {
          const updated = await client.request('PATCH', `/chats/${chatId}/messages/${id}`, { content });
          const chat = state.chats.get(chatId);
          if (chat) replaceMessage(chat, id, () => updated);
        } catch (err) {
          toast(`Not saved: ${err.message}`);
          return;
        } finally {
          saving = false;
        }
        // Another chat was opened while it was saved: its composer is not this edit's.
        if (state.activeChatId !== chatId) {
          edit = null;
          setEditing(false);
          return;
        }
      }
    }
  }
  edit = null;
  input.value = draft;
  autosize();
  setEditing(false);
  if (state.activeChatId === chatId) renderMessages();
}

async function deleteMessage(chatId, id) {
  const dialog = $('delete-dialog');
  dialog.returnValue = '';
  dialog.showModal();
  const confirmed = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'delete'), { once: true }));
  $('composer-input').focus();
  if (!confirmed) return;
  try {
    await client.request('DELETE', `/chats/${chatId}/messages/${id}`);
  } catch (err) {
    toast(`Not deleted: ${err.message}`);
    return;
  }
  if (edit?.id === id) finishEdit();
  onMessageDeleted(chatId, id);
}

function onMenuKey(event) {
  const items = menuItems();
  const at = items.indexOf(document.activeElement);
  const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: items.length - 1 };
  if (event.key in moves) {
    event.preventDefault();
    items[(moves[event.key] + items.length) % items.length]?.focus();
  } else if (event.key === 'Tab') {
    closeMenu();
  }
}

export function wireMessageActions() {
  const act = (action) => () => {
    const target = menuFor;
    closeMenu();
    if (target) action(target.chatId, target.id);
  };
  $('menu-edit').addEventListener('click', act(startEdit));
  $('menu-delete').addEventListener('click', act(deleteMessage));
  $('message-menu').addEventListener('keydown', onMenuKey);
  $('edit-cancel').addEventListener('click', () => {
    finishEdit();
    $('composer-input').focus();
  });
  document.addEventListener('click', (event) => {
    if (!event.target.closest?.('#message-menu, .msg-menu-btn')) closeMenu();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !$('message-menu').hidden) {
      event.preventDefault();
      closeMenu({ refocus: true });
    }
  });
  $('messages').addEventListener('scroll', followScroll);
  window.addEventListener('resize', () => closeMenu());

  // Long-press on one of my messages (touch screens have no hover).
  let press = null;
  let lastTouch = 0;
  const list = $('message-list');
  const ownRow = (target) => target.closest?.('.msg.mine[data-id]:not(.deleted)');
  list.addEventListener(
    'touchstart',
    (event) => {
      lastTouch = Date.now();
      clearTimeout(press?.timer);
      press = null;
      const row = ownRow(event.target);
      if (!row || event.touches.length !== 1 || event.target.closest('a, .file-image, .msg-menu-btn')) return;
      const id = Number(row.dataset.id);
      const { clientX: x, clientY: y } = event.touches[0];
      const current = { x, y, opened: false };
      current.timer = setTimeout(() => {
        // The list may have been rebuilt meanwhile: the message's button as it is now.
        const button = list.querySelector(`.msg.mine[data-id="${id}"]:not(.deleted) .msg-menu-btn`);
        if (!button) return;
        current.opened = true;
        openMenu(state.activeChatId, id, button, { x, y });
      }, LONG_PRESS_MS);
      press = current;
    },
    { passive: true },
  );
  const cancel = () => {
    clearTimeout(press?.timer);
    press = null;
  };
  list.addEventListener(
    'touchmove',
    (event) => {
      const t = event.touches[0];
      if (press && !press.opened && (Math.abs(t.clientX - press.x) > 10 || Math.abs(t.clientY - press.y) > 10)) cancel();
    },
    { passive: true },
  );
  list.addEventListener('touchend', (event) => {
    // The finger lifted from a long-press: no click from it, which would close the menu at once.
    if (press?.opened && event.cancelable) event.preventDefault();
    cancel();
  });
  list.addEventListener('touchcancel', cancel);
  // The browser's own long-press menu (and its text selection) would cover ours; a right click
  // with a mouse keeps the browser's menu.
  list.addEventListener('contextmenu', (event) => {
    if (Date.now() - lastTouch < TOUCH_MENU_MS && ownRow(event.target) && !event.target.closest('a, img')) event.preventDefault();
  });
}
