import type { Db } from '../db/database.js';
import { columns, formatTime } from './format.js';
import type { Outcome } from './outcome.js';

export interface UserListing {
  id: number;
  username: string;
  display_name: string | null;
  created_at: string;
  last_seen_at: string | null;
  password: boolean;
  /** Sessions that have not ended or expired: devices logged in. */
  sessions: number;
}

/** Every account but deleted ones, by id. */
export async function listUsers(db: Db, json: boolean, now = new Date()): Promise<Outcome> {
  const rows = await db.kysely
    .selectFrom('users as u')
    .select((eb) => [
      'u.id',
      'u.username',
      'u.display_name',
      'u.created_at',
      'u.last_seen_at',
      eb('u.password_hash', 'is not', null).as('password'),
      eb
        .selectFrom('sessions as s')
        .select(eb.fn.countAll<number | string>().as('n'))
        .whereRef('s.user_id', '=', 'u.id')
        .where('s.expires_at', '>', now.toISOString())
        .as('sessions'),
    ])
    .where('u.deleted_at', 'is', null)
    .orderBy('u.id')
    .execute();
  // SQLite answers 0 or 1 and PostgreSQL a boolean; counts are bigints, which PostgreSQL's driver gives as strings.
  const users: UserListing[] = rows.map((row) => ({ ...row, password: Boolean(row.password), sessions: Number(row.sessions ?? 0) }));
  if (json) return { ok: true, lines: [JSON.stringify(users, null, 2)] };
  if (users.length === 0) return { ok: true, lines: ['No users.'] };
  return {
    ok: true,
    lines: columns([
      ['ID', 'USERNAME', 'DISPLAY NAME', 'CREATED (UTC)', 'LAST SEEN (UTC)', 'PASSWORD', 'SESSIONS'],
      ...users.map((u) => [
        String(u.id),
        u.username,
        u.display_name ?? '-',
        formatTime(u.created_at),
        formatTime(u.last_seen_at),
        u.password ? 'yes' : 'no',
        String(u.sessions),
      ]),
    ]),
  };
}
