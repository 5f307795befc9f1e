import fs from 'node:fs';
import type { Test } from 'tap';

/** Holds every flush of the WAL until the test lets it finish, with `release(error?)`, oldest first. */
export function holdFlushes(t: Test) {
  const { fdatasync } = fs;
  const held: { fd: number; callback: fs.NoParamCallback }[] = [];
  fs.fdatasync = ((fd: number, callback: fs.NoParamCallback) => void held.push({ fd, callback })) as typeof fs.fdatasync;
  t.teardown(() => Object.assign(fs, { fdatasync }));
  return {
    get waiting() {
      return held.length;
    },
    release(error?: Error) {
      const { fd, callback } = held.shift()!;
      if (error) callback(error);
      else fdatasync(fd, callback);
    },
  };
}

/** Polls `condition` until it holds; fails after 5 s, naming what it waited for. */
export const until = async (condition: () => boolean, what: string) => {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};
