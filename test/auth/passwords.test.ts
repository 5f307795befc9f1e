import { execFile } from 'node:child_process';
import { randomBytes, scryptSync } from 'node:crypto';
import { stat } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { burnPasswordCheck, hashPassword, PasswordsBusyError, verifyPassword } from '../../src/auth/passwords.js';
import { AppError } from '../../src/errors.js';

const PASSWORDS_URL = new URL('../../src/auth/passwords.ts', import.meta.url).href;
const TS_LOADER = fileURLToPath(new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url));

/** A stored hash as an older version with other parameters would have written it. */
function oldHash(password: string, N: number, r: number, p: number): string {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize('NFC'), salt, 32, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

t.test('a hash verifies its own password and no other', async (t) => {
  const hash = await hashPassword('correct horse');
  t.match(hash, /^scrypt\$32768\$8\$1\$[^$]+\$[^$]+$/, 'scrypt$N$r$p$salt$hash');
  t.equal(await verifyPassword('correct horse', hash), true);
  t.equal(await verifyPassword('correct horsf', hash), false);
  t.not(await hashPassword('correct horse'), hash, 'a salt of its own each time');
  // "é" typed as one code point or as e + a combining accent is the same password.
  t.equal(await verifyPassword('caf\u0065\u0301', await hashPassword('caf\u00e9')), true, 'NFC');
  t.equal(await verifyPassword('correct horse', 'bcrypt$whatever'), false, 'another scheme');
});

t.test('a hash made with older parameters verifies with those parameters', async (t) => {
  const hash = oldHash('old password', 1024, 4, 2);
  t.equal(await verifyPassword('old password', hash), true);
  t.equal(await verifyPassword('new password', hash), false);
  await t.rejects(verifyPassword('old password', hash.replace('$1024$', '$1000$')), 'N must be a power of two: a damaged hash fails loudly');
});

t.test("hashing leaves libuv's thread pool free for the WAL flushes that sends await", async (t) => {
  // As many hashes as the pool has threads: on the pool, they would take every one of them.
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  const order: string[] = [];
  const hashes = Array.from({ length: poolSize }, (_, i) => hashPassword(`password ${i}`).then(() => order.push('hash')));
  const poolTasks = Array.from({ length: poolSize }, () => promisify(stat)(fileURLToPath(import.meta.url)).then(() => order.push('stat')));
  await Promise.all([...hashes, ...poolTasks]);
  t.same(order.slice(0, poolSize), Array(poolSize).fill('stat'), 'every stat is done before any hash');
});

t.test('past the bound of the queue, checks are refused with PasswordsBusyError', async (t) => {
  const cheap = oldHash('cheap', 1024, 1, 1);
  const checks = Array.from({ length: 500 }, () => verifyPassword('cheap', cheap));
  const burn = burnPasswordCheck('anything').catch((err: unknown) => err);
  const outcomes = await Promise.allSettled(checks);
  const refused = outcomes.filter((o) => o.status === 'rejected');
  t.ok(refused.length > 0 && refused.length < checks.length, `some refused (${refused.length}), some checked`);
  t.ok(refused.every((o) => o.reason instanceof PasswordsBusyError), 'each with PasswordsBusyError');
  t.ok(refused[0]?.reason instanceof AppError, 'an AppError: answered 503 PASSWORDS_BUSY wherever it is not caught');
  t.match(refused[0]?.reason, { status: 503, code: 'PASSWORDS_BUSY' });
  t.ok(outcomes.every((o) => o.status === 'rejected' || o.value), 'the ones taken are checked');
  t.ok((await burn) instanceof PasswordsBusyError, 'burnPasswordCheck waits in the same queue');
  t.equal(await verifyPassword('cheap', cheap), true, 'taken again once the queue has room');
});

t.test('burnPasswordCheck costs a check and answers nothing', async (t) => {
  t.equal(await burnPasswordCheck('whatever'), undefined);
});

t.test('the hashing thread keeps the process alive while it hashes, and no longer', async (t) => {
  const script = `import(${JSON.stringify(PASSWORDS_URL)}).then((m) => m.hashPassword('x')).then(console.log)`;
  // Exits by itself: an idle thread that kept it alive would hang it until the timeout.
  const { stdout } = await promisify(execFile)(process.execPath, [`--import=${TS_LOADER}`, '-e', script], { timeout: 30_000 });
  t.match(stdout, /^scrypt\$/, 'the hash was printed: the process waited for it');
});
