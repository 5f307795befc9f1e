import { scryptSync } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { FromHasher, HashJob } from './passwords.js';

/** Derives one scrypt key at a time, synchronously, on this thread: libuv's thread pool stays free. */
parentPort!.on('message', ({ password, salt, keyLength, options }: HashJob) => {
  let outcome: FromHasher;
  try {
    outcome = { key: scryptSync(password, salt, keyLength, options) };
  } catch (err) {
    // Parameters scrypt refuses, read from a damaged stored hash.
    outcome = { error: err as Error };
  }
  parentPort!.postMessage(outcome);
});
