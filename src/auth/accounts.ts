import type { Kysely } from 'kysely';
import type { AuthMode, Registration } from '../config.js';
import type { Database, UserRow } from '../db/schema.js';
import { AppError, badRequest, conflict, forbidden, unauthorized } from '../errors.js';
import type { TokenBuckets } from '../rate-limit-store.js';
import { userQueries, usernameKey, type UserQueries } from '../users/queries.js';
import type { Invites } from './invites.js';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js';

export interface AccountPolicy {
  authMode: AuthMode;
  registration: Registration;
}

const invalidCredentials = () => unauthorized('INVALID_CREDENTIALS', 'Wrong username or password');
const passwordRequired = () => unauthorized('PASSWORD_REQUIRED', 'This account needs a password to log in');
const tooShort = () => badRequest('VALIDATION_ERROR', 'password: must NOT have fewer than 8 characters', { field: 'password' });

/**
 * The account rules of every surface: who may log in with what, who may make an account (the
 * registration policy and its invites), and password checks, each counted against the account's
 * budget and each as slow for a name that does not exist as for one that does.
 */
export class Accounts {
  private readonly users: UserQueries;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly invites: Invites,
    private readonly policy: AccountPolicy,
    /** Password checks per account, keyed by username key, whatever address they come from. */
    private readonly passwordChecks: TokenBuckets<string>,
  ) {
    this.users = userQueries(db);
  }

  /**
   * Every surface's `/login`. In open mode a new name makes the account (with the password, when
   * one is given), as the registration policy allows; an account with a password needs it. In
   * password mode an unknown name, an account without a password and a wrong password all get the
   * same answer, after the same work.
   */
  async logIn(username: string, password: string | undefined, invite?: string): Promise<UserRow> {
    let user = await this.users.byUsername(username);
    if (!user && this.policy.authMode === 'open') {
      if (password !== undefined && password.length < 8) throw tooShort();
      const created = await this.create(username, password, invite, false);
      if (created) return created;
      // Someone took the name a moment ago: log in to that account as usual.
      user = await this.users.byUsername(username);
    }
    if (user && user.password_hash === null && this.policy.authMode === 'open') return user;
    if (password === undefined) throw passwordRequired();
    await this.checkPassword(username, password, user?.password_hash ?? null);
    return user!;
  }

  /** A login that never makes an account and always needs the password (the rooms surface's). */
  async logInWithPassword(username: string, password: string): Promise<UserRow> {
    const user = await this.users.byUsername(username);
    await this.checkPassword(username, password, user?.password_hash ?? null);
    return user!;
  }

  /** A new password account, on every surface's `/register`; 409 when the name is taken. */
  async register(username: string, password: string, invite?: string): Promise<UserRow> {
    const user = await this.create(username, password, invite, true);
    if (!user) throw conflict('USERNAME_TAKEN', `The username "${username}" is taken`);
    return user;
  }

  /** Sets a password on a username-only account, or changes one (which needs the current one). */
  async setPassword(user: UserRow, password: string, current: string | undefined): Promise<void> {
    if (user.password_hash !== null) {
      if (current === undefined) {
        throw badRequest('VALIDATION_ERROR', 'current_password: is required to change a password', { field: 'current_password' });
      }
      await this.spendCheck(user.username);
      if (!(await verifyPassword(current, user.password_hash))) throw forbidden('WRONG_PASSWORD', 'current_password is not the current password');
    }
    await this.users.update(user.id, { password_hash: await hashPassword(password) });
  }

  /** What the registration policy says to a new account; throws when it may not be made. */
  private admit(invite: string | undefined): void {
    if (this.policy.registration === 'closed') throw forbidden('REGISTRATION_CLOSED', 'This server does not take new accounts');
    if (this.policy.registration === 'invite' && (invite === undefined || invite === '')) {
      throw forbidden('INVITE_REQUIRED', 'This server takes new accounts by invite only: send the invite code as invite');
    }
  }

  /**
   * Makes the account as the policy allows, using up the invite in the same transaction;
   * undefined when the name is taken (also by a concurrent sign-up), which leaves the invite unused.
   */
  private async create(username: string, password: string | undefined, invite: string | undefined, checkTaken: boolean): Promise<UserRow | undefined> {
    this.admit(invite);
    if (checkTaken && (await this.users.byUsername(username))) return undefined;
    const hash = password === undefined ? null : await hashPassword(password);
    if (this.policy.registration !== 'invite') return this.users.create(username, hash);
    return this.db.transaction().execute(async (trx) => {
      if (!(await this.invites.redeem(trx, invite!))) throw forbidden('INVITE_INVALID', 'The invite code is unknown, used or expired');
      const user = await userQueries(trx).create(username, hash);
      if (!user) throw new NameTaken();
      await this.invites.usedBy(trx, invite!, user.id);
      return user;
    }).catch((err: unknown) => {
      if (err instanceof NameTaken) return undefined;
      throw err;
    });
  }

  /** Checks a password (against no hash: a name with none), counting it against the account's budget. */
  private async checkPassword(username: string, password: string, hash: string | null): Promise<void> {
    await this.spendCheck(username);
    if (hash === null) {
      // The same work as a real check, so that the time taken does not tell which names exist.
      await burnPasswordCheck(password);
      throw invalidCredentials();
    }
    if (!(await verifyPassword(password, hash))) throw invalidCredentials();
  }

  private async spendCheck(username: string): Promise<void> {
    const wait = await this.passwordChecks.take(usernameKey(username));
    if (wait > 0) {
      throw new AppError(429, 'RATE_LIMITED', `Too many password attempts for this account: try again in ${Math.ceil(wait / 1000)} s`, {
        retry_after_ms: wait,
      });
    }
  }
}

/** Rolls back an invite's use when the name turned out to be taken. */
class NameTaken extends Error {}
