import { sql, type Kysely } from 'kysely';
import type { Database, UserRow } from '../db/schema.js';
import { badRequest, conflict } from '../errors.js';
import { usernameProblem, usernameSkeleton } from './names.js';

/** The key that makes usernames unique without regard to case. */
export const usernameKey = (username: string) => username.normalize('NFC').toLowerCase();

export function userQueries(db: Kysely<Database>) {
  return {
    byId(id: number): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    },

    byUsername(username: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('username_key', '=', usernameKey(username)).executeTakeFirst();
    },

    /** The user whose username looks like `name` (names.ts), if any. */
    byLookalike(name: string): Promise<UserRow | undefined> {
      return db.selectFrom('users').selectAll().where('username_skeleton', '=', usernameSkeleton(name)).executeTakeFirst();
    },

    /**
     * Inserts unless the name is taken; undefined when it is (also under a concurrent insert). 409
     * USERNAME_TAKEN when a name that looks like it is (names.ts), which no caller may take for this
     * account; 400 VALIDATION_ERROR for a name that names.ts refuses to a new account.
     */
    async create(username: string, passwordHash: string | null): Promise<UserRow | undefined> {
      const problem = usernameProblem(username);
      if (problem) throw badRequest('VALIDATION_ERROR', problem, { field: 'username' });
      const name = username.normalize('NFC');
      const key = usernameKey(name);
      const row = await db
        .insertInto('users')
        .values({
          username: name,
          username_key: key,
          username_skeleton: usernameSkeleton(name),
          password_hash: passwordHash,
          created_at: new Date().toISOString(),
        })
        // Either unique column: the key, or the skeleton.
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (row) return row;
      // Not inserted: the name itself is taken (the caller logs in to it, or refuses it), or a look-alike is.
      if (await db.selectFrom('users').select('id').where('username_key', '=', key).executeTakeFirst()) return undefined;
      throw conflict('USERNAME_TAKEN', `The username "${username}" looks like an existing one`);
    },

    update(id: number, changes: { display_name?: string | null; bio?: string | null; password_hash?: string }) {
      return db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    },

    async setLastSeen(id: number, at: string): Promise<void> {
      await db.updateTable('users').set({ last_seen_at: at }).where('id', '=', id).execute();
    },

    /** Usernames containing `query` (case-insensitive), shortest first. */
    search(query: string, limit: number): Promise<UserRow[]> {
      const pattern = `%${usernameKey(query).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      return db
        .selectFrom('users')
        .selectAll()
        .where(sql<boolean>`username_key like ${pattern} escape '\\'`)
        .where('deleted_at', 'is', null)
        .orderBy(sql`length(username_key)`)
        .orderBy('username_key')
        .limit(limit)
        .execute();
    },
  };
}

export type UserQueries = ReturnType<typeof userQueries>;
