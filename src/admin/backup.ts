import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { link, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { create as createTar, type WriteEntry } from 'tar';
import type { Config } from '../config.js';
import { databaseFile, describeDatabase, isPostgres, withoutPassword } from '../locations.js';
import { columns, formatBytes, plural, shellQuote } from './format.js';
import { failed, type Outcome } from './outcome.js';

/** Tries at the archive: an upload deleted between the listing of its folder and its reading fails one. */
const ATTEMPTS = 3;

interface Contents {
  uploads: number;
  uploadBytes: number;
  secret: boolean;
}

/**
 * Writes `target`, a .tar.gz laid out as the data folder is: the database (a consistent copy, taken
 * while the server runs), `uploads/` and the generated `jwt-secret`, so that `tar -xzf` into an
 * empty data folder restores them. It reads the database without migrating it: a server of an
 * older version may be running on it.
 */
export async function backup(config: Config, target: string): Promise<Outcome> {
  if (isPostgres(config)) return postgresAdvice(config, target);
  const database = databaseFile(config);
  if (database === null) return failed('The database is in memory (DATABASE_URL=sqlite::memory:): there is nothing to back up.');
  if (!existsSync(database)) return failed(`There is no database at ${database} (DATABASE_URL=${config.databaseUrl}, from the folder ${process.cwd()}).`);
  const archive = path.resolve(target);
  if (existsSync(archive)) return failed(`${archive} exists: a backup is written to a new file, never over another.`);

  const dataDir = path.resolve(config.dataDir);
  const relative = path.relative(dataDir, database);
  // The database's place in the data folder; one kept elsewhere goes at the archive's top.
  const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
  const entry = inside ? relative.split(path.sep).join('/') : path.basename(database);
  // Beside the archive, so that the last step is a link on the same disk.
  const temp = `${archive}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const copy = `${temp}.db`;
  try {
    const takenAt = new Date().toISOString();
    snapshot(database, copy);
    const databaseBytes = (await stat(copy)).size;
    const contents = await writeArchive(temp, dataDir, copy, entry, config.jwtSecret === null);
    await syncFile(temp);
    try {
      // A link, unlike a rename, never replaces a file that appeared meanwhile.
      await link(temp, archive);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return failed(`${archive} appeared while the backup was written: it is left as it was.`);
      throw err;
    }
    const archiveBytes = (await stat(archive)).size;
    const restore = inside
      ? [`  tar -xzf ${shellQuote(archive)} -C ${shellQuote(dataDir)}`]
      : [
          `  tar -xzf ${shellQuote(archive)} -C ${shellQuote(path.dirname(database))} ${shellQuote(entry)}`,
          ...(contents.uploads > 0 || contents.secret
            ? [`  tar -xzf ${shellQuote(archive)} -C ${shellQuote(dataDir)} ${[...(contents.uploads > 0 ? ['uploads'] : []), ...(contents.secret ? ['jwt-secret'] : [])].join(' ')}`]
            : []),
        ];
    return {
      ok: true,
      lines: [
        `Wrote ${archive} (${formatBytes(archiveBytes)}):`,
        ...columns([
          [`  ${entry}`, `the database, ${formatBytes(databaseBytes)}, as it was at ${takenAt}${inside ? '' : ` (its file is ${database}, outside the data folder)`}`],
          ['  uploads/', `${plural(contents.uploads, 'file')}, ${formatBytes(contents.uploadBytes)}`],
          ['  jwt-secret', secretNote(config, contents)],
        ]),
        `To restore: stop the server, then extract it into ${inside ? 'an empty data folder' : 'empty folders'} (a ${path.basename(database)}-wal left beside the database would spoil the copy):`,
        ...restore,
      ],
    };
  } finally {
    await rm(temp, { force: true });
    await rm(copy, { force: true });
  }
}

function secretNote(config: Config, contents: Contents): string {
  if (contents.secret) return 'the generated secret that signs tokens and file links';
  if (config.jwtSecret !== null) return 'not in it: JWT_SECRET is set, keep it with the backup';
  return 'none yet: the server makes it at its first start';
}

/**
 * A consistent copy of the database as it is now, whoever writes to it meanwhile: VACUUM INTO reads
 * it in one transaction, which in WAL mode blocks no writer (the backup API would start over at
 * each of their commits).
 */
function snapshot(database: string, copy: string): void {
  // Made first, readable by its owner only: VACUUM INTO would give it the umask's mode.
  closeSync(openSync(copy, 'wx', 0o600));
  const db = new SQLite(database, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(copy);
  } finally {
    db.close();
  }
}

async function writeArchive(file: string, dataDir: string, copy: string, entry: string, withSecret: boolean): Promise<Contents> {
  const paths = [copy];
  if (existsSync(path.join(dataDir, 'uploads'))) paths.push('uploads');
  if (withSecret && existsSync(path.join(dataDir, 'jwt-secret'))) paths.push('jwt-secret');
  for (let attempt = 1; ; attempt++) {
    const contents: Contents = { uploads: 0, uploadBytes: 0, secret: false };
    const onWriteEntry = (written: WriteEntry) => {
      if (written.absolute === copy) written.path = entry;
      else if (written.path === 'jwt-secret') contents.secret = true;
      else if (written.type === 'File') {
        contents.uploads++;
        contents.uploadBytes += written.stat!.size;
      }
    };
    try {
      // Modes are kept (not `portable`): the database and the secret are their owner's only.
      await createTar({ file, gzip: true, cwd: dataDir, mode: 0o600, onWriteEntry }, paths);
      return contents;
    } catch (err) {
      await rm(file, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === ATTEMPTS) throw err;
    }
  }
}

async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** PostgreSQL has its own tool for a consistent copy: the commands to run, with nothing written here. */
function postgresAdvice(config: Config, target: string): Outcome {
  const dump = `${target.replace(/(\.tar\.gz|\.tgz)$/, '')}.dump`;
  const files = ['uploads', ...(config.jwtSecret === null ? ['jwt-secret'] : [])];
  return failed(
    `backup copies a SQLite database, and this server's is ${describeDatabase(config)}. Back it up with pg_dump, which works while the server runs (give it the password with PGPASSWORD or ~/.pgpass):`,
    `  pg_dump --format=custom --file=${shellQuote(dump)} ${shellQuote(withoutPassword(config.databaseUrl))}`,
    `and the ${config.jwtSecret === null ? 'uploads and the generated secret' : 'uploads'} with tar:`,
    `  tar -czf ${shellQuote(target)} -C ${shellQuote(path.resolve(config.dataDir))} ${files.join(' ')}`,
  );
}
