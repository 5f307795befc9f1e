import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { migrations } from '../../migrations/index.js';

t.test('every file of migrations/ is listed, in the order of its name', async (t) => {
  const folder = fileURLToPath(new URL('../../migrations', import.meta.url));
  const files = readdirSync(folder)
    .filter((name) => name.endsWith('.ts') && name !== 'index.ts')
    .map((name) => name.slice(0, -'.ts'.length))
    .sort();
  t.same(Object.keys(migrations), files);
});
