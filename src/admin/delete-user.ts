import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Sessions } from '../auth/sessions.js';
import { chatQueries } from '../chats/queries.js';
import { ChatService } from '../chats/service.js';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { FileLinks } from '../files/links.js';
import { fileQueries, type FileQueries } from '../files/queries.js';
import { FileStore } from '../files/storage.js';
import { LogWriter } from '../log/writer.js';
import { deleteMessage } from '../messages/service.js';
import { userQueries } from '../users/queries.js';
import { columns, formatBytes, plural } from './format.js';
import { failed, type Outcome } from './outcome.js';
import { tombstoneName } from './tombstone.js';

/** Rows read and changed per round: each statement stays short beside a running server. */
const PAGE = 500;

/**
 * Deletes an account as a person sees it, while the others' chats stay whole: the row stays as a
 * tombstone (`tombstone.ts`) that the messages and chats still name. Each change goes through the
 * path the API takes for it, so that the log tells every member (`message_deleted`, `chat`) and
 * resuming clients catch up: the account's messages are deleted as their sender deletes them, it
 * leaves its groups and rooms as a member leaves them (an owner's group goes to its longest-standing
 * member), and its uploads go with their bytes. Its direct chats stay, for the other person.
 * Run again with the tombstone's name, it finishes what an interrupted run left.
 */
export async function deleteUser(db: Db, config: Config, username: string): Promise<Outcome> {
  const users = userQueries(db.kysely);
  const user = await users.byUsername(username);
  if (!user) return failed(`No user is called "${username}".`);
  const name = tombstoneName(user.id);
  const now = new Date().toISOString();
  const sessionCount = await db.kysely
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('user_id', '=', user.id)
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();

  // The name goes first: in AUTH_MODE=open it alone would let its owner back in meanwhile.
  await db.kysely.transaction().execute(async (trx) => {
    await trx
      .updateTable('users')
      .set({ username: name, username_key: name, username_skeleton: name, display_name: null, bio: null, password_hash: null, last_seen_at: null, deleted_at: now })
      .where('id', '=', user.id)
      .execute();
    // The invite stays used; it no longer says by whom.
    await trx.updateTable('invites').set({ used_by: null }).where('used_by', '=', user.id).execute();
  });
  // Sessions' lifetime does not matter for ending them.
  await new Sessions(db, 0).end(user.id, { allBut: null });

  // Nothing is delivered from here (on PostgreSQL every server reads the log; a SQLite server does
  // not hear of another process's writes): the file links signed on the way are seen by no one.
  const files = fileQueries(db.kysely, new FileLinks(randomBytes(32).toString('hex')));
  const writer = new LogWriter(db, files, null, { error: (...args: unknown[]) => console.error(...args) });
  const messages = await deleteMessages(db, writer, user.id);
  const left = await leaveGroupsAndRooms(db, new ChatService(chatQueries(db.kysely, () => false, files), users, writer), user.id, name);
  const uploads = await deleteUploads(db, files, new FileStore(path.resolve(config.dataDir, 'uploads')), user.id);
  const directChats = await db.kysely
    .selectFrom('chat_members as cm')
    .innerJoin('chats as c', 'c.id', 'cm.chat_id')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('cm.user_id', '=', user.id)
    .where('c.chat_type', '=', 'direct')
    .executeTakeFirstOrThrow();

  const lines = [
    `Deleted the account ${user.username} (id ${user.id}); its row stays as "${name}".`,
    ...columns([
      ['  sessions ended', String(Number(sessionCount.n))],
      ['  messages deleted', `${messages.deleted} in ${plural(messages.chats, 'chat')}`],
      ['  groups and rooms left', `${plural(left.groups, 'group')}, ${plural(left.rooms, 'room')}${left.owned > 0 ? ` (it owned ${left.owned}: each is now its longest-standing member's)` : ''}`],
      ['  uploads deleted', `${uploads.deleted}, ${formatBytes(uploads.bytes)}`],
      ['  direct chats kept', `${Number(directChats.n)}, for the other person, with its messages shown as deleted`],
    ]),
  ];
  if (uploads.kept > 0) lines.push(`  ${uploads.kept} uploads stay: messages of other people show them.`);
  if (db.dialect === 'sqlite') {
    lines.push(
      "SQLite: a running server closes the account's sockets within 2 s, but does not tell other people's connected apps of the deletions: they see them in history, or after a restart of the server.",
    );
  }
  return { ok: true, lines };
}

async function deleteMessages(db: Db, writer: LogWriter, userId: number): Promise<{ deleted: number; chats: number }> {
  let deleted = 0;
  const chats = new Set<number>();
  for (;;) {
    // Deleted ones drop out of the query: each round reads the next.
    const page = await db.kysely
      .selectFrom('messages')
      .select(['id', 'chat_id'])
      .where('sender_id', '=', userId)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    if (page.length === 0) return { deleted, chats: chats.size };
    // Queued together, they commit one after another and share their flushes to disk.
    const done = await Promise.all(page.map((m) => deleteMessage(writer, m.chat_id, m.id)));
    deleted += done.filter(Boolean).length;
    for (const m of page) chats.add(m.chat_id);
  }
}

async function leaveGroupsAndRooms(
  db: Db,
  chats: ChatService,
  userId: number,
  username: string,
): Promise<{ groups: number; rooms: number; owned: number }> {
  const memberships = await db.kysely
    .selectFrom('chat_members as cm')
    .innerJoin('chats as c', 'c.id', 'cm.chat_id')
    .select(['c.id', 'c.chat_type', 'c.owner_id'])
    .where('cm.user_id', '=', userId)
    .where('c.chat_type', '!=', 'direct')
    .orderBy('c.id')
    .execute();
  // The account leaves as its owner would, through the leave route's code, with no session of its own.
  const self = { id: userId, username, sid: '' };
  for (const chat of memberships) await chats.removeMember(self, chat.id, userId);
  return {
    groups: memberships.filter((c) => c.chat_type === 'group').length,
    rooms: memberships.filter((c) => c.chat_type === 'room').length,
    owned: memberships.filter((c) => c.owner_id === userId).length,
  };
}

/**
 * The account's uploads, rows then bytes, as the sweeper deletes them (`removeUnattached`): only
 * those that no message still shows. Sends attach only the sender's own uploads, so with the
 * account's messages deleted that is all of them; one that another message shows stays.
 */
async function deleteUploads(db: Db, files: FileQueries, store: FileStore, userId: number): Promise<{ deleted: number; bytes: number; kept: number }> {
  const result = { deleted: 0, bytes: 0, kept: 0 };
  for (let after = 0; ; ) {
    const page = await db.kysely
      .selectFrom('files')
      .select(['id', 'stored_name', 'size_bytes'])
      .where('uploader_id', '=', userId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    if (page.length === 0) return result;
    const removed = new Set(await files.removeUnattached(page.map((f) => f.id)));
    // A crash here leaves bytes without a row: wasted space, never a row without bytes.
    for (const name of removed) await store.remove(name);
    for (const file of page) {
      if (removed.has(file.stored_name)) {
        result.deleted++;
        result.bytes += file.size_bytes;
      } else {
        result.kept++;
      }
    }
    after = page.at(-1)!.id;
  }
}
