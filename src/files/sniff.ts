/**
 * The content type of a file, from its bytes: the client's Content-Type and file name are never
 * trusted. Fed chunk by chunk while the upload streams to disk, so nothing is read twice.
 */

const HEAD_BYTES = 16;

/** Types recognized by their first bytes; anything else is text/plain or application/octet-stream. */
const SIGNATURES: { type: string; matches: (head: Buffer) => boolean }[] = [
  { type: 'image/png', matches: (h) => startsWith(h, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { type: 'image/jpeg', matches: (h) => startsWith(h, [0xff, 0xd8, 0xff]) },
  { type: 'image/gif', matches: (h) => h.subarray(0, 6).toString('latin1') === 'GIF87a' || h.subarray(0, 6).toString('latin1') === 'GIF89a' },
  { type: 'image/webp', matches: (h) => h.subarray(0, 4).toString('latin1') === 'RIFF' && h.subarray(8, 12).toString('latin1') === 'WEBP' },
  { type: 'application/pdf', matches: (h) => h.subarray(0, 5).toString('latin1') === '%PDF-' },
];

/** Types a browser may show in the page: everything else is served as an attachment. */
const INLINE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']);

export const isInline = (mimeType: string) => INLINE_TYPES.has(mimeType);

export class Sniffer {
  private head = Buffer.alloc(0);
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  /** Still possibly text: valid UTF-8 so far, and no NUL byte. */
  private text = true;

  update(chunk: Buffer): void {
    if (this.head.length < HEAD_BYTES) this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    if (!this.text) return;
    if (chunk.includes(0)) {
      this.text = false;
      return;
    }
    try {
      this.utf8.decode(chunk, { stream: true });
    } catch {
      this.text = false;
    }
  }

  /** The detected type, once every chunk has been fed. */
  mimeType(): string {
    const known = SIGNATURES.find((s) => s.matches(this.head));
    if (known) return known.type;
    if (this.text && this.endsText()) return 'text/plain';
    return 'application/octet-stream';
  }

  /** A multi-byte sequence cut off at the end is not valid UTF-8. */
  private endsText(): boolean {
    try {
      this.utf8.decode();
      return true;
    } catch {
      return false;
    }
  }
}

function startsWith(head: Buffer, bytes: number[]): boolean {
  return head.length >= bytes.length && bytes.every((b, i) => head[i] === b);
}
