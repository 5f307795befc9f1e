import type { Migration } from 'kysely';
import * as initial from './2026-11-21-001-initial.js';
import * as files from './2026-11-21-002-files.js';
import * as rooms from './2026-12-06-003-rooms.js';
import * as eventLog from './2026-12-06-004-event-log.js';
import * as usernameSkeleton from './2026-12-06-005-username-skeleton.js';
import * as sessions from './2026-12-06-006-sessions.js';
import * as uploadSweep from './2026-12-06-007-upload-sweep.js';
import * as deletedUsers from './2026-12-07-008-deleted-users.js';

/**
 * Every migration, by name, in the order they apply. Listed rather than read from this folder at
 * start-up, so that the server build carries them inside it. A new migration goes here too (a test
 * checks that every file of this folder is listed).
 */
export const migrations: Record<string, Migration> = {
  '2026-11-21-001-initial': initial,
  '2026-11-21-002-files': files,
  '2026-12-06-003-rooms': rooms,
  '2026-12-06-004-event-log': eventLog,
  '2026-12-06-005-username-skeleton': usernameSkeleton,
  '2026-12-06-006-sessions': sessions,
  '2026-12-06-007-upload-sweep': uploadSweep,
  '2026-12-07-008-deleted-users': deletedUsers,
};
