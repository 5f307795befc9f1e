import { config as loadDotenv } from 'dotenv';
import { ConfigError, loadConfig, parseDuration } from '../config.js';
import { createDb } from '../db/database.js';
import { MigrationError, migrateToLatest } from '../db/migrate.js';
import { createInvites, setPassword, type Outcome } from './commands.js';

const USAGE = `Usage: npm run admin -- <command>

  invites create [--count N] [--expires DURATION]
      Prints N one-time invite codes (default 1) for REGISTRATION=invite,
      good for DURATION (such as 7d, 12h or 3600; default: until used).
  users set-password USERNAME
      Reads the new password from standard input (one line) and sets it;
      every session of the account ends.

The database is the server's: DATABASE_URL and DATA_DIR, from the environment or .env.`;

loadDotenv({ quiet: true });

async function main(argv: string[]): Promise<number> {
  const [group, action, ...rest] = argv;
  const command = `${group ?? ''} ${action ?? ''}`;
  if (command !== 'invites create' && command !== 'users set-password') {
    console.error(USAGE);
    return group === undefined || group === '--help' ? 0 : 2;
  }
  const config = loadConfig();
  const db = await createDb(config, { error: (...args: unknown[]) => console.error(...args) });
  try {
    await migrateToLatest(db.kysely);
    let outcome: Outcome;
    if (command === 'invites create') {
      const options = parseOptions(rest);
      outcome = await createInvites(db, options.count, options.expires);
    } else {
      if (rest.length !== 1) throw new UsageError('users set-password takes one USERNAME');
      outcome = await setPassword(db, rest[0]!, await readLine());
    }
    (outcome.ok ? console.log : console.error)(outcome.lines.join('\n'));
    return outcome.ok ? 0 : 1;
  } finally {
    await db.kysely.destroy();
  }
}

class UsageError extends Error {}

function parseOptions(args: string[]): { count: number; expires: number | null } {
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) console.error(`${err.message}\n\n${USAGE}`);
    else if (err instanceof ConfigError || err instanceof MigrationError) console.error(err.message);
    else console.error('The command failed:', err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
