import { Invites } from '../auth/invites.js';
import { hashPassword } from '../auth/passwords.js';
import { Sessions } from '../auth/sessions.js';
import type { Db } from '../db/database.js';
import { userQueries } from '../users/queries.js';
import { failed, type Outcome } from './outcome.js';

/** `count` one-time invite codes, each good until `expiresInSeconds` from now (null: no end). */
export async function createInvites(db: Db, count: number, expiresInSeconds: number | null, now = new Date()): Promise<Outcome> {
  const invites = new Invites(db.kysely);
  const expiresAt = expiresInSeconds === null ? null : new Date(now.getTime() + expiresInSeconds * 1000);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(await invites.create(expiresAt, now));
  return { ok: true, lines };
}

/**
 * Sets a user's password, the way back in for an account that has none (or has lost it); every
 * session of the account ends, so whoever was in without it is out.
 */
export async function setPassword(db: Db, username: string, password: string): Promise<Outcome> {
  if (password.length < 8 || password.length > 256) return failed('The password must be 8 to 256 characters.');
  const users = userQueries(db.kysely);
  const user = await users.byUsername(username);
  if (!user) return failed(`No user is called "${username}".`);
  await users.update(user.id, { password_hash: await hashPassword(password) });
  // Sessions' lifetime does not matter for ending them.
  await new Sessions(db, 0).end(user.id, { allBut: null });
  return { ok: true, lines: [`The password of ${user.username} is set; every session of the account has ended.`] };
}
