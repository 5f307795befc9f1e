// The browser's history: opening a chat adds an entry (`#chat=<id>`) above the list's, so that
// Back, on a phone too, goes from a chat to the list rather than out of the app.
//
// The page's entries are of two kinds:
//   {chat: null}              the list: the app's first entry, and the one under an open chat;
//   {chat: <id>, above: true} a chat, pushed right above a list entry of this page.
// At most one chat entry sits above the list: going from one chat to another replaces it, so Back
// leads to the list, not through every chat seen. The in-app back button *is* the browser's Back
// (history.back()), so the two always agree: after either, Forward reopens the chat, and Back from
// the list leaves the app just as if no chat had been opened (one step, never a second list entry).
// A reload keeps the entries: on a chat entry it reopens that chat, and Back still leads to the
// list. An address with `#chat=<id>` the page did not make (a link, a new tab) becomes a list entry
// with the chat pushed above it; one naming a chat the user is not in becomes the plain list.

import { state } from './state.js';
import { openChat, showChat } from './conversation.js';
import { renderChatList } from './chat-list.js';

const LIST = Object.freeze({ chat: null });
const listUrl = () => location.pathname + location.search;
const chatEntry = (chatId) => ({ chat: chatId, above: true });

function chatInUrl() {
  const id = Number(new URLSearchParams(location.hash.slice(1)).get('chat'));
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/** An entry this page made (the list's or a chat's); null for one it did not (a link, a typed `#…`). */
function ownEntry(entry) {
  if (entry === null || typeof entry !== 'object' || !('chat' in entry)) return null;
  return entry.chat === null || Number.isSafeInteger(entry.chat) ? entry : null;
}

/**
 * history.back() asked for by the page (its back button) whose popstate has not come yet: until it
 * does, history.state is still the chat's entry. A chat opened meanwhile gets its entry pushed once
 * the step has landed on the list's.
 */
let stepping = false;
let reopen = null;
let stepTimer = null;

function endStep() {
  stepping = false;
  clearTimeout(stepTimer);
  const chatId = reopen;
  reopen = null;
  if (chatId !== null && state.activeChatId === chatId) {
    history.pushState(chatEntry(chatId), '', `#chat=${chatId}`);
    return true;
  }
  return false;
}

/** A chat was opened from the page: a new entry above the list's, or this chat entry replaced. */
export function enteredChat(chatId) {
  if (stepping) {
    reopen = chatId;
    return;
  }
  const entry = ownEntry(history.state);
  if (entry?.chat === chatId) return;
  const url = `#chat=${chatId}`;
  if (entry?.above) {
    history.replaceState(chatEntry(chatId), '', url);
  } else if (entry?.chat) {
    // A chat entry the page did not push (an address typed in the app): no list entry of ours is known under it.
    history.replaceState({ chat: chatId }, '', url);
  } else {
    if (entry === null) history.replaceState(LIST, '', listUrl());
    history.pushState(chatEntry(chatId), '', url);
  }
}

/** The chat was closed from the page (its back button, leaving it): back to the list's entry. */
export function leftChat() {
  if (stepping) {
    reopen = null;
    return;
  }
  const entry = ownEntry(history.state);
  if (entry?.above) {
    stepping = true;
    history.back();
    // A step that never lands (nothing in the history to go back to): stop waiting for it.
    stepTimer = setTimeout(endStep, 1000);
  } else if (entry?.chat || chatInUrl() !== null) {
    history.replaceState(LIST, '', listUrl());
  }
}

/** After log-in or a reload: the chat the address names, if the user is in it, above a list entry. */
export function restoreFromUrl() {
  const wanted = chatInUrl();
  const entry = ownEntry(history.state);
  if (wanted !== null && state.chats.has(wanted)) {
    if (entry?.chat === wanted) {
      // A reload: this entry, and the list's under it, are there already.
      openChat(wanted, { history: false });
    } else {
      // A link: this entry becomes the list's, with the chat above it, so Back stays in the app.
      history.replaceState(LIST, '', listUrl());
      openChat(wanted);
    }
  } else if (entry?.chat !== null || wanted !== null) {
    // No chat named, or one this user is not in (any more): the list, with a clean address.
    history.replaceState(LIST, '', listUrl());
  }
}

export function wireNavigation() {
  window.addEventListener('popstate', (event) => {
    if (stepping && endStep()) return;
    let entry = ownEntry(event.state);
    if (entry === null) {
      // An entry the page did not make: an address with `#chat=<id>` typed or followed in the app.
      const id = chatInUrl();
      entry = id !== null && state.chats.has(id) ? { chat: id } : LIST;
      history.replaceState(entry, '', entry.chat === null ? listUrl() : location.href);
    }
    if (entry.chat !== null && state.chats.has(entry.chat)) {
      openChat(entry.chat, { history: false });
      return;
    }
    // Forward to a chat this user has left since: the list.
    if (entry.chat !== null) history.replaceState(LIST, '', listUrl());
    if (state.activeChatId !== null) {
      // This entry is the list already: showChat(null) finds no chat entry to step back from.
      showChat(null);
      renderChatList();
    }
  });
}
