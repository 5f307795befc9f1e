import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './paths.js';

// The bundles (npm run build, npm run package) have the version written in by esbuild's `define`;
// the sources read it from package.json.
declare const __DM_SERVER_VERSION__: string | undefined;

/** This server's version, as package.json and CHANGELOG.md give it. */
export const VERSION: string =
  typeof __DM_SERVER_VERSION__ === 'string'
    ? __DM_SERVER_VERSION__
    : (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
