import { readdir, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { ChatType } from '../db/schema.js';
import { databaseFile, describeDatabase } from '../locations.js';
import { columns, formatBytes, plural } from './format.js';
import type { Outcome } from './outcome.js';

export interface Stats {
  /** Accounts, deleted ones aside. */
  users: number;
  chats: Record<ChatType, number>;
  /** Messages that are not deleted. */
  messages: number;
  /** Uploads as the database lists them. */
  files: { count: number; bytes: number };
  /** On disk: the SQLite file and its WAL, or what PostgreSQL says the database takes. */
  database: { location: string; bytes: number; wal_bytes: number | null };
  uploads_folder: { path: string; files: number; bytes: number };
  /** Free for the server's user on the disk of the data folder. */
  free_bytes: number;
}

export async function stats(db: Db, config: Config, json: boolean): Promise<Outcome> {
  const figures = await gather(db, config);
  if (json) return { ok: true, lines: [JSON.stringify(figures, null, 2)] };
  const { chats, database, uploads_folder: uploads } = figures;
  const chatCount = chats.direct + chats.group + chats.room;
  const wal = database.wal_bytes ? ` (${formatBytes(database.bytes - database.wal_bytes)} + ${formatBytes(database.wal_bytes)} of WAL)` : '';
  return {
    ok: true,
    lines: columns([
      ['users', String(figures.users)],
      ['chats', `${chatCount}: ${chats.direct} direct, ${plural(chats.group, 'group')}, ${plural(chats.room, 'room')}`],
      ['messages', `${figures.messages} (deleted ones not counted)`],
      ['files', `${figures.files.count}, ${formatBytes(figures.files.bytes)}`],
      ['database', `${database.location}: ${formatBytes(database.bytes)}${wal}`],
      ['uploads folder', `${uploads.path}: ${plural(uploads.files, 'file')}, ${formatBytes(uploads.bytes)}`],
      ['free disk space', `${formatBytes(figures.free_bytes)} (on the disk of ${path.resolve(config.dataDir)})`],
    ]),
  };
}

async function gather(db: Db, config: Config): Promise<Stats> {
  const { kysely } = db;
  const [users, chatRows, messages, files, database, uploads, free] = await Promise.all([
    kysely
      .selectFrom('users as u')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('u.deleted_at', 'is', null)
      .executeTakeFirstOrThrow(),
    kysely
      .selectFrom('chats')
      .select(['chat_type', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy('chat_type')
      .execute(),
    kysely
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow(),
    kysely
      .selectFrom('files')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.coalesce(eb.fn.sum<number | string>('size_bytes'), eb.lit(0)).as('bytes')])
      .executeTakeFirstOrThrow(),
    databaseSize(db, config),
    folderSize(path.resolve(config.dataDir, 'uploads')),
    statfs(path.resolve(config.dataDir)),
  ]);
  const chats: Record<ChatType, number> = { direct: 0, group: 0, room: 0 };
  for (const row of chatRows) chats[row.chat_type] = Number(row.n);
  return {
    users: Number(users.n),
    chats,
    messages: Number(messages.n),
    files: { count: Number(files.n), bytes: Number(files.bytes) },
    database,
    uploads_folder: uploads,
    free_bytes: free.bavail * free.bsize,
  };
}

async function databaseSize(db: Db, config: Config): Promise<Stats['database']> {
  const location = describeDatabase(config);
  const file = databaseFile(config);
  if (db.dialect === 'postgres') {
    const { rows } = await sql<{ bytes: number | string }>`select pg_database_size(current_database()) as bytes`.execute(db.kysely);
    return { location, bytes: Number(rows[0]!.bytes), wal_bytes: null };
  }
  if (file === null) return { location, bytes: 0, wal_bytes: null };
  const [main, wal] = await Promise.all([sizeOf(file), sizeOf(`${file}-wal`)]);
  return { location, bytes: main + wal, wal_bytes: wal };
}

async function folderSize(folder: string): Promise<Stats['uploads_folder']> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path: folder, files: 0, bytes: 0 };
    throw err;
  }
  const sizes = await Promise.all(entries.filter((e) => e.isFile()).map((e) => sizeOf(path.join(folder, e.name))));
  return { path: folder, files: sizes.length, bytes: sizes.reduce((sum, size) => sum + size, 0) };
}

/** The file's size; 0 when it is gone (a WAL after the last connection closed, an upload deleted meanwhile). */
async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}
