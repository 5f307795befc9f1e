// Editing and deleting one's own messages: a menu on hover (or keyboard focus) and on long-press,
// Up in an empty composer to edit the last one.

import { $, h, icon, toast } from './dom.js';
import { client, me, replaceMessage, state } from './state.js';
import { autosize } from './composer.js';
import { renderMessages } from './conversation.js';
import { onMessageDeleted } from './events.js';

const LONG_PRESS_MS = 500;

/** The message being edited in the composer: {chatId, id, draft} (what the composer held before). */
let edit = null;
/** The message the open menu is for. */
let menuFor = null;

export const editing = () => edit !== null;

export function messageMenuButton(chat, message) {
  return h(
    'button',
    {
      type: 'button',
      class: 'msg-menu-btn',
      'aria-label': 'Message actions',
      'aria-haspopup': 'menu',
      onclick: (event) => openMenu(chat.id, message.id, event.currentTarget),
    },
    icon('more'),
  );
}

function openMenu(chatId, id, anchor) {
  const menu = $('message-menu');
  menuFor = { chatId, id, anchor };
  const message = findMessage(chatId, id);
  $('menu-edit').hidden = message?.content === null;
  menu.hidden = false;
  const box = anchor.getBoundingClientRect();
  const width = menu.offsetWidth;
  const height = menu.offsetHeight;
  const top = box.bottom + height + 8 > window.innerHeight ? box.top - height - 4 : box.bottom + 4;
  menu.style.top = `${Math.max(4, top)}px`;
  menu.style.left = `${Math.min(Math.max(4, box.right - width), window.innerWidth - width - 4)}px`;
  ($('menu-edit').hidden ? $('menu-delete') : $('menu-edit')).focus();
}

function closeMenu({ refocus = false } = {}) {
  const menu = $('message-menu');
  if (menu.hidden) return;
  menu.hidden = true;
  if (refocus && menuFor?.anchor.isConnected) menuFor.anchor.focus();
  menuFor = null;
}

function findMessage(chatId, id) {
  return state.chats.get(chatId)?.messages.find((m) => m.id === id) ?? null;
}

/** Puts a message into the composer to be edited. */
export function startEdit(chatId, id) {
  const message = findMessage(chatId, id);
  if (!message || message.deleted_at || message.content === null) return false;
  const input = $('composer-input');
  edit = { chatId, id, draft: edit ? edit.draft : input.value };
  input.value = message.content;
  autosize();
  $('edit-banner').hidden = false;
  $('composer').classList.add('is-editing');
  $('send-btn').setAttribute('aria-label', 'Save the edit');
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
  if (!edit) return;
  const { chatId, id, draft } = edit;
  const input = $('composer-input');
  const content = input.value.trim();
  if (save) {
    const message = findMessage(chatId, id);
    if (content === '') {
      toast('A message needs some text: to remove it, delete it.');
      return;
    }
    if (message && content !== message.content) {
      try {
        const updated = await client.request('PATCH', `/chats/${chatId}/messages/${id}`, { content });
        const chat = state.chats.get(chatId);
        if (chat) replaceMessage(chat, id, () => updated);
      } catch (err) {
        toast(`Not saved: ${err.message}`);
        return;
      }
    }
  }
  edit = null;
  input.value = draft;
  autosize();
  $('edit-banner').hidden = true;
  $('composer').classList.remove('is-editing');
  $('send-btn').setAttribute('aria-label', 'Send');
  if (state.activeChatId === chatId) renderMessages();
}

async function deleteMessage(chatId, id) {
  const dialog = $('delete-dialog');
  dialog.returnValue = '';
  dialog.showModal();
  const confirmed = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'delete'), { once: true }));
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

export function wireMessageActions() {
  $('menu-edit').addEventListener('click', () => {
    const target = menuFor;
    closeMenu();
    if (target) startEdit(target.chatId, target.id);
  });
  $('menu-delete').addEventListener('click', () => {
    const target = menuFor;
    closeMenu();
    if (target) deleteMessage(target.chatId, target.id);
  });
  $('edit-cancel').addEventListener('click', () => {
    finishEdit();
    $('composer-input').focus();
  });
  document.addEventListener('click', (event) => {
    if (!event.target.closest?.('#message-menu, .msg-menu-btn')) closeMenu();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeMenu({ refocus: true });
  });
  $('messages').addEventListener('scroll', () => closeMenu());

  // Long-press on one of my messages (touch screens have no hover).
  let press = null;
  const list = $('message-list');
  list.addEventListener('touchstart', (event) => {
    const row = event.target.closest('.msg.mine[data-id]');
    if (!row || row.classList.contains('deleted') || event.touches.length !== 1) return;
    const { clientX: x, clientY: y } = event.touches[0];
    press = {
      x,
      y,
      timer: setTimeout(() => {
        press = null;
        const button = row.querySelector('.msg-menu-btn');
        if (button) openMenu(state.activeChatId, Number(row.dataset.id), button);
      }, LONG_PRESS_MS),
    };
  }, { passive: true });
  const cancel = () => {
    if (press) clearTimeout(press.timer);
    press = null;
  };
  list.addEventListener('touchmove', (event) => {
    const t = event.touches[0];
    if (press && (Math.abs(t.clientX - press.x) > 10 || Math.abs(t.clientY - press.y) > 10)) cancel();
  }, { passive: true });
  list.addEventListener('touchend', cancel);
  list.addEventListener('touchcancel', cancel);
  // The browser's own long-press menu would cover ours.
  list.addEventListener('contextmenu', (event) => {
    if (event.target.closest('.msg.mine[data-id]') && !event.target.closest('a, img')) event.preventDefault();
  });
}
