import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { FileStore } from '../../src/files/storage.js';
import { UploadSweeper } from '../../src/files/sweeper.js';
import { download, upload, uploaded } from '../helpers/files.js';
import { login, pair, postgresUrl, request, startServer, type TestServer } from '../helpers/server.js';
import { expectError } from '../http/support.js';

const storedNames = (server: TestServer) => {
  const dir = path.join(server.config.dataDir, 'uploads');
  return existsSync(dir) ? readdirSync(dir) : [];
};

/** A multipart body streamed in chunks: no Content-Length, so the server learns the size as it reads. */
async function streamedUpload(server: TestServer, token: string, bytes: number) {
  const parts = ['--b\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n', 'y'.repeat(bytes), '\r\n--b--\r\n'];
  const body = new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  const res = await fetch(`${server.url}/v1/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'multipart/form-data; boundary=b' },
    body,
    duplex: 'half',
  } as RequestInit);
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** `POST /upload` of the shindensen surface. */
async function shindensenUpload(server: TestServer, token: string, bytes: Uint8Array) {
  const form = new FormData();
  form.append('file', new Blob([bytes]), 'x.bin');
  const res = await fetch(`${server.url}/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: await res.json() };
}

t.test('UPLOAD_QUOTA_BYTES: the stored bytes of a user’s uploads; past it 413 QUOTA_EXCEEDED, and nothing kept', async (t) => {
  const server = await startServer(t, { UPLOAD_QUOTA_BYTES: '3000' });
  const alice = await login(server, 'alice');
  const bob = await login(server, 'bob');

  t.equal((await upload(server, alice.token, Buffer.alloc(1000, 'a'))).status, 201);
  t.equal((await upload(server, alice.token, Buffer.alloc(1000, 'b'))).status, 201);
  const over = await upload(server, alice.token, Buffer.alloc(1001, 'c'));
  expectError(t, over, 413, 'QUOTA_EXCEEDED');
  t.same(Object.keys(over.body).sort(), ['code', 'error'], 'an {error, code} body');
  t.equal(storedNames(server).length, 2, 'the refused upload left nothing on disk');
  t.equal((await upload(server, alice.token, Buffer.alloc(1000, 'd'))).status, 201, 'exactly up to the quota is fine');
  t.equal((await upload(server, bob.token, Buffer.alloc(3000, 'e'))).status, 201, 'each user has a quota of their own');

  const far = await upload(server, bob.token, Buffer.alloc(200 * 1024, 'f'));
  expectError(t, far, 413, 'QUOTA_EXCEEDED');
  t.equal(far.headers.get('connection'), 'close', 'refused from its Content-Length, unread: the connection is not reused');
  const streamed = await streamedUpload(server, alice.token, 4096);
  expectError(t, streamed, 413, 'QUOTA_EXCEEDED');
  t.equal(streamed.headers.get('connection'), 'close', 'a body of unknown length is cut off');
  t.equal(storedNames(server).length, 4, 'only the accepted files are on disk');

  const compat = await shindensenUpload(server, alice.token, Buffer.alloc(10));
  expectError(t, compat, 413, 'QUOTA_EXCEEDED');
  t.equal(storedNames(server).length, 4);

  const free = await startServer(t, { UPLOAD_QUOTA_BYTES: '0' });
  const carol = await login(free, 'carol');
  t.equal((await upload(free, carol.token, Buffer.alloc(5000))).status, 201, '0: no quota');
});

/** Ten uploads of 20 000 bytes at once against a quota of 100 000: no more than five may be kept. */
async function concurrentUploads(t: Test, servers: TestServer[], token: string) {
  const answers = await Promise.all(
    Array.from({ length: 10 }, (_, i) => upload(servers[i % servers.length]!, token, randomBytes(20_000), `f${i}.bin`)),
  );
  const accepted = answers.filter((res) => res.status === 201);
  const refused = answers.filter((res) => res.status !== 201);
  t.ok(accepted.length >= 1 && accepted.length <= 5, `at most the quota is kept (${accepted.length} of 10 accepted)`);
  for (const res of refused) t.match(res, { status: 413, body: { code: 'QUOTA_EXCEEDED' } });
  const onDisk = servers.reduce((sum, server) => sum + storedNames(server).length, 0);
  t.equal(onDisk, accepted.length, 'the refused uploads left nothing on disk');
  const more = await upload(servers[0]!, token, Buffer.alloc(20_000 * Math.max(0, 5 - accepted.length) + 1));
  t.equal(more.status, 413, 'and the quota holds afterwards');
}

t.test('concurrent uploads by one user cannot each see room under the quota', async (t) => {
  const server = await startServer(t, { UPLOAD_QUOTA_BYTES: '100000' });
  const alice = await login(server, 'alice');
  await concurrentUploads(t, [server], alice.token);
});

if (postgresUrl) {
  t.test('on PostgreSQL, across two processes', async (t) => {
    const one = await startServer(t, { UPLOAD_QUOTA_BYTES: '100000' }, { postgres: true });
    const two = await startServer(t, { UPLOAD_QUOTA_BYTES: '100000', DATABASE_URL: one.config.databaseUrl });
    const alice = await login(one, 'alice');
    await concurrentUploads(t, [one, two], alice.token);
  });
}

