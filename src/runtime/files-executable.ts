import { existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import sea from 'node:sea';
import type { ServerFiles } from './files.js';

/** Written into the executable by scripts/package.mjs, beside the files it lists. */
interface Manifest {
  /** The version and a hash of every file's name and content: the folder they are extracted to. */
  key: string;
  files: string[];
}

const ADDON = 'better_sqlite3.node';

/**
 * The single executable's files (npm run package): built in place of files.ts. They are inside it,
 * but a compiled addon is loaded from a file, and @fastify/static and the worker threads read
 * files too: they are extracted into a cache folder, once per user and per content.
 */
export const serverFiles: ServerFiles = {
  webClient: () => path.join(extracted(), 'web'),
  swaggerUi: () => path.join(extracted(), 'swagger-ui'),
  worker: (name) => path.join(extracted(), `${name}.cjs`),
  sqliteOptions: () => {
    addon ??= loadAddon(path.join(extracted(), ADDON));
    // better-sqlite3 also takes the loaded addon, which its types leave out. Given a path, it
    // would load it with the executable's require(), which loads Node's own modules only.
    return { nativeBinding: addon as unknown as string };
  },
};

let folder: string | undefined;
let addon: object | undefined;

function extracted(): string {
  if (folder !== undefined) return folder;
  const manifest = JSON.parse(sea.getAsset('files.json', 'utf8')) as Manifest;
  const failures: string[] = [];
  for (const cache of cacheFolders()) {
    try {
      folder = extractOnce(cache, manifest);
      return folder;
    } catch (err) {
      failures.push(`${cache}: ${(err as Error).message}`);
    }
  }
  throw new Error(`The server's files could not be extracted from the executable (set XDG_CACHE_HOME to a folder of this user's): ${failures.join('; ')}`);
}

/** The user's cache folder, else (a service's user without a home) one of theirs in the temporary folder. */
function cacheFolders(): string[] {
  const folders: string[] = [];
  const { XDG_CACHE_HOME } = process.env;
  // The XDG base directory specification: a relative path is to be ignored.
  if (XDG_CACHE_HOME && path.isAbsolute(XDG_CACHE_HOME)) folders.push(path.join(XDG_CACHE_HOME, 'dm-server'));
  try {
    folders.push(path.join(homedir(), '.cache', 'dm-server'));
  } catch {
    // No $HOME, and a user id without an entry in /etc/passwd (a container's).
  }
  folders.push(path.join(tmpdir(), `dm-server-${process.getuid!()}`));
  return folders;
}

/**
 * `<cache>/<key>`, written first if it is not there. It is written under another name and renamed
 * into place whole, so that a folder of that name is complete: two processes that start at once
 * each write a copy, and the second to rename finds the first's in place and drops its own.
 */
function extractOnce(cache: string, { key, files }: Manifest): string {
  makeFolder(cache);
  checkPrivate(cache);
  const target = path.join(cache, key);
  if (existsSync(target)) return target;
  const staging = mkdtempSync(path.join(cache, `.${key}-`));
  try {
    for (const file of files) {
      const to = path.join(staging, file);
      mkdirSync(path.dirname(to), { recursive: true });
      // Flushed before the rename: after a power cut, the folder is whole or absent.
      writeFileSync(to, new Uint8Array(sea.getRawAsset(file) as ArrayBuffer), { flush: true });
    }
    renameSync(staging, target);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
  return target;
}

/**
 * The folder, and its parent (~/.cache) if need be. Not mkdir's `recursive`: it creates a missing
 * home, which is better left for the next folder, and loops for ever on a path in /proc.
 */
function makeFolder(cache: string): void {
  for (const dir of [path.dirname(cache), cache]) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** A user who could write in the cache could put code of theirs where the addon is loaded from. */
function checkPrivate(cache: string): void {
  const stat = lstatSync(cache);
  if (!stat.isDirectory() || stat.uid !== process.getuid!() || (stat.mode & 0o022) !== 0) {
    throw new Error('not a folder that only this user may write to');
  }
}

function loadAddon(file: string): object {
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}
