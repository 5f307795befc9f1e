import { readFileSync } from 'node:fs';

/**
 * The node flags that `npm start` runs the server with, read from the start script of the
 * package.json at `packageJson`, so that what measures or tests the built server runs it the same way.
 */
export function startFlags(packageJson: string | URL): string[] {
  const { scripts } = JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: { start: string } };
  const match = /\bnode((?: --\S+)*) dist\/server\/main\.js/.exec(scripts.start);
  if (!match) throw new Error(`package.json: the start script does not run "node [flags] dist/server/main.js": ${scripts.start}`);
  return match[1]!.trim().split(' ').filter(Boolean);
}
