import { Type, type Static } from 'typebox';
import { User } from '../http/schemas.js';

export const Username = Type.String({
  minLength: 1,
  maxLength: 32,
  // Marks (\p{M}) let a decomposed accent through; names are stored NFC-normalized.
  pattern: '^[\\p{L}\\p{M}\\p{N}_.\\-]+$',
  description: 'Letters, digits, _ . - (1–32); unique without regard to case; a new name hides no invisible character and does not look like a taken one',
});
export const Password = Type.String({ minLength: 8, maxLength: 256 });

/**
 * The caller as `GET /v1/me` and `PATCH /v1/me` answer: a user object and whether the account has a
 * password (a client offers to set one, or to change it). Other users' objects never say this.
 */
export const Me = Type.Object({
  ...User.properties,
  has_password: Type.Boolean({ description: 'Whether the account has a password (false: username-only, anyone may log in as it in open mode)' }),
});
export type Me = Static<typeof Me>;
