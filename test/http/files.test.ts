import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import t from 'tap';
import { FileLinks } from '../../src/files/links.js';
import { download, PNG, postForm, unsigned, upload, uploaded } from '../helpers/files.js';
import { login, pair, request, startServer, type Session } from '../helpers/server.js';
import { connect } from '../helpers/ws-client.js';
import { call, expectError, RFC3339_MS, TEST_JWT_SECRET } from './support.js';

// One server: every subtest works with users and chats of its own.
const server = await startServer(t);
const uploadsDir = path.join(server.config.dataDir, 'uploads');

let counter = 0;
/** A direct chat between two fresh users, and a third who is in no chat with them. */
async function chat() {
  counter += 1;
  const { alice, bob, chatId } = await pair(server, `falice${counter}`, `fbob${counter}`);
  const eve = await login(server, `feve${counter}`);
  return { alice, bob, eve, chatId };
}

async function send(session: Session, chatId: number, body: Record<string, unknown>) {
  return call(server, 'POST', `/v1/chats/${chatId}/messages`, { token: session.token, body });
}

const storedNames = () => (existsSync(uploadsDir) ? readdirSync(uploadsDir) : []);

t.test('POST /upload: 201 with the file object; the bytes are kept under a name of the server’s own', async (t) => {
  const { alice } = await chat();
  const before = new Set(storedNames());
  const res = await upload(server, alice.token, PNG, 'cat.png', 'image/png');
  t.equal(res.status, 201);
  t.match(res.body, {
    id: Number,
    url: new RegExp(`^/v1/files/${res.body.id}/cat\\.png\\?expires=\\d+&u=${alice.user.id}&sig=[\\w-]+$`),
    filename: 'cat.png',
    mime_type: 'image/png',
    size_bytes: PNG.length,
    created_at: RFC3339_MS,
  });
  t.same(Object.keys(res.body).sort(), ['created_at', 'filename', 'id', 'mime_type', 'size_bytes', 'url']);
  const expires = Number(new URL(res.body.url, server.url).searchParams.get('expires'));
  const lifetime = expires - Date.now() / 1000;
  t.ok(lifetime >= 3590 && lifetime <= 3900, `the url is signed for about an hour (${Math.round(lifetime)} s)`);

  const added = storedNames().filter((name) => !before.has(name));
  t.equal(added.length, 1, 'one file stored');
  t.match(added[0], /^[0-9a-f]{32}$/, 'a random name');
  t.notMatch(added[0], /cat|png/, 'nothing of the client’s name');
  t.same(readFileSync(path.join(uploadsDir, added[0]!)), PNG, 'the bytes as sent');
});

t.test('the client’s file name is kept for display only: no path, no control characters, 255 characters at most', async (t) => {
  const { alice } = await chat();
  const cases: [string, string][] = [
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\photo.png', 'photo.png'],
    ['/var/tmp/../report.txt', 'report.txt'],
    ['bell\u0007 and \u202Egnp.exe', 'bell and gnp.exe'],
    ['..', 'file'],
    ['résumé 2026 (final).txt', 'résumé 2026 (final).txt'],
  ];
  for (const [sent, kept] of cases) {
    const file = await uploaded(server, alice.token, 'some text', sent);
    t.equal(file.filename, kept, JSON.stringify(sent));
    const got = await download(server, file.url);
    t.equal(got.status, 200, `its url works (${JSON.stringify(kept)})`);
  }
  const long = `${'x'.repeat(300)}.txt`;
  const file = await uploaded(server, alice.token, 'long', long);
  t.equal(file.filename, `${'x'.repeat(251)}.txt`, 'cut to 255 characters, the extension kept');
  t.equal((await download(server, file.url)).status, 200, 'a 255-character name still routes');
  t.ok(storedNames().every((name) => /^[0-9a-f]{32}$/.test(name)), 'every stored name is the server’s');
});

