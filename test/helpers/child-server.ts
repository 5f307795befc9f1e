import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
export const TS_LOADER = fileURLToPath(new URL('../../node_modules/@tapjs/typescript/dist/esm/import.mjs', import.meta.url));

/**
 * Every child still running, killed when the test process exits: also one whose test timed out
 * before it was listening, which no teardown knew of yet.
 */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ChildServer {
  process: ChildProcess;
  url: string;
  wsUrl: string;
  exited: Promise<number | null>;
  /** Every line the server has written to stdout (its log) so far. */
  logs: string[];
}

/**
 * The real entry point in a child process, on 127.0.0.1 and a free port: src/main.ts, or `main`,
 * a built one (JavaScript, run without the TypeScript loader), with `nodeFlags`.
 */
export async function spawnServer(
  env: Record<string, string>,
  options: { cwd?: string; main?: string; nodeFlags?: readonly string[] } = {},
): Promise<ChildServer> {
  const args = [...(options.nodeFlags ?? []), ...(options.main ? [options.main] : [`--import=${TS_LOADER}`, MAIN])];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const logs: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      logs.push(line);
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening`)));
  });
  return { process: child, url, wsUrl: `${url.replace('http', 'ws')}/v1/ws`, exited, logs };
}
