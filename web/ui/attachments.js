// Files: choosing them (button, drag and drop, paste), uploading them with progress while the
// message is written, and showing a message's files (images inline, others as named links).

import { $, fileSize, h, icon, toast } from './dom.js';
import { client, state } from './state.js';
import { serverInfo } from './session.js';

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** Files chosen for the next message: {key, name, size, progress, file (once uploaded), error, controller}. */
let staged = [];
let nextKey = 1;
/** Every file this page uploaded, by id: what an unsent message shows of its files. */
const uploaded = new Map();

// ---------------------------------------------------------------------------------------------
// Showing files

/** The text the API needs with files sent alone: their names. */
export function captionFor(files) {
  return files
    .map((f) => f.filename)
    .join(', ')
    .slice(0, 4000);
}

/** A message as one line (chat list, notifications): files as a paper clip and their names. */
export function messageText(message) {
  const files = message.files ?? [];
  if (files.length === 0) return message.content ?? '';
  const caption = captionFor(files);
  return `📎 ${message.content === null || message.content === caption ? caption : message.content}`;
}

/** The bubble's text: none when it only repeats the names of the files shown above it. */
export function textOf(message) {
  if (message.deleted_at) return h('p', { class: 'text', text: 'Message deleted' });
  const files = message.files ?? [];
  if (message.content === null || (files.length > 0 && message.content === captionFor(files))) return null;
  return h('p', { class: 'text', text: message.content });
}

export const pendingFiles = (entry) => entry.files.map((id) => uploaded.get(id)).filter(Boolean);

export function renderFiles(files) {
  if (files.length === 0) return null;
  return h(
    'div',
    { class: 'files' },
    files.map((file) =>
      IMAGE_TYPES.has(file.mime_type)
        ? h(
            'button',
            { type: 'button', class: 'file-image', 'aria-label': `Open ${file.filename}`, onclick: () => openImage(file) },
            h('img', { src: file.url, alt: file.filename, loading: 'lazy', decoding: 'async' }),
          )
        : h(
            'a',
            { class: 'file-link', href: file.url, download: file.filename, rel: 'noopener' },
            icon('file'),
            h('span', { class: 'file-name', text: file.filename }),
            h('span', { class: 'file-size', text: fileSize(file.size_bytes) }),
          ),
    ),
  );
}

function openImage(file) {
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
    if (staged.length >= maxFiles) {
      toast(`A message carries at most ${maxFiles} files.`);
      break;
    }
    const entry = { key: nextKey++, name: file.name || 'file', size: file.size, progress: 0, file: null, error: null, controller: new AbortController() };
    if (maxBytes !== null && file.size > maxBytes) {
      entry.error = `Too large: this server takes files up to ${fileSize(maxBytes)}.`;
    } else if (file.size === 0) {
      entry.error = 'This file is empty.';
    }
    staged.push(entry);
    if (!entry.error) upload(entry, file);
  }
  renderStaged();
}

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
    entry.error = uploadError(err);
  }
  if (staged.includes(entry)) renderStaged();
}

function uploadError(err) {
  switch (err.code) {
    case 'PAYLOAD_TOO_LARGE':
      return `Too large: this server takes files up to ${fileSize(serverInfo().max_upload_bytes ?? 0)}.`;
    case 'QUOTA_EXCEEDED':
      return 'Your files have used up the space this server gives each person: delete some messages with files first.';
    case 'INSUFFICIENT_STORAGE':
      return 'The server is short of disk space: try again later.';
    case 'RATE_LIMITED':
      return 'Too many uploads at once: try again in a moment.';
    default:
      return err.message;
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

function renderStaged() {
  const list = $('staged-files');
  list.hidden = staged.length === 0;
  list.replaceChildren(
    ...staged.map((s) =>
      h(
        'li',
        { class: s.error ? 'staged failed' : 'staged', dataset: { key: String(s.key) } },
        icon('file'),
        h(
          'span',
          { class: 'staged-text' },
          h('span', { class: 'file-name', text: s.name }),
          s.error
            ? h('span', { class: 'staged-error', role: 'alert', text: s.error })
            : s.file
              ? h('span', { class: 'file-size', text: fileSize(s.size) })
              : h('progress', { max: '1', value: String(s.progress), 'aria-label': `Uploading ${s.name}` }),
        ),
        h('button', { type: 'button', class: 'icon-btn chip-remove', 'aria-label': `Remove ${s.name}`, onclick: () => removeStaged(s.key) }, icon('close')),
      ),
    ),
  );
}

export function wireAttachments() {
  const input = $('file-input');
  $('attach-btn').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    stage([...input.files]);
    input.value = '';
  });
  const pane = $('chat-view');
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  pane.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    pane.classList.add('dropping');
  });
  pane.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) pane.classList.remove('dropping');
  });
  pane.addEventListener('dragover', (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  pane.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    pane.classList.remove('dropping');
    stage([...event.dataTransfer.files]);
  });
  $('composer-input').addEventListener('paste', (event) => {
    const files = [...(event.clipboardData?.files ?? [])];
    if (files.length === 0) return;
    event.preventDefault();
    stage(files);
  });
  $('image-close').addEventListener('click', () => $('image-dialog').close());
}
