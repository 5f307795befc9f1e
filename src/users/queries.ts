import { sql, type Kysely } from 'kysely';
import type { Database, UserRow } from '../db/schema.js';

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

    /** Inserts unless the name is taken; undefined when it is (also under a concurrent insert). */
    create(username: string, passwordHash: string | null): Promise<UserRow | undefined> {
      const name = username.normalize('NFC');
      return db
        .insertInto('users')
        .values({
          username: name,
          username_key: usernameKey(name),
          password_hash: passwordHash,
          created_at: new Date().toISOString(),
        })
        .onConflict((oc) => oc.column('username_key').doNothing())
        .returningAll()
        .executeTakeFirst();
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
        .orderBy(sql`length(username_key)`)
        .orderBy('username_key')
        .limit(limit)
        .execute();
    },
  };
}

export type UserQueries = ReturnType<typeof userQueries>;
