import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { FileRow } from '../db/schema.js';
import type { FileObject } from '../http/schemas.js';

/** A signed url is good for at least this long after it was made… */
export const URL_TTL_SECONDS = 3600;
/** …and at most this much longer: expiry times are rounded up, so that a url stays the same for a while and browsers can cache it. */
const EXPIRY_STEP_SECONDS = 300;
const CAPABILITY = 'capability';

/** The query of a signed url, as the route reads it. */
export interface SignedQuery {
  expires?: string;
  u?: string;
  sig?: string;
}

/**
 * File urls that carry their own authorization, for `<img src>`, each made for one user (`u`):
 * `/v1/files/<id>/<filename>?expires=<unix seconds>&u=<user id>&sig=<base64url HMAC-SHA256 of "id\nfilename\nexpires\nuser id">`.
 * The server serves it only while that user may still see the file, so that a url stops working
 * as soon as its user leaves the chat, not when it expires.
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

  /** A url for `viewerId`, valid for URL_TTL_SECONDS to URL_TTL_SECONDS + EXPIRY_STEP_SECONDS from `nowMs`. */
  signedUrl(id: number, filename: string, viewerId: number, nowMs = Date.now()): string {
    const expires = Math.ceil((nowMs / 1000 + URL_TTL_SECONDS) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS;
    const sig = this.sign(id, filename, `${expires}\n${viewerId}`);
    return `/v1/files/${id}/${encodeURIComponent(filename)}?expires=${expires}&u=${viewerId}&sig=${sig}`;
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

  /**
   * The user a url's signature was made for, when this server made it for this file and name and
   * it has not expired; otherwise null. Whether that user may still see the file is the caller's to check.
   */
  verify(id: number, filename: string, { expires, u, sig }: SignedQuery, nowMs = Date.now()): number | null {
    if (expires === undefined || u === undefined || sig === undefined) return null;
    if (!/^\d{1,12}$/.test(expires) || !/^\d{1,10}$/.test(u)) return null;
    if (Number(expires) * 1000 < nowMs) return null;
    return this.matches(sig, this.sign(id, filename, `${expires}\n${u}`)) ? Number(u) : null;
  }

  /** The file object of the contract, with a url freshly signed for `viewerId`. */
  toFileObject(row: Pick<FileRow, 'id' | 'filename' | 'mime_type' | 'size_bytes' | 'created_at'>, viewerId: number, nowMs = Date.now()): FileObject {
    return {
      id: row.id,
      url: this.signedUrl(row.id, row.filename, viewerId, nowMs),
      filename: row.filename,
      mime_type: row.mime_type,
      size_bytes: Number(row.size_bytes),
      created_at: row.created_at,
    };
  }

  /**
   * A message (or anything with files) as `viewerId` is to see it: its files' urls signed for them.
   * The same object when it has no files.
   */
  signedFor<T extends { files: FileObject[] }>(item: T, viewerId: number, nowMs = Date.now()): T {
    if (item.files.length === 0) return item;
    return { ...item, files: item.files.map((file) => ({ ...file, url: this.signedUrl(file.id, file.filename, viewerId, nowMs) })) };
  }

  private matches(sig: string, expected: string): boolean {
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, Buffer.from(expected));
  }

  /** `scope`: "expiry time\nuser id", or CAPABILITY (which no such pair can equal). */
  private sign(id: number, filename: string, scope: string): string {
    return createHmac('sha256', this.key).update(`${id}\n${filename}\n${scope}`).digest('base64url');
  }
}