t.test('UPLOAD_MIN_FREE_BYTES: below the floor, uploads get 507 INSUFFICIENT_STORAGE', async (t) => {
  const server = await startServer(t, { UPLOAD_MIN_FREE_BYTES: String(2 ** 52) });
  const alice = await login(server, 'alice');
  const res = await upload(server, alice.token, 'hello');
  expectError(t, res, 507, 'INSUFFICIENT_STORAGE');
  t.equal(res.headers.get('connection'), 'close', 'refused unread');
  expectError(t, await shindensenUpload(server, alice.token, Buffer.from('hello')), 507, 'INSUFFICIENT_STORAGE');
  t.same(storedNames(server), [], 'nothing kept');

  const roomy = await startServer(t, { UPLOAD_MIN_FREE_BYTES: '0' });
  const bob = await login(roomy, 'bob');
  t.equal((await upload(roomy, bob.token, 'hello')).status, 201, '0: no floor');
});

t.test('UPLOAD_UNATTACHED_TTL: the sweep deletes uploads no message references, and gives back quota', async (t) => {
  const server = await startServer(t, { UPLOAD_UNATTACHED_TTL: '1s', UPLOAD_QUOTA_BYTES: '300' });
  const { alice, chatId } = await pair(server);
  const send = (files: number[]) => request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'see', files } });
  const attached = await uploaded(server, alice.token, Buffer.alloc(100, 'a'), 'kept.txt');
  const ofDeleted = await uploaded(server, alice.token, Buffer.alloc(100, 'd'), 'deleted.txt');
  const loose = await uploaded(server, alice.token, Buffer.alloc(100, 'l'), 'loose.txt');
  t.equal((await send([attached.id])).status, 201);
  const deleted = await send([ofDeleted.id]);
  t.equal((await request(server, 'DELETE', `/v1/chats/${chatId}/messages/${deleted.body.id}`, { token: alice.token })).status, 204);
  expectError(t, await upload(server, alice.token, 'x'), 413, 'QUOTA_EXCEEDED');
  t.equal(storedNames(server).length, 3);

  for (let i = 0; i < 100 && storedNames(server).length > 1; i++) await setTimeout(50);
  t.equal(storedNames(server).length, 1, 'the sweep ran by itself and removed two files');
  // Checked in the database: a keep-alive connection whose last answer streamed a file was seen to
  // hold up the server's close now and then.
  t.ok(await server.app.files.find(attached.id), 'the attached file is kept, its bytes the one left on disk');
  t.equal((await download(server, loose.url)).status, 404, 'the unattached one is gone, row and bytes');
  t.equal((await download(server, ofDeleted.url)).status, 404, 'and so is the file of a deleted message');
  const history = await request(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
  t.same(history.body.map((m: { files: { id: number }[] }) => m.files.map((f) => f.id)), [[attached.id], []]);
  t.equal((await upload(server, alice.token, Buffer.alloc(200))).status, 201, 'their bytes no longer count against the quota');
});

t.test('sweeps on several processes at once each delete a file once; pages of many uploads', async (t) => {
  const server = await startServer(t, {}, postgresUrl ? { postgres: true } : {});
  const { alice, chatId } = await pair(server);
  const attached = await uploaded(server, alice.token, 'kept', 'kept.txt');
  await request(server, 'POST', `/v1/chats/${chatId}/messages`, { token: alice.token, body: { content: 'see', files: [attached.id] } });
  const loose = await uploaded(server, alice.token, 'loose', 'loose.txt');
  // Rows with no bytes behind them, enough for several pages.
  const rows = Array.from({ length: 1200 }, () => ({
    uploader_id: alice.user.id,
    stored_name: randomBytes(16).toString('hex'),
    filename: 'row.bin',
    mime_type: 'application/octet-stream',
    size_bytes: 1,
    created_at: new Date().toISOString(),
  }));
  for (let i = 0; i < rows.length; i += 400) await server.app.db.kysely.insertInto('files').values(rows.slice(i, i + 400)).execute();

  const store = new FileStore(path.join(server.config.dataDir, 'uploads'));
  const log = { error: (...args: unknown[]) => t.fail(`logged: ${JSON.stringify(args)}`) };
  const sweepers = [1, 2, 3].map(() => new UploadSweeper(server.app.files, store, 3600, log));
  const later = Date.now() + 2 * 3600 * 1000;
  t.same(await sweepers[0]!.sweep(Date.now()), 0, 'nothing is old enough yet');
  const removed = await Promise.all(sweepers.map((sweeper) => sweeper.sweep(later)));
  t.equal(removed.reduce((a, b) => a + b, 0), rows.length + 1, 'every unattached upload deleted, each by one sweep');
  t.ok(await server.app.files.find(attached.id), 'the attached file is kept, its bytes the one left on disk');
  t.notOk(await server.app.files.find(loose.id));
  t.equal(storedNames(server).length, 1);
});
