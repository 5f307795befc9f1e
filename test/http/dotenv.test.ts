import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { spawnServer } from '../helpers/child-server.js';
import { request, type TestServer } from '../helpers/server.js';

t.test('.env is read from the working folder, and the environment wins over it', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-dotenv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // JWT_TTL only in .env; AUTH_MODE in both (the environment says open).
  writeFileSync(path.join(dir, '.env'), 'JWT_TTL=90s\nAUTH_MODE=password\nDATABASE_URL=sqlite:data/chat.db\n');
  const child = await spawnServer({ AUTH_MODE: 'open', JWT_SECRET: 'dotenv-test-secret-dotenv-test-secret-0123' }, { cwd: dir });
  t.teardown(() => child.process.kill('SIGKILL'));
  const server = { url: child.url, wsUrl: child.wsUrl } as TestServer;

  const res = await request(server, 'POST', '/v1/login', { body: { username: 'newcomer' } });
  t.equal(res.status, 200, 'AUTH_MODE=open from the environment, not password from .env');
  const claims = JSON.parse(Buffer.from(res.body.token.split('.')[1], 'base64url').toString());
  t.equal(claims.exp - claims.iat, 90, 'JWT_TTL=90s from .env');
  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0);
  t.ok(existsSync(path.join(dir, 'data', 'chat.db')), 'a relative DATABASE_URL is in the working folder');
});
