import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** The channel on which PostgreSQL tells every process that sessions of a user ended (payload: the user id). */
export const SESSIONS_CHANNEL = 'dm_sessions';

/** Which sessions of a user end: one, all, or all but the one that asked (a password change). */
export type Ending = { only: string } | { allBut: string | null };

/**
 * The sessions tokens belong to. A token is good only while its session is in the database, so
 * that logging out, "log out everywhere" and a password change end tokens at once on every
 * process, and a token from another database (or a wiped one) is no one's.
 */
export class Sessions {
  private readonly listeners: ((userId: number) => void)[] = [];

  constructor(
    private readonly db: Db,
    private readonly ttlSeconds: number,
  ) {}

  /** A new session for `userId`; the user's expired ones are removed on the way. */
  async start(userId: number, now = new Date()): Promise<string> {
    const id = randomBytes(18).toString('base64url');
    const created = now.toISOString();
    await this.db.kysely.transaction().execute(async (trx) => {
      await trx.deleteFrom('sessions').where('user_id', '=', userId).where('expires_at', '<=', created).execute();
      await trx
        .insertInto('sessions')
        .values({ id, user_id: userId, created_at: created, expires_at: new Date(now.getTime() + this.ttlSeconds * 1000).toISOString() })
        .execute();
    });
    return id;
  }

  async isActive(userId: number, sessionId: string): Promise<boolean> {
    const row = await this.db.kysely
      .selectFrom('sessions')
      .select('id')
      .where('id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('expires_at', '>', new Date().toISOString())
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Those of `sessionIds` that are still active for `userId`. */
  async active(userId: number, sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const rows = await this.db.kysely
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', userId)
      .where('id', 'in', [...new Set(sessionIds)])
      .where('expires_at', '>', new Date().toISOString())
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Those of `sessionIds` (any users') that are still active. */
  async stillActive(sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const rows = await this.db.kysely
      .selectFrom('sessions')
      .select('id')
      .where('id', 'in', [...new Set(sessionIds)])
      .where('expires_at', '>', new Date().toISOString())
      .execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Ends sessions of `userId`; every process then closes the sockets that were opened with them. */
  async end(userId: number, ending: Ending): Promise<void> {
    const postgres = this.db.dialect === 'postgres';
    await this.db.kysely.transaction().execute(async (trx) => {
      let query = trx.deleteFrom('sessions').where('user_id', '=', userId);
      if ('only' in ending) query = query.where('id', '=', ending.only);
      else if (ending.allBut !== null) query = query.where('id', '!=', ending.allBut);
      await query.execute();
      // Sent at commit, to every process, this one included.
      if (postgres) await sql`select pg_notify(${SESSIONS_CHANNEL}, ${String(userId)})`.execute(trx);
    });
    if (!postgres) this.heard(userId);
  }

  /** Removes every expired session (sessions of users who never log in again would stay otherwise). */
  async sweep(now = new Date()): Promise<void> {
    await this.db.kysely.deleteFrom('sessions').where('expires_at', '<=', now.toISOString()).execute();
  }

  /** Called with the user whose sessions ended, on every process. */
  onEnded(listener: (userId: number) => void): void {
    this.listeners.push(listener);
  }

  /** Sessions of `userId` ended (here, or on another process: PostgreSQL said so). */
  heard(userId: number): void {
    for (const listener of this.listeners) listener(userId);
  }
}