t.test('POST /upload: 413 over MAX_UPLOAD_BYTES, and nothing is kept', async (t) => {
  const small = await startServer(t, { MAX_UPLOAD_BYTES: '1024' });
  const alice = await login(small, 'alice');
  const dir = path.join(small.config.dataDir, 'uploads');

  const exact = await upload(small, alice.token, Buffer.alloc(1024, 'a'), 'exact.txt');
  t.equal(exact.status, 201, 'exactly the limit is fine');
  t.equal(exact.body.size_bytes, 1024);

  const over = await upload(small, alice.token, Buffer.alloc(1025, 'a'), 'over.txt');
  expectError(t, over, 413, 'PAYLOAD_TOO_LARGE');
  const far = await upload(small, alice.token, Buffer.alloc(200 * 1024, 'a'), 'far.txt');
  expectError(t, far, 413, 'PAYLOAD_TOO_LARGE');
  t.equal(far.headers.get('connection'), 'close', 'refused unread: the connection is not reused');
  t.equal(readdirSync(dir).length, 1, 'only the accepted file is on disk: the partial ones were deleted');
  t.equal((await upload(small, alice.token, 'still fine', 'after.txt')).status, 201, 'the server goes on');
});

t.test('POST /upload: 400 without a file field, or with anything else', async (t) => {
  const { alice } = await chat();
  const before = storedNames().length;

  const empty = new FormData();
  expectError(t, await postForm(server, alice.token, empty), 400, undefined);

  const text = new FormData();
  text.append('file', 'not a file');
  expectError(t, await postForm(server, alice.token, text), 400, 'VALIDATION_ERROR', 'file');

  const other = new FormData();
  other.append('attachment', new Blob(['x']), 'x.txt');
  expectError(t, await postForm(server, alice.token, other), 400, 'VALIDATION_ERROR', 'attachment');

  const two = new FormData();
  two.append('file', new Blob(['one']), 'one.txt');
  two.append('file', new Blob(['two']), 'two.txt');
  expectError(t, await postForm(server, alice.token, two), 400, 'VALIDATION_ERROR', 'file');

  const extra = new FormData();
  extra.append('file', new Blob(['one']), 'one.txt');
  extra.append('note', 'hello');
  expectError(t, await postForm(server, alice.token, extra), 400, 'VALIDATION_ERROR', 'note');

  const many = new FormData();
  for (let i = 0; i < 20; i++) many.append(`f${i}`, 'x');
  expectError(t, await postForm(server, alice.token, many), 400, 'VALIDATION_ERROR');

  const broken = await fetch(`${server.url}/v1/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data; boundary=xyz' },
    body: '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nno end',
  });
  expectError(t, { status: broken.status, body: await broken.json() }, 400, 'INVALID_MULTIPART');

  const noBoundary = await fetch(`${server.url}/v1/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data' },
    body: 'x',
  });
  expectError(t, { status: noBoundary.status, body: await noBoundary.json() }, 400, 'INVALID_MULTIPART');

  t.equal(storedNames().length, before, 'no refused upload left a file');
});

