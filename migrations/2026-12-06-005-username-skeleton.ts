import type { Kysely } from 'kysely';
import { usernameSkeleton } from '../src/users/names.js';

// Frozen in time: written against Kysely<any>, never against the application's table types. The
// skeleton is today's; a later change to it would bring a migration of its own.

/**
 * What each username looks like, unique, so that no new name passes for an existing one
 * (src/users/names.ts). An account made before this that looks like an older one keeps working:
 * its skeleton gets `#<id>` added, which no username's skeleton has.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // SQLite adds no NOT NULL column without a default, nor a UNIQUE one: the index makes it unique.
  await db.schema.alterTable('users').addColumn('username_skeleton', 'text').execute();
  const taken = new Set<string>();
  for (const { id, username } of await db.selectFrom('users').select(['id', 'username']).orderBy('id').execute()) {
    const skeleton = usernameSkeleton(username);
    const unique = taken.has(skeleton) ? `${skeleton}#${id}` : skeleton;
    taken.add(unique);
    await db.updateTable('users').set({ username_skeleton: unique }).where('id', '=', id).execute();
  }
  await db.schema.createIndex('users_username_skeleton_idx').on('users').column('username_skeleton').unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_username_skeleton_idx').execute();
  await db.schema.alterTable('users').dropColumn('username_skeleton').execute();
}
