import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

// Crockford's base 32: no I, L, O or U, so that a code read aloud or copied by hand survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 80 random bits as `XXXX-XXXX-XXXX-XXXX`. */
function newCode(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join('-');
}

/** The stored form of a code as a person may type it: any case, with or without dashes and spaces. */
const codeHash = (code: string) =>
  createHash('sha256')
    .update(code.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0'))
    .digest('hex');

/** One-time codes an operator makes, for REGISTRATION=invite. */
export class Invites {
  constructor(private readonly db: Kysely<Database>) {}

  /** A new code, good once, until `expiresAt` (or for ever). Only its hash is stored. */
  async create(expiresAt: Date | null, now = new Date()): Promise<string> {
    const code = newCode();
    await this.db
      .insertInto('invites')
      .values({ code_hash: codeHash(code), created_at: now.toISOString(), expires_at: expiresAt?.toISOString() ?? null, used_at: null, used_by: null })
      .execute();
    return code;
  }

  /**
   * Uses the code up, in the transaction that makes the account (so that a failed sign-up leaves
   * it unused): false when it is unknown, used or expired. Two sign-ups with one code: one wins.
   */
  async redeem(trx: Kysely<Database>, code: string, now = new Date()): Promise<boolean> {
    const at = now.toISOString();
    const used = await trx
      .updateTable('invites')
      .set({ used_at: at })
      .where('code_hash', '=', codeHash(code))
      .where('used_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
      .executeTakeFirst();
    return used.numUpdatedRows > 0n;
  }

  /** Records who used a redeemed code. */
  async usedBy(trx: Kysely<Database>, code: string, userId: number): Promise<void> {
    await trx.updateTable('invites').set({ used_by: userId }).where('code_hash', '=', codeHash(code)).execute();
  }
}
