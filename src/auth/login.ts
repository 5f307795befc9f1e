import type { AuthMode } from '../config.js';
import type { UserRow } from '../db/schema.js';
import { badRequest, conflict, unauthorized } from '../errors.js';
import type { UserQueries } from '../users/queries.js';
import { hashPassword, verifyPassword } from './passwords.js';

const invalidCredentials = () => unauthorized('INVALID_CREDENTIALS', 'Wrong username or password');
const passwordRequired = () => unauthorized('PASSWORD_REQUIRED', 'This account needs a password to log in');

/**
 * The account rules of every surface's `/login`: in open mode a new name makes the account (with
 * the password, when one is given); an account with a password needs it.
 */
export async function logIn(users: UserQueries, authMode: AuthMode, username: string, password: string | undefined): Promise<UserRow> {
  let user = await users.byUsername(username);
  if (!user) {
    if (authMode === 'password') throw password === undefined ? passwordRequired() : invalidCredentials();
    if (password !== undefined && password.length < 8) {
      throw badRequest('VALIDATION_ERROR', 'password: must NOT have fewer than 8 characters', { field: 'password' });
    }
    const hash = password === undefined ? null : await hashPassword(password);
    // undefined: someone took the name a moment ago; log in to that account as usual.
    user = (await users.create(username, hash)) ?? (await users.byUsername(username))!;
    if (hash !== null) return user;
  }
  if (user.password_hash !== null) {
    if (password === undefined) throw passwordRequired();
    if (!(await verifyPassword(password, user.password_hash))) throw invalidCredentials();
  } else if (authMode === 'password') {
    throw unauthorized('PASSWORD_NOT_SET', 'This account has no password; this server requires one');
  }
  return user;
}

/** A login that never makes an account and always needs the password (the rooms surface's). */
export async function logInWithPassword(users: UserQueries, username: string, password: string): Promise<UserRow> {
  const user = await users.byUsername(username);
  if (user?.password_hash == null || !(await verifyPassword(password, user.password_hash))) throw invalidCredentials();
  return user;
}

/** A new password account, on every surface's `/register`; 409 when the name is taken. */
export async function register(users: UserQueries, username: string, password: string): Promise<UserRow> {
  const taken = () => conflict('USERNAME_TAKEN', `The username "${username}" is taken`);
  if (await users.byUsername(username)) throw taken();
  const user = await users.create(username, await hashPassword(password));
  if (!user) throw taken();
  return user;
}