t.test('POST /upload: 401 without a token, 415 for a body that is not multipart', async (t) => {
  const { alice } = await chat();
  expectError(t, await upload(server, undefined, PNG, 'cat.png'), 401, 'UNAUTHORIZED');
  expectError(t, await upload(server, 'not-a-token', PNG, 'cat.png'), 401, 'INVALID_TOKEN');
  expectError(t, await request(server, 'POST', '/v1/upload', { token: alice.token, body: { file: 'x' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  expectError(
    t,
    await request(server, 'POST', '/v1/upload', { token: alice.token, body: 'plain', headers: { 'content-type': 'text/plain' } }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  expectError(
    t,
    await request(server, 'POST', '/v1/upload', { token: alice.token, body: 'raw', headers: { 'content-type': 'application/octet-stream' } }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  expectError(t, await request(server, 'POST', '/v1/upload', { token: alice.token }), 415, 'UNSUPPORTED_MEDIA_TYPE');
  // Only /upload reads multipart: other routes still refuse it.
  const form = new FormData();
  form.append('content', 'hi');
  const res = await fetch(`${server.url}/v1/me`, { method: 'PATCH', headers: { authorization: `Bearer ${alice.token}` }, body: form });
  t.equal(res.status, 415, 'multipart elsewhere is a 415');
});

t.test('GET /files: the uploader with a token; anyone with the signed url; nobody else', async (t) => {
  const { alice, bob, eve } = await chat();
  const file = await uploaded(server, alice.token, PNG, 'cat.png');

  const own = await download(server, unsigned(file.url), alice.token);
  t.equal(own.status, 200, 'the uploader, with a bearer token');
  t.same(own.bytes, PNG);

  const signed = await download(server, file.url);
  t.equal(signed.status, 200, 'the signed url, with no header (as an <img src>)');
  t.same(signed.bytes, PNG);
  t.equal(signed.headers.get('content-length'), String(PNG.length));
  t.match(signed.headers.get('cache-control'), /^private\b/);

  expectError(t, await request(server, 'GET', unsigned(file.url), { token: bob.token }), 404, 'FILE_NOT_FOUND');
  expectError(t, await request(server, 'GET', unsigned(file.url), { token: eve.token }), 404, 'FILE_NOT_FOUND');
  expectError(t, await request(server, 'GET', unsigned(file.url)), 401, 'UNAUTHORIZED');
  expectError(t, await request(server, 'GET', unsigned(file.url), { token: 'bad' }), 401, 'INVALID_TOKEN');

  const query = new URL(file.url, server.url).searchParams;
  const sig = query.get('sig')!;
  const expires = query.get('expires')!;
  const u = query.get('u')!;
  const base = unsigned(file.url);
  const forged = `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
  for (const [what, url] of [
    ['a forged signature', `${base}?expires=${expires}&u=${u}&sig=${forged}`],
    ['a later expiry', `${base}?expires=${Number(expires) + 3600}&u=${u}&sig=${sig}`],
    ['no expiry', `${base}?u=${u}&sig=${sig}`],
    ['no user', `${base}?expires=${expires}&sig=${sig}`],
    ['another user', `${base}?expires=${expires}&u=${bob.user.id}&sig=${sig}`],
    ['another file name', `/v1/files/${file.id}/dog.png?expires=${expires}&u=${u}&sig=${sig}`],
    ['another file', `/v1/files/${file.id + 1000}/cat.png?expires=${expires}&u=${u}&sig=${sig}`],
  ]) {
    expectError(t, await request(server, 'GET', url!), 404, 'FILE_NOT_FOUND');
    t.pass(`refused: ${what}`);
  }
  const expired = new FileLinks(TEST_JWT_SECRET).signedUrl(file.id, file.filename, alice.user.id, Date.now() - 2 * 3600 * 1000);
  expectError(t, await request(server, 'GET', expired), 404, 'FILE_NOT_FOUND');
  t.equal((await download(server, expired, alice.token)).status, 200, 'an expired url still works with the uploader’s token');
  const elsewhere = new FileLinks('another-secret-that-is-long-enough-for-tests').signedUrl(file.id, file.filename, alice.user.id);
  expectError(t, await request(server, 'GET', elsewhere), 404, 'FILE_NOT_FOUND');

  expectError(t, await request(server, 'GET', `/v1/files/999999/x.png`, { token: alice.token }), 404, 'FILE_NOT_FOUND');
  expectError(t, await request(server, 'GET', `/v1/files/${file.id}/other.png`, { token: alice.token }), 404, 'FILE_NOT_FOUND');
  expectError(t, await request(server, 'GET', `/v1/files/${file.id}/a/cat.png`, { token: alice.token }), 404, 'FILE_NOT_FOUND');
});

t.test('a chat member may download a file once it is attached in the chat', async (t) => {
  const { alice, bob, eve, chatId } = await chat();
  const file = await uploaded(server, alice.token, PNG, 'cat.png');
  expectError(t, await request(server, 'GET', unsigned(file.url), { token: bob.token }), 404, 'FILE_NOT_FOUND');

  const sent = await send(alice, chatId, { content: 'look', files: [file.id] });
  t.equal(sent.status, 201);
  const got = await download(server, unsigned(file.url), bob.token);
  t.equal(got.status, 200, 'bob, with his token');
  t.same(got.bytes, PNG);
  expectError(t, await request(server, 'GET', unsigned(file.url), { token: eve.token }), 404, 'FILE_NOT_FOUND');

  const history = await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.equal((await download(server, history.body[0].files[0].url)).status, 200, 'the url in the history is signed');

  // A deleted message takes its files with it, for the other members.
  await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${sent.body.id}`, { token: alice.token });
  expectError(t, await request(server, 'GET', unsigned(file.url), { token: bob.token }), 404, 'FILE_NOT_FOUND');
  t.equal((await download(server, unsigned(file.url), alice.token)).status, 200, 'the uploader keeps it');
  const after = await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.same(after.body[0].files, [], 'the tombstone has no files');
});

t.test('a signed url is made for one user, and stops working once they can no longer see the file', async (t) => {
  counter += 1;
  const [ann, ben, cat] = await Promise.all(['ann', 'ben', 'cat'].map((name) => login(server, `fleave${name}${counter}`)));
  const group = await call(server, 'POST', '/v1/chats', { token: ann!.token, body: { name: 'Leavers', members: [ben!.user.id, cat!.user.id] } });
  const chatId: number = group.body.id;
  const file = await uploaded(server, ann!.token, PNG, 'cat.png');
  const benSocket = await connect(t, server, ben!);
  const sent = await send(ann!, chatId, { content: 'look', files: [file.id] });
  const madeFor = (url: string) => Number(new URL(url, server.url).searchParams.get('u'));
  t.equal(madeFor(sent.body.files[0].url), ann!.user.id, 'the send answers with the sender’s urls');

  const live = await benSocket.nextOfType('message');
  const history = await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: ben!.token });
  const chats = await call(server, 'GET', '/v1/chats', { token: ben!.token });
  const replaying = await connect(t, server, ben!);
  replaying.send({ type: 'resume', after: sent.body.id - 1 });
  const replayed = await replaying.nextOfType('message');
  const bens: [string, string][] = [
    ['the live frame', live.files[0].url],
    ['the history', history.body[0].files[0].url],
    ['last_message', chats.body.find((c: { id: number }) => c.id === chatId).last_message.files[0].url],
    ['the replay', replayed.files[0].url],
  ];
  for (const [where, url] of bens) {
    t.equal(madeFor(url), ben!.user.id, `${where}: made for ben`);
    t.equal((await download(server, url)).status, 200, `${where}: works`);
  }
  const cats = (await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: cat!.token })).body[0].files[0].url;
  t.equal(madeFor(cats), cat!.user.id);

  await call(server, 'DELETE', `/v1/chats/${chatId}/members/${ben!.user.id}`, { token: ben!.token });
  for (const [where, url] of bens) {
    expectError(t, await request(server, 'GET', url), 404, 'FILE_NOT_FOUND');
    t.pass(`ben left: ${where} no longer works`);
  }
  t.equal((await download(server, cats)).status, 200, 'the urls of those still in the chat work');
  t.equal((await download(server, sent.body.files[0].url)).status, 200, 'and so do the uploader’s');

  await call(server, 'DELETE', `/v1/chats/${chatId}/messages/${sent.body.id}`, { token: ann!.token });
  expectError(t, await request(server, 'GET', cats), 404, 'FILE_NOT_FOUND');
  t.pass('the message deleted, the other members’ urls no longer work');
  t.equal((await download(server, sent.body.files[0].url)).status, 200, 'the uploader’s still do');
});

t.test('the content type is detected from the bytes; only images and PDF are shown inline', async (t) => {
  const { alice } = await chat();
  const check = async (bytes: Uint8Array | string, name: string, sentType: string, type: string, disposition: 'inline' | 'attachment') => {
    const res = await upload(server, alice.token, bytes, name, sentType);
    t.equal(res.status, 201);
    t.equal(res.body.mime_type, type, `${name}: ${type}`);
    const got = await download(server, res.body.url);
    t.equal(got.status, 200);
    t.equal(got.headers.get('content-type'), type === 'text/plain' ? 'text/plain; charset=utf-8' : type, `${name}: served as ${type}`);
    t.match(got.headers.get('content-disposition'), new RegExp(`^${disposition}; filename=`), `${name}: ${disposition}`);
    t.equal(got.headers.get('x-content-type-options'), 'nosniff', `${name}: nosniff`);
    return got;
  };
  await check(PNG, 'cat.png', 'image/png', 'image/png', 'inline');
  await check(PNG, 'cat.txt', 'text/plain', 'image/png', 'inline');
  await check(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46]), 'photo.jpg', 'image/jpeg', 'image/jpeg', 'inline');
  await check('GIF89a\x01\x00\x01\x00', 'anim.gif', 'image/gif', 'image/gif', 'inline');
  await check(Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]), 'pic.webp', 'image/webp', 'image/webp', 'inline');
  await check('%PDF-1.7\n%âãÏÓ\n', 'doc.pdf', 'application/pdf', 'application/pdf', 'inline');
  const html = await check('<html><script>alert(1)</script></html>', 'page.html', 'text/html', 'text/plain', 'attachment');
  t.not(html.headers.get('content-type'), 'text/html');
  t.match(html.headers.get('content-security-policy'), /sandbox/, 'and sandboxed if opened anyway');
  await check('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 'logo.svg', 'image/svg+xml', 'text/plain', 'attachment');
  await check(Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03]), 'setup.exe', 'image/png', 'application/octet-stream', 'attachment');
  await check(Buffer.from([0xc3, 0x28]), 'latin.txt', 'text/plain', 'application/octet-stream', 'attachment');
  const named = await check('héllo', "résumé 'v2' 100%.txt", 'text/plain', 'text/plain', 'attachment');
  t.equal(
    named.headers.get('content-disposition'),
    `attachment; filename="r_sum_ 'v2' 100_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%27v2%27%20100%25.txt`,
    'the name in ASCII and in UTF-8',
  );
});

