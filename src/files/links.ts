import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { FileRow } from '../db/schema.js';
import type { FileObject } from '../http/schemas.js';

/** A signed url is good for at least this long after it was made… */
export const URL_TTL_SECONDS = 3600;
/** …and at most this much longer: expiry times are rounded up, so that a url stays the same for a while and browsers can cache it. */
const EXPIRY_STEP_SECONDS = 300;
const CAPABILITY = 'capability';

/**
 * File urls that carry their own authorization, for `<img src>`:
 * `/v1/files/<id>/<filename>?expires=<unix seconds>&sig=<base64url HMAC-SHA256 of "id\nfilename\nexpires">`.
 * The shindensen surface's clients keep the urls they are given, so theirs never expire:
 * `/files/<id>/<filename>?sig=<HMAC of "id\nfilename\ncapability">` (the two never verify as each other).
 * The key is derived from the JWT secret (HKDF), so it is never the token key itself, and every
 * process of a deployment, which shares that secret, checks the others' urls.
 */
export class FileLinks {
  private readonly key: Buffer;

  constructor(jwtSecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', jwtSecret, 'dm-server', 'file url signatures v1', 32));
  }

  /** A url valid for URL_TTL_SECONDS to URL_TTL_SECONDS + EXPIRY_STEP_SECONDS from `nowMs`. */
  signedUrl(id: number, filename: string, nowMs = Date.now()): string {
    const expires = Math.ceil((nowMs / 1000 + URL_TTL_SECONDS) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS;
    return `/v1/files/${id}/${encodeURIComponent(filename)}?expires=${expires}&sig=${this.sign(id, filename, expires)}`;
  }

  /** A url good for as long as the file exists. */
  capabilityUrl(id: number, filename: string): string {
    return `/files/${id}/${encodeURIComponent(filename)}?sig=${this.sign(id, filename, CAPABILITY)}`;
  }

  verifyCapability(id: number, filename: string, sig: string | undefined): boolean {
    return sig !== undefined && this.matches(sig, this.sign(id, filename, CAPABILITY));
  }

  /** The file a capability url (a path, or a full url) names, or null when it is not one this server made. */
  capabilityFileId(url: string): number | null {
    if (!URL.canParse(url, 'http://localhost')) return null;
    const parsed = new URL(url, 'http://localhost');
    const match = /^\/files\/(\d{1,10})\/([^/]+)$/.exec(parsed.pathname);
    if (!match) return null;
    const id = Number(match[1]);
    let filename: string;
    try {
      filename = decodeURIComponent(match[2]!);
    } catch {
      return null;
    }
    return this.verifyCapability(id, filename, parsed.searchParams.get('sig') ?? undefined) ? id : null;
  }

  /** True for a signature this server made for this file and name, not yet expired. */
  verify(id: number, filename: string, expires: string | undefined, sig: string | undefined, nowMs = Date.now()): boolean {
    if (expires === undefined || sig === undefined || !/^\d{1,12}$/.test(expires)) return false;
    if (Number(expires) * 1000 < nowMs) return false;
    return this.matches(sig, this.sign(id, filename, Number(expires)));
  }

  /** The file object of the contract, with a freshly signed url. */
  toFileObject(row: Pick<FileRow, 'id' | 'filename' | 'mime_type' | 'size_bytes' | 'created_at'>, nowMs = Date.now()): FileObject {
    return {
      id: row.id,
      url: this.signedUrl(row.id, row.filename, nowMs),
      filename: row.filename,
      mime_type: row.mime_type,
      size_bytes: Number(row.size_bytes),
      created_at: row.created_at,
    };
  }

  private matches(sig: string, expected: string): boolean {
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, Buffer.from(expected));
  }

  /** `scope`: the expiry time, or CAPABILITY (which no expiry time can equal). */
  private sign(id: number, filename: string, scope: number | typeof CAPABILITY): string {
    return createHmac('sha256', this.key).update(`${id}\n${filename}\n${scope}`).digest('base64url');
  }
}
