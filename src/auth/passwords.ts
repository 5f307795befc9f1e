import { randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { serverFiles } from '../runtime/files.js';

// scrypt with N=2^15, r=8: ~32 MiB and tens of milliseconds per hash, as OWASP suggests.
const PARAMS = { N: 32768, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/**
 * Hashing threads: half the cores (one on two), so that the event loop and the checkpoint thread
 * keep a core however many passwords come in.
 */
const THREADS = Math.min(4, Math.max(1, Math.floor(availableParallelism() / 2)));
/**
 * Hashes that may wait for a thread: about two seconds of work (a password change is two of them).
 * Past that, callers are refused at once rather than answered after many seconds.
 */
const MAX_WAITING = 16 * THREADS;

export interface HashJob {
  password: string;
  salt: Uint8Array;
  keyLength: number;
  options: ScryptOptions;
}
export type FromHasher = { key: Uint8Array } | { error: Error };

/** Too many hashes wait for a thread: 503 rather than a wait of many seconds. */
export class PasswordsBusyError extends AppError {
  constructor() {
    super(503, 'PASSWORDS_BUSY', 'Too many password checks at once; try again in a few seconds');
  }
}

interface Pending {
  job: HashJob;
  resolve: (key: Buffer) => void;
  reject: (err: Error) => void;
}
interface Thread {
  worker: Worker;
  current: Pending | null;
}

/**
 * node:crypto's async scrypt runs on libuv's thread pool (4 threads), where the WAL flush that
 * every message send awaits runs too: a few password changes a second made sends wait behind
 * 160 ms hashes. The hashes run on threads of their own instead, one at a time each, in order.
 */
const waiting: Pending[] = [];
const idle: Thread[] = [];
let threads = 0;

function startThread(): Thread {
  const thread: Thread = { worker: new Worker(serverFiles.worker('hash-worker')), current: null };
  threads++;
  const settle = (outcome: FromHasher) => {
    const pending = thread.current!;
    thread.current = null;
    if ('key' in outcome) pending.resolve(Buffer.from(outcome.key));
    else pending.reject(outcome.error);
  };
  let failure: Error | undefined;
  thread.worker.on('message', (outcome: FromHasher) => {
    settle(outcome);
    const next = waiting.shift();
    if (next) return run(thread, next);
    // Idle, it never keeps the process alive.
    thread.worker.unref();
    idle.push(thread);
  });
  thread.worker.on('error', (err) => {
    failure = err;
  });
  // A thread that dies (a crash, or a file missing from the build) fails its hash; the next starts anew.
  thread.worker.on('exit', () => {
    if (thread.current) settle({ error: failure ?? new Error('The password hashing thread stopped') });
    else idle.splice(idle.indexOf(thread), 1);
    threads--;
    dispatch();
  });
  return thread;
}

function run(thread: Thread, pending: Pending): void {
  thread.current = pending;
  // A caller awaits the answer: until it comes, the thread keeps the process alive.
  thread.worker.ref();
  thread.worker.postMessage(pending.job);
}

function dispatch(): void {
  while (waiting.length > 0 && (idle.length > 0 || threads < THREADS)) run(idle.pop() ?? startThread(), waiting.shift()!);
}

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  if (waiting.length >= MAX_WAITING) return Promise.reject(new PasswordsBusyError());
  const job: HashJob = { password: password.normalize('NFC'), salt, keyLength: KEY_LENGTH, options: { ...params, maxmem: 128 * 1024 * 1024 } };
  return new Promise((resolve, reject) => {
    waiting.push({ job, resolve, reject });
    dispatch();
  });
}

/** `scrypt$N$r$p$salt$hash`, so that the parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash of the current cost that no password is known to match. */
const DUMMY_HASH = ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, randomBytes(16).toString('base64'), randomBytes(KEY_LENGTH).toString('base64')].join('$');

/**
 * Costs what checking a real password costs, in time and in the queue (it is refused as busy alike):
 * a login as an unknown user answers as slowly as one with a wrong password.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(password, DUMMY_HASH);
}