t.test('a send over REST carries files; the message shows them everywhere it is rendered', async (t) => {
  const { alice, bob, chatId } = await chat();
  const first = await uploaded(server, alice.token, PNG, 'one.png');
  const second = await uploaded(server, alice.token, 'notes', 'two.txt');

  const sent = await send(alice, chatId, { content: 'two files', files: [second.id, first.id], client_id: 'f-1' });
  t.equal(sent.status, 201);
  t.match(sent.body.files, [
    { id: second.id, filename: 'two.txt', mime_type: 'text/plain', size_bytes: 5, created_at: RFC3339_MS, url: /^\/v1\/files\// },
    { id: first.id, filename: 'one.png', mime_type: 'image/png', size_bytes: PNG.length },
  ]);
  t.equal(sent.body.files.length, 2, 'in the order sent');

  const repeat = await send(alice, chatId, { content: 'two files', files: [second.id, first.id], client_id: 'f-1' });
  t.equal(repeat.body.id, sent.body.id, 'a repeated client_id answers with the first message…');
  t.same(repeat.body.files.map((f: { id: number }) => f.id), [second.id, first.id], '…and its files');

  const plain = await send(alice, chatId, { content: 'no files' });
  t.same(plain.body.files, [], 'a send without files has none');

  const history = await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: bob.token });
  t.same(history.body.map((m: { files: { id: number }[] }) => m.files.map((f) => f.id)), [[second.id, first.id], []]);
  for (const file of history.body[0].files) t.equal((await download(server, file.url)).status, 200, `${file.filename} opens from the history`);

  const sentAgain = await send(bob, chatId, { content: 'reply', files: [] });
  t.equal(sentAgain.status, 201, 'an empty list is fine');
  const last = await uploaded(server, bob.token, PNG, 'last.png');
  await send(bob, chatId, { content: 'last', files: [last.id] });
  const chats = await call(server, 'GET', '/v1/chats', { token: alice.token });
  const listed = chats.body.find((c: { id: number }) => c.id === chatId);
  t.match(listed.last_message, { content: 'last', files: [{ id: last.id, filename: 'last.png', url: /^\/v1\/files\// }] }, 'GET /chats last_message');
  t.equal((await download(server, listed.last_message.files[0].url)).status, 200);
  const one = await call(server, 'GET', `/v1/chats/${chatId}`, { token: alice.token });
  t.same(one.body.last_message.files.map((f: { id: number }) => f.id), [last.id], 'GET /chats/:id last_message');

  const edited = await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${sent.body.id}`, { token: alice.token, body: { content: 'edited' } });
  t.same(edited.body.files.map((f: { id: number }) => f.id), [second.id, first.id], 'an edit keeps the files');
});

t.test('a send with files of someone else, unknown, repeated or too many is refused', async (t) => {
  const { alice, bob, chatId } = await chat();
  const bobs = await uploaded(server, bob.token, PNG, 'bob.png');
  const mine = await Promise.all(Array.from({ length: 11 }, (_, i) => uploaded(server, alice.token, `file ${i}`, `f${i}.txt`)));

  expectError(t, await send(alice, chatId, { content: 'x', files: [bobs.id] }), 400, 'FILE_NOT_FOUND', 'files');
  expectError(t, await send(alice, chatId, { content: 'x', files: [mine[0]!.id, 99_999_999] }), 400, 'FILE_NOT_FOUND', 'files');
  expectError(t, await send(alice, chatId, { content: 'x', files: mine.map((f) => f.id) }), 400, 'VALIDATION_ERROR', 'files');
  expectError(t, await send(alice, chatId, { content: 'x', files: [mine[0]!.id, mine[0]!.id] }), 400, 'VALIDATION_ERROR', 'files');
  expectError(t, await send(alice, chatId, { content: 'x', files: ['1'] }), 400, 'VALIDATION_ERROR', 'files.0');
  expectError(t, await send(alice, chatId, { files: [mine[0]!.id] }), 400, 'VALIDATION_ERROR', 'content');

  const ten = await send(alice, chatId, { content: 'ten', files: mine.slice(0, 10).map((f) => f.id) });
  t.equal(ten.status, 201, 'ten is the most');
  t.equal(ten.body.files.length, 10);
  const history = await call(server, 'GET', `/v1/chats/${chatId}/messages`, { token: alice.token });
  t.same(history.body.map((m: { content: string }) => m.content), ['ten'], 'nothing else was stored');
  expectError(t, await request(server, 'GET', unsigned(bobs.url), { token: alice.token }), 404, 'FILE_NOT_FOUND');
});

t.test('a send over the WebSocket carries files; the live frame, the replay and edits show them', async (t) => {
  const { alice, bob, eve, chatId } = await chat();
  const bobSocket = await connect(t, server, bob);
  const aliceSocket = await connect(t, server, alice);
  const file = await uploaded(server, alice.token, PNG, 'live.png');

  aliceSocket.send({ chat_id: chatId, content: 'over ws', client_id: 'w-1', files: [file.id] });
  const echo = await aliceSocket.nextOfType('message');
  const live = await bobSocket.nextOfType('message');
  for (const frame of [echo, live]) {
    t.match(frame, { type: 'message', content: 'over ws', files: [{ id: file.id, filename: 'live.png', mime_type: 'image/png', url: /^\/v1\/files\// }] });
  }
  t.equal((await download(server, live.files[0].url)).status, 200, 'the url in the live frame works with no header');
  t.equal((await download(server, unsigned(live.files[0].url), bob.token)).status, 200, 'bob may download it with his token');

  const restFile = await uploaded(server, alice.token, 'from rest', 'rest.txt');
  await send(alice, chatId, { content: 'over rest', files: [restFile.id] });
  t.match(await bobSocket.nextOfType('message'), { content: 'over rest', files: [{ id: restFile.id }] }, 'a REST send’s frame too');

  const evesFile = await uploaded(server, eve.token, 'eve', 'eve.txt');
  aliceSocket.send({ chat_id: chatId, content: 'not mine', client_id: 'w-2', files: [evesFile.id] });
  t.match(await aliceSocket.nextOfType('error'), { code: 'FILE_NOT_FOUND', field: 'files', client_id: 'w-2' });
  aliceSocket.send({ chat_id: chatId, content: 'too many', client_id: 'w-3', files: Array.from({ length: 11 }, (_, i) => i + 1) });
  t.match(await aliceSocket.nextOfType('error'), { code: 'VALIDATION_ERROR', field: 'files', client_id: 'w-3' });

  await call(server, 'PATCH', `/v1/chats/${chatId}/messages/${echo.id}`, { token: alice.token, body: { content: 'edited' } });
  t.match(await bobSocket.nextOfType('message_updated'), { message: { id: echo.id, content: 'edited', files: [{ id: file.id }] } });

  const later = await connect(t, server, bob);
  later.send({ type: 'resume', after: echo.id - 1 });
  const replayed = [await later.nextOfType('message'), await later.nextOfType('message')];
  t.same(replayed.map((m) => m.files.map((f: { id: number }) => f.id)), [[file.id], [restFile.id]], 'the replay carries the files');
  t.equal((await download(server, replayed[0]!.files[0].url)).status, 200, 'with fresh signed urls');
  t.match(await later.nextOfType('resumed'), { complete: true });
});

t.test('an upload cut off midway leaves no file behind', async (t) => {
  const own = await startServer(t);
  const alice = await login(own, 'alice');
  const dir = path.join(own.config.dataDir, 'uploads');
  const { port } = new URL(own.url);
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  const head = '--b\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n';
  socket.write(
    `POST /v1/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\n` +
      `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n${head}`,
  );
  socket.write(Buffer.alloc(30_000, 'x'));
  for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).length > 0); i++) await setTimeout(10);
  t.equal(readdirSync(dir).length, 1, 'the file is being written');
  socket.destroy();
  for (let i = 0; i < 200 && readdirSync(dir).length > 0; i++) await setTimeout(10);
  t.same(readdirSync(dir), [], 'and deleted when the client went away');
  t.equal((await upload(own, alice.token, 'fine', 'next.txt')).status, 201, 'the server goes on');
});

t.test('a streamed upload (no Content-Length) over the limit is cut off with 413', async (t) => {
  const small = await startServer(t, { MAX_UPLOAD_BYTES: '1024' });
  const alice = await login(small, 'alice');
  const parts = [
    '--b\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n\r\n',
    'y'.repeat(4096),
    '\r\n--b--\r\n',
  ];
  const body = new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  const res = await fetch(`${small.url}/v1/upload`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data; boundary=b' },
    body,
    duplex: 'half',
  } as RequestInit);
  expectError(t, { status: res.status, body: await res.json() }, 413, 'PAYLOAD_TOO_LARGE');
  t.equal(res.headers.get('connection'), 'close');
  t.same(readdirSync(path.join(small.config.dataDir, 'uploads')), [], 'nothing kept');
});

t.test('the server’s own failures: bytes gone from disk, a folder it cannot write', async (t) => {
  const { alice } = await chat();
  const before = new Set(storedNames());
  const file = await uploaded(server, alice.token, 'soon gone', 'gone.txt');
  const [stored] = storedNames().filter((name) => !before.has(name));
  rmSync(path.join(uploadsDir, stored!));
  expectError(t, await request(server, 'GET', file.url), 404, 'FILE_NOT_FOUND');

  const broken = await startServer(t);
  writeFileSync(path.join(broken.config.dataDir, 'uploads'), 'a file where the folder should be');
  const bob = await login(broken, 'bob');
  const res = await upload(broken, bob.token, 'x', 'x.txt');
  expectError(t, res, 500, 'INTERNAL_ERROR');
  t.notMatch(res.body.error, /uploads|EEXIST|ENOTDIR/, 'no details of the server');
});

t.test('a field named __proto__ is refused', async (t) => {
  const { alice } = await chat();
  const form = new FormData();
  form.append('__proto__', 'x');
  form.append('file', new Blob(['x']), 'x.txt');
  expectError(t, await postForm(server, alice.token, form), 400, 'INVALID_MULTIPART');
});

t.test('closing while a download still streams to a keep-alive client does not wait for its keep-alive timeout', async (t) => {
  const server = await startServer(t, { MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) });
  const alice = await login(server, 'alice');
  const file = await uploaded(server, alice.token, new Uint8Array(32 * 1024 * 1024), 'big.bin');
  // The answer's headers are here, its bytes still on their way, when the server starts to close.
  const res = await fetch(server.url + file.url);
  t.equal(res.status, 200);
  const closed = server.app.close();
  t.equal((await res.arrayBuffer()).byteLength, 32 * 1024 * 1024, 'the download completes');
  // Before, the connection went idle after Fastify's one sweep of idle connections, and the close
  // waited 72 s for it (the test's timeout ends it first).
  await closed;
});
