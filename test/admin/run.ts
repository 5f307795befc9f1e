import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TS_LOADER } from '../helpers/child-server.js';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `dm-server <args>` from the sources, in a process of its own, against `env`'s settings (they win
 * over a .env in `cwd`), with `input` on standard input.
 */
export function cli(args: string[], env: Record<string, string>, options: { input?: string; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [`--import=${TS_LOADER}`, MAIN, ...args],
      { env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1', ...env }, cwd: options.cwd },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(options.input ?? '');
  });
}
