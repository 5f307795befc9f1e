import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding package.json, whether running from the sources or from dist/. Pure: a build
 * that never reads it (the single executable) leaves it out, with its import.meta.
 */
export const projectRoot = /* @__PURE__ */ (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
