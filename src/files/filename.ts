const MAX_CHARS = 255;
const MAX_EXTENSION_CHARS = 16;
const FALLBACK = 'file';

// Control characters, and the invisible marks that reorder text (`evil\u202Egnp.exe` shows as `evilexe.png`).
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * The client's file name made safe to keep and show: the last path segment only (either slash),
 * no control or bidirectional characters, trimmed, at most 255 characters (the extension kept).
 * It is only ever displayed and sent back in Content-Disposition: files are stored under names
 * of the server's own.
 */
export function sanitizeFilename(raw: string | undefined): string {
  const base = (raw ?? '').normalize('NFC').split(/[/\\]/).pop()!;
  const name = base.replace(UNSAFE, '').trim();
  if (name === '' || name === '.' || name === '..') return FALLBACK;
  const chars = Array.from(name);
  if (chars.length <= MAX_CHARS) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 ? Array.from(name.slice(dot)) : [];
  if (extension.length === 0 || extension.length > MAX_EXTENSION_CHARS) return chars.slice(0, MAX_CHARS).join('');
  return chars.slice(0, MAX_CHARS - extension.length).join('') + extension.join('');
}

/**
 * `inline` or `attachment`, with the name both as a plain ASCII fallback and as RFC 8187 UTF-8
 * (`filename*`), which every current browser prefers.
 */
export function contentDisposition(kind: 'inline' | 'attachment', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
