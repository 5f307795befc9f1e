// The browser's history: opening a chat adds an entry (`#chat=<id>`), so that Back, on a phone
// too, goes from a chat to the list rather than out of the app.

import { state } from './state.js';
import { openChat, showChat } from './conversation.js';
import { renderChatList } from './chat-list.js';

const chatInUrl = () => Number(new URLSearchParams(location.hash.slice(1)).get('chat')) || null;

/** A chat was opened from the page: a new entry, unless this entry is already that chat. */
export function enteredChat(chatId) {
  if (history.state?.chat === chatId) return;
  const url = `#chat=${chatId}`;
  // From a chat to another, the entry is replaced: Back still leads to the list, not through every chat seen.
  if (history.state?.chat) history.replaceState({ chat: chatId, depth: history.state.depth }, '', url);
  else history.pushState({ chat: chatId, depth: 1 }, '', url);
}

/** The chat was closed from the page (its Back button, leaving it): back to the list's entry. */
export function leftChat() {
  if (!history.state?.chat) return;
  if (history.state.depth === 1) history.back();
  else history.replaceState({ chat: null }, '', location.pathname + location.search);
}

/** After log-in: the chat the address names, if any, opened above a list entry (Back leads there). */
export function restoreFromUrl() {
  const wanted = chatInUrl();
  history.replaceState({ chat: null }, '', location.pathname + location.search);
  if (wanted !== null && state.chats.has(wanted)) openChat(wanted);
}

export function wireNavigation() {
  window.addEventListener('popstate', (event) => {
    const chatId = event.state?.chat ?? chatInUrl();
    if (chatId && state.chats.has(chatId)) {
      openChat(chatId, { history: false });
    } else if (state.activeChatId !== null) {
      // This entry is the list already: showChat(null) finds no chat entry to step back from.
      showChat(null);
      renderChatList();
    }
  });
}
