import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The JWT secret when none is configured: made once and kept in the data folder (mode 0600),
 * so that tokens survive a restart.
 */
export function loadOrCreateSecret(dataDir: string): string {
  const file = path.resolve(dataDir, 'jwt-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  // Written whole to a file of its own, then linked into place (which fails if the name exists):
  // a process starting at the same moment sees no secret or a complete one, never an empty file.
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, file);
  } catch (err) {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
  }
  return readFileSync(file, 'utf8').trim();
}

/** The configured secret, or the one kept in the data folder: the same for every part of the app. */
export const resolveJwtSecret = (config: { jwtSecret: string | null; dataDir: string }) =>
  config.jwtSecret ?? loadOrCreateSecret(config.dataDir);
