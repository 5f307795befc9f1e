import { ConfigError, loadConfig, parseDuration, type Config } from '../config.js';
import type { Db } from '../db/database.js';
import { VERSION } from '../version.js';
import type { Outcome } from './outcome.js';

export const USAGE = `Usage: dm-server [COMMAND]        (from the sources: npm run admin -- COMMAND)

  serve
      Starts the server: what dm-server does without a command.
  backup FILE
      Writes FILE, a .tar.gz of the SQLite database (a consistent copy, taken while the
      server runs), the uploads and the generated secret. To restore, stop the server and
      extract it into an empty data folder: tar -xzf FILE -C DATA_DIR
  stats [--json]
      Counts users, chats, messages and files; sizes the database and the uploads; free disk space.
  users list [--json]
      Every account: id, username, display name, created, last seen, whether it has a
      password, and its sessions (devices logged in).
  users set-password USERNAME
      Reads the new password from standard input (one line) and sets it;
      every session of the account ends.
  users delete USERNAME
      Deletes the account: its sessions end, its messages and uploads are deleted, and it
      leaves its groups and rooms. Others keep their direct chats with it, with its
      messages deleted. The name can be taken again.
  invites create [--count N] [--expires DURATION]
      Prints N one-time invite codes (default 1) for REGISTRATION=invite,
      good for DURATION (such as 7d, 12h or 3600; default: until used).
  --version
      Prints the version.

Settings come from the environment and from .env in the working directory
(DATABASE_URL and DATA_DIR: relative paths are relative to the working directory).
Exit status: 0 done, 1 failed, 2 a command line this usage does not allow.`;

class UsageError extends Error {}

/** Runs the operator's command `argv` (what follows `dm-server`); answers the exit status. */
export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    const outcome = await run(argv);
    if (outcome.ok) console.log(outcome.lines.join('\n'));
    else console.error(outcome.lines.join('\n'));
    return outcome.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    // Loaded by then if it is one.
    const { MigrationError } = await import('../db/migrate.js');
    if (err instanceof ConfigError || err instanceof MigrationError) console.error(err.message);
    else console.error('The command failed:', err);
    return 1;
  }
}

/** Each command's code is loaded only when it runs. */
async function run(argv: readonly string[]): Promise<Outcome> {
  const [command, ...args] = argv;
  switch (command) {
    case '--version':
    case 'version':
      takesNothing(command, args);
      return { ok: true, lines: [`dm-server ${VERSION}`] };
    case '--help':
    case 'help':
      return { ok: true, lines: [USAGE] };
    case 'backup': {
      const [file] = words(command, args, 1);
      return (await import('./backup.js')).backup(loadConfig(), file!);
    }
    case 'stats': {
      const json = jsonFlag(command, args);
      const { stats } = await import('./stats.js');
      return withDatabase('read', (db, config) => stats(db, config, json));
    }
    case 'users':
      return users(args);
    case 'invites': {
      const [action, ...options] = args;
      if (action !== 'create') throw new UsageError(`Unknown command: invites ${action ?? ''}`.trimEnd());
      const { count, expires } = inviteOptions(options);
      const { createInvites } = await import('./commands.js');
      return withDatabase('write', (db) => createInvites(db, count, expires));
    }
    case 'serve':
      throw new UsageError('serve takes no arguments');
    default:
      throw new UsageError(`Unknown command: ${argv.join(' ')}`);
  }
}

async function users([action, ...args]: readonly string[]): Promise<Outcome> {
  switch (action) {
    case 'list': {
      const json = jsonFlag('users list', args);
      const { listUsers } = await import('./users.js');
      return withDatabase('read', (db) => listUsers(db, json));
    }
    case 'set-password': {
      const [username] = words('users set-password', args, 1);
      const { setPassword } = await import('./commands.js');
      return withDatabase('write', async (db) => setPassword(db, username!, await readLine()));
    }
    case 'delete': {
      const [username] = words('users delete', args, 1);
      const { deleteUser } = await import('./delete-user.js');
      return withDatabase('write', (db, config) => deleteUser(db, config, username!));
    }
    default:
      throw new UsageError(`Unknown command: users ${action ?? ''}`.trimEnd());
  }
}

async function withDatabase(access: 'read' | 'write', command: (db: Db, config: Config) => Promise<Outcome>): Promise<Outcome> {
  const config = loadConfig();
  const { withDatabase: open } = await import('./database.js');
  return open(config, access, (db) => command(db, config));
}

function takesNothing(command: string, args: readonly string[]): void {
  if (args.length > 0) throw new UsageError(`${command} takes no arguments`);
}

/** Exactly `count` arguments, none of them an option. */
function words(command: string, args: readonly string[], count: number): readonly string[] {
  if (args.length !== count || args.some((a) => a.startsWith('--'))) throw new UsageError(`${command} takes ${count === 1 ? 'one argument' : `${count} arguments`}`);
  return args;
}

function jsonFlag(command: string, args: readonly string[]): boolean {
  if (args.length === 0) return false;
  if (args.length === 1 && args[0] === '--json') return true;
  throw new UsageError(`Unknown or bad option for ${command}: ${args.join(' ')}`);
}

function inviteOptions(args: readonly string[]): { count: number; expires: number | null } {
  const options = { count: 1, expires: null as number | null };
  for (let i = 0; i < args.length; i += 2) {
    const [name, value] = [args[i], args[i + 1]];
    if (name === '--count' && value !== undefined && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 1000) {
      options.count = Number(value);
    } else if (name === '--expires' && value !== undefined && parseDuration(value) !== null) {
      options.expires = parseDuration(value);
    } else {
      throw new UsageError(`Unknown or bad option: ${args.slice(i).join(' ')}`);
    }
  }
  return options;
}

/** The first line of standard input, without its end of line. */
async function readLine(): Promise<string> {
  let input = '';
  for await (const chunk of process.stdin) {
    input += String(chunk);
    if (input.includes('\n')) break;
  }
  return input.split(/\r?\n/)[0]!;
}
