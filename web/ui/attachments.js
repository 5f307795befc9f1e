// Files: choosing them (button, drag and drop, paste), uploading them with progress while the
// message is written, and showing a message's files (images inline, others as named links).

import { $, fileSize, h, icon, toast } from './dom.js';
import { client, replaceMessage, state } from './state.js';
import { serverInfo } from './session.js';
import { renderMessages } from './conversation.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
/** The box an inline image is fitted into (CSS narrows it further on small screens). */
const THUMB_MAX = 280;

/** Files chosen for the next message: {key, name, size, progress, file (once uploaded), error, controller}. */
let staged = [];
let nextKey = 1;
/** Every file this page uploaded, by id: what an unsent message shows of its files. */
const uploaded = new Map();
/**
 * The size of each image once seen, by file id: the list is rebuilt on every change, and an image
 * given its size at once neither flickers nor moves the messages below it.
 */
const imageSizes = new Map();

// ---------------------------------------------------------------------------------------------
// Showing files

/** The text the API needs with files sent alone: their names. */
export function captionFor(files) {
  return files
    .map((f) => f.filename)
    .join(', ')
    .slice(0, 4000);
}

/** Whether a message's text only repeats the names of its files (they were sent alone). */
export const onlyFiles = (message) => (message.files ?? []).length > 0 && message.content === captionFor(message.files);

/** A message as one line (chat list, notifications): files as a paper clip and their names. */
export function messageText(message) {
  const files = message.files ?? [];
  if (files.length === 0) return message.content ?? '';
  return `📎 ${message.content === null || onlyFiles(message) ? captionFor(files) : message.content}`;
}

/** The bubble's text: none when it only repeats the names of the files shown above it. */
export function textOf(message) {
  if (message.deleted_at) return h('p', { class: 'text', text: 'Message deleted' });
  if (message.content === null || onlyFiles(message)) return null;
  return h('p', { class: 'text', text: message.content });
}

export const pendingFiles = (entry) => entry.files.map((id) => uploaded.get(id)).filter(Boolean);

