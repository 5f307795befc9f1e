// Writing and sending messages: the composer, typing frames, files waiting to go with a message.

import { $, toast } from './dom.js';
import { client, state } from './state.js';
import { renderMessages } from './conversation.js';
import { captionFor, clearStaged, stagedFiles, stagingProblem } from './attachments.js';
import { editLastMessage, editing, finishEdit } from './message-actions.js';

const TYPING_SEND_EVERY_MS = 2500;
const MAX_CONTENT = 4000;

export function autosize() {
  const input = $('composer-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

/** An empty composer, for another chat. */
export function resetComposer() {
  finishEdit();
  clearStaged();
  $('composer-input').value = '';
  autosize();
}

function onComposerInput() {
  autosize();
  const chatId = state.activeChatId;
  if (chatId === null || editing() || $('composer-input').value.trim() === '') return;
  const last = state.lastTypingSent.get(chatId) ?? 0;
  if (Date.now() - last < TYPING_SEND_EVERY_MS) return;
  if (client.typing(chatId)) state.lastTypingSent.set(chatId, Date.now());
}

function onComposerKey(event) {
  const input = $('composer-input');
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    // requestSubmit() came to Safari only in 16: the send button's click does the same.
    $('send-btn').click();
  } else if (event.key === 'ArrowUp' && input.value === '' && !editing()) {
    // As in most chat apps: Up in an empty composer edits one's last message.
    if (editLastMessage()) event.preventDefault();
  } else if (event.key === 'Escape' && editing()) {
    event.preventDefault();
    finishEdit();
  }
}

async function onSend(event) {
  event.preventDefault();
  const chat = state.chats.get(state.activeChatId);
  const input = $('composer-input');
  const typed = input.value.trim();
  if (!chat) return;
  if (editing()) {
    await finishEdit({ save: true });
    return;
  }
  const problem = stagingProblem();
  if (problem) {
    toast(problem);
    return;
  }
  const files = stagedFiles();
  // The API wants text with every message: a file sent alone carries its name.
  const content = typed === '' ? captionFor(files) : typed;
  if (content === '') return;
  if (content.length > MAX_CONTENT) {
    toast(`A message is at most ${MAX_CONTENT} characters.`);
    return;
  }
  client.send(chat.id, content, { files });
  clearStaged();
  input.value = '';
  autosize();
  state.lastTypingSent.delete(chat.id);
  renderMessages({ stick: 'bottom' });
  input.focus();
}

export function wireComposer() {
  $('composer').addEventListener('submit', onSend);
  $('composer-input').addEventListener('input', onComposerInput);
  $('composer-input').addEventListener('keydown', onComposerKey);
}
