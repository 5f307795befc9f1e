import { sql, type Insertable } from 'kysely';
import type { Db } from '../db/database.js';
import type { FileRow, FilesTable } from '../db/schema.js';
import { AppError } from '../errors.js';
import type { FileQueries } from './queries.js';

// Any constant: with the user's id, the key of the advisory lock that orders one user's uploads on PostgreSQL.
const QUOTA_LOCK = 7_340_102;

export const quotaExceeded = (quota: number) =>
  new AppError(413, 'QUOTA_EXCEEDED', `This upload would take your files past the ${quota} bytes each user may keep`);

/** The bytes of one upload under way, counted against its user's quota while they come in. */
export interface Reservation {
  /** Counts `bytes` more; false when the upload no longer fits (and then it holds nothing). */
  take(bytes: number): boolean;
  release(): void;
}

const unlimited: Reservation = { take: () => true, release: () => {} };

/**
 * The per-user quota on stored upload bytes (0: none). An upload is checked three times: on arrival,
 * with the least its `Content-Length` says the file holds; as its bytes come in, counting the user's
 * other uploads under way on this process; and at the end, exactly, in the transaction that stores it.
 */
export class UploadQuota {
  /** Per user, the bytes of their uploads under way on this process. */
  private readonly underWay = new Map<number, number>();

  constructor(
    private readonly db: Db,
    private readonly files: FileQueries,
    readonly quotaBytes: number,
  ) {}

  /** Starts counting an upload of at least `atLeast` bytes; 413 `QUOTA_EXCEEDED` when it cannot fit. */
  async reserve(userId: number, atLeast: number): Promise<Reservation> {
    if (this.quotaBytes === 0) return unlimited;
    const stored = await this.files.storedBytes(userId);
    let held = 0;
    // Synchronous from here on: uploads that start together each see the others' bytes.
    const hold = (bytes: number): void => {
      const total = (this.underWay.get(userId) ?? 0) - held + bytes;
      if (total === 0) this.underWay.delete(userId);
      else this.underWay.set(userId, total);
      held = bytes;
    };
    const fits = (bytes: number): boolean => {
      hold(bytes);
      if (stored + (this.underWay.get(userId) ?? 0) <= this.quotaBytes) return true;
      hold(0);
      return false;
    };
    if (!fits(atLeast)) throw quotaExceeded(this.quotaBytes);
    let received = 0;
    return {
      take: (bytes) => fits(Math.max(atLeast, (received += bytes))),
      release: () => hold(0),
    };
  }

  /**
   * Stores the upload's row if the user's files still leave room for it. On PostgreSQL a lock per
   * user orders the checks of every process, so that concurrent uploads cannot pass together.
   */
  async commit(row: Insertable<FilesTable>): Promise<FileRow> {
    if (this.quotaBytes === 0) return this.files.insert(row);
    return this.db.kysely.transaction().execute(async (trx) => {
      if (this.db.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${QUOTA_LOCK}, ${row.uploader_id})`.execute(trx);
      if ((await this.files.storedBytes(row.uploader_id, trx)) + row.size_bytes > this.quotaBytes) throw quotaExceeded(this.quotaBytes);
      return this.files.insert(row, trx);
    });
  }
}