/** An image's shown size: its own, fitted into the thumbnail box. */
function fit({ width, height }) {
  const scale = Math.min(1, THUMB_MAX / width, THUMB_MAX / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function imageLoaded(file, img) {
  if (img.naturalWidth === 0) return;
  const size = fit({ width: img.naturalWidth, height: img.naturalHeight });
  imageSizes.set(file.id, size);
  if (!img.hasAttribute('width')) {
    img.width = size.width;
    img.height = size.height;
  }
}

function renderImage(file, message) {
  const size = imageSizes.get(file.id);
  const img = h('img', {
    src: file.url,
    alt: file.filename,
    width: size?.width,
    height: size?.height,
    decoding: 'async',
    onload: (event) => imageLoaded(file, event.currentTarget),
    // Its url expired while the page stayed open: once, the message again, with a new one.
    onerror: () => message && expired(file) && fresh(file, message),
  });
  return h(
    'button',
    { type: 'button', class: 'file-image', 'aria-label': `Open ${file.filename}`, title: file.filename, onclick: () => openImage(file, message) },
    img,
  );
}

function renderLink(file, message) {
  const download = async (event) => {
    if (!message || !expired(file)) return;
    event.preventDefault();
    const again = await current(file, message);
    if (again) h('a', { href: again.url, download: again.filename }).click();
  };
  return h(
    'a',
    { class: 'file-link', href: file.url, download: file.filename, title: `Download ${file.filename}`, rel: 'noopener', onclick: download },
    icon('file'),
    h('span', { class: 'file-text' }, h('span', { class: 'file-name', text: file.filename }), h('span', { class: 'file-size', text: fileSize(file.size_bytes) })),
  );
}

/** A message's files; `message` (null while unsent) lets an expired url be signed again. */
export function renderFiles(files, message = null) {
  if (files.length === 0) return null;
  return h(
    'div',
    { class: 'files' },
    files.map((file) => (IMAGE_TYPES.has(file.mime_type) ? renderImage(file, message) : renderLink(file, message))),
  );
}

/** Whether a file's signed url has expired, or will within a minute (a page may stay open all day). */
function expired(file) {
  const expires = Number(new URL(file.url, location.href).searchParams.get('expires'));
  return expires > 0 && expires * 1000 < Date.now() + 60_000;
}

/** The file as the server gives it now, from its message fetched again (urls signed anew); null if gone. */
async function fresh(file, message) {
  try {
    const [again] = await client.request('GET', `/chats/${message.chat_id}/messages?after=${message.id - 1}&limit=1`);
    if (again?.id !== message.id) return null;
    const chat = state.chats.get(message.chat_id);
    if (chat) replaceMessage(chat, message.id, () => again);
    if (state.activeChatId === message.chat_id) renderMessages();
    return again.files.find((f) => f.id === file.id) ?? null;
  } catch {
    return null;
  }
}

async function current(file, message) {
  if (!message || !expired(file)) return file;
  const again = await fresh(file, message);
  if (!again) toast(`${file.filename} is no longer available.`);
  return again;
}

async function openImage(original, message) {
  const file = await current(original, message);
  if (!file) return;
  const img = $('image-view-img');
  img.src = file.url;
  img.alt = file.filename;
  $('image-view-name').textContent = `${file.filename} · ${fileSize(file.size_bytes)}`;
  $('image-view-download').href = file.url;
  $('image-view-download').download = file.filename;
  $('image-dialog').showModal();
}

// ---------------------------------------------------------------------------------------------
// Files for the next message

export const stagedFiles = () => staged.filter((s) => s.file).map((s) => s.file);
export const stagingBusy = () => staged.some((s) => !s.file && !s.error);

/** Why the staged files keep a message from going, if they do: still uploading, or refused. */
export function stagingProblem() {
  if (stagingBusy()) return 'Wait for the files to finish uploading, or remove them.';
  if (staged.some((s) => s.error)) return 'Remove the files that could not be uploaded first.';
  return null;
}

/** Forgets the chosen files (sent, or another chat opened); uploads still running are cancelled. */
export function clearStaged() {
  for (const s of staged) if (!s.file) s.controller.abort();
  staged = [];
  renderStaged();
}

/** Uploads each file at once, so that sending only has to name them. */
export function stage(fileList) {
  if (state.activeChatId === null) return;
  const { max_upload_bytes: maxBytes, max_files_per_message: maxFiles } = serverInfo();
  for (const file of fileList) {
    if (staged.filter((s) => !s.error).length >= maxFiles) {
      toast(`A message carries at most ${maxFiles} files.`);
      break;
    }
    const entry = { key: nextKey++, name: file.name || 'file', size: file.size, progress: 0, file: null, error: null, controller: new AbortController() };
    if (Number.isFinite(maxBytes) && file.size > maxBytes) {
      entry.error = tooLarge(maxBytes);
    } else if (file.size === 0) {
      entry.error = 'This file is empty.';
    }
    staged.push(entry);
    if (!entry.error) upload(entry, file);
  }
  renderStaged();
}

const tooLarge = (maxBytes) => `Too large: this server takes files up to ${fileSize(maxBytes)}.`;

async function upload(entry, file) {
  try {
    entry.file = await client.upload(file, {
      filename: entry.name,
      signal: entry.controller.signal,
      onProgress: (sent, total) => {
        entry.progress = total > 0 ? sent / total : 0;
        updateProgress(entry);
      },
    });
    uploaded.set(entry.file.id, entry.file);
  } catch (err) {
    if (err.code === 'ABORTED') return;
    entry.error = uploadError(err, entry);
  }
  if (staged.includes(entry)) renderStaged();
}

/** What a refused upload says to the person: what went wrong, and what they can do. */
function uploadError(err, entry) {
  const maxBytes = serverInfo().max_upload_bytes;
  switch (err.code) {
    case 'PAYLOAD_TOO_LARGE':
      return Number.isFinite(maxBytes) ? tooLarge(maxBytes) : 'Too large for this server.';
    case 'QUOTA_EXCEEDED':
      return 'No room left: this file would take your files past the space this server gives each person. Delete some messages with files, or pick a smaller one.';
    case 'INSUFFICIENT_STORAGE':
      return 'The server is short of disk space: try again later.';
    case 'RATE_LIMITED':
      return 'Too many uploads at once: try again in a moment.';
    case 'NETWORK_ERROR':
      // A server that refuses an upload unread may close the connection before the browser reads
      // its answer: with the socket still up, the server is there, so it most likely refused it.
      if (Number.isFinite(maxBytes) && entry.size > maxBytes) return tooLarge(maxBytes);
      if (client.status === 'online') {
        return 'The server refused this file: it may be larger than the space your files have left on this server. Try a smaller one.';
      }
      return 'Not uploaded: the server cannot be reached. Check the connection and try again.';
    default:
      return err.status >= 500 ? `Not uploaded: the server had a problem (${err.status}). Try again later.` : err.message;
  }
}

function removeStaged(key) {
  const entry = staged.find((s) => s.key === key);
  if (!entry) return;
  if (!entry.file) entry.controller.abort();
  staged = staged.filter((s) => s !== entry);
  renderStaged();
  $('composer-input').focus();
}

function updateProgress(entry) {
  const bar = $('staged-files').querySelector(`[data-key="${entry.key}"] progress`);
  if (bar) bar.value = entry.progress;
}

function stagedStatus(s) {
  if (s.error) return h('span', { class: 'staged-error', role: 'alert', text: s.error });
  if (s.file) return h('span', { class: 'file-size', text: fileSize(s.size) });
  return h('progress', { max: '1', value: String(s.progress), 'aria-label': `Uploading ${s.name}` });
}

function renderStaged() {
  const list = $('staged-files');
  list.hidden = staged.length === 0;
  list.replaceChildren(
    ...staged.map((s) =>
      h(
        'li',
        { class: s.error ? 'staged failed' : s.file ? 'staged' : 'staged uploading', dataset: { key: String(s.key) } },
        s.file && IMAGE_TYPES.has(s.file.mime_type) ? h('img', { class: 'staged-thumb', src: s.file.url, alt: '' }) : icon('file'),
        h('span', { class: 'staged-text' }, h('span', { class: 'file-name', title: s.name, text: s.name }), stagedStatus(s)),
        h('button', { type: 'button', class: 'icon-btn chip-remove', 'aria-label': `Remove ${s.name}`, title: 'Remove', onclick: () => removeStaged(s.key) }, icon('close')),
      ),
    ),
  );
}

/**
 * Keeps the newest messages in sight while the person is at the bottom of the list: pictures make
 * the list taller as they load, and staged files (or the edit banner) make its box shorter, neither
 * of which scrolls it by itself.
 */
function stayAtBottom() {
  const box = $('messages');
  let atBottom = true;
  const measure = () => (atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60);
  box.addEventListener('scroll', measure, { passive: true });
  const observer = new window.ResizeObserver(() => {
    if (atBottom) box.scrollTop = box.scrollHeight;
    measure();
  });
  observer.observe(box);
  observer.observe($('message-list'));
}

export function wireAttachments() {
  stayAtBottom();
  const input = $('file-input');
  $('attach-btn').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    stage([...input.files]);
    input.value = '';
  });
  const pane = $('chat-view');
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  const endDrop = () => {
    depth = 0;
    pane.classList.remove('dropping');
  };
  pane.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    pane.classList.add('dropping');
  });
  pane.addEventListener('dragleave', (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) pane.classList.remove('dropping');
  });
  pane.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  pane.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    endDrop();
    stage([...event.dataTransfer.files]);
  });
  // A file dropped anywhere else would make the browser leave the app to show it.
  for (const type of ['dragover', 'drop']) {
    document.addEventListener(type, (event) => {
      if (!hasFiles(event) || event.defaultPrevented) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'none';
      if (type === 'drop') endDrop();
    });
  }
  document.addEventListener('dragend', endDrop);
  $('composer-input').addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    event.preventDefault();
    stage(files);
  });
  const dialog = $('image-dialog');
  $('image-close').addEventListener('click', () => dialog.close());
  // A click on the dark backdrop around the picture closes it too.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => $('image-view-img').removeAttribute('src'));
}
