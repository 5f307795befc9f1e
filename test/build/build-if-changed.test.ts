import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// `npm start` runs scripts/build-if-changed.mjs before the server. Here it runs in a project of its
// own whose build only counts its runs and writes the server file, so the test takes no real build.
const script = fileURLToPath(new URL('../../scripts/build-if-changed.mjs', import.meta.url));

t.test('builds when an input changed, and only then', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-build-if-changed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const build = "node -e \"const f=require('fs');f.mkdirSync('dist/server',{recursive:true});f.writeFileSync('dist/server/main.js','');f.appendFileSync('builds','x');console.log('built')\"";
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'p', scripts: { build } }));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'a.ts'), 'one');
  const run = () => spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' });
  const builds = () => readFileSync(path.join(dir, 'builds'), 'utf8').length;

  const first = run();
  t.equal(first.status, 0);
  t.equal(builds(), 1, 'the first run builds');
  t.equal(first.stdout, '', "the build's output is not on standard output (admin commands print there)");
  t.match(first.stderr, /built/, 'but on standard error');

  t.equal(run().status, 0);
  t.equal(builds(), 1, 'nothing changed: no build');

  writeFileSync(path.join(dir, 'src', 'a.ts'), 'two');
  run();
  t.equal(builds(), 2, 'a source changed: built');
  writeFileSync(path.join(dir, 'src', 'b.ts'), 'new');
  run();
  t.equal(builds(), 3, 'a new source: built');
  run();
  t.equal(builds(), 3, 'and not again');

  rmSync(path.join(dir, 'dist', 'server'), { recursive: true });
  run();
  t.equal(builds(), 4, 'the build is gone: built');
});

t.test('a failed build fails the start with its status, and is tried again next time', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-build-if-changed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'p', scripts: { build: "node -e \"require('fs').appendFileSync('builds','x');process.exit(3)\"" } }));
  const run = () => spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' });
  t.equal(run().status, 3);
  t.equal(run().status, 3);
  t.equal(readFileSync(path.join(dir, 'builds'), 'utf8'), 'xx', 'tried twice');
});
