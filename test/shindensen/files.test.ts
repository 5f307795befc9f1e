import t from 'tap';
import { FileLinks } from '../../src/files/links.js';
import { fileKind } from '../../src/shindensen/model.js';
import { PNG } from '../helpers/files.js';
import { request, startServer } from '../helpers/server.js';
import { AuthResponse, call, FileUploadResponse, statusOf } from '../helpers/shindensen.js';

t.test("POST /upload: a url for as long as the file exists, that only this surface's route takes", async (t) => {
  const server = await startServer(t, { MAX_UPLOAD_BYTES: '1000' });
  const { token } = await call(server, 'POST', '/login', AuthResponse, { body: { username: 'alice' } });
  const form = (bytes: Uint8Array, name: string) => {
    const body = new FormData();
    body.append('file', new Blob([bytes]), name);
    return body;
  };
  const up = await call(server, 'POST', '/upload', FileUploadResponse, { token, form: form(PNG, 'a b.png') });
  t.match(up.url, /^\/files\/\d+\/a%20b\.png\?sig=[\w-]+$/);
  t.notMatch(up.url, /expires/, 'no expiry');

  const get = (path: string, headers: Record<string, string> = {}) => fetch(server.url + path, { headers });
  const ok = await get(up.url);
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('content-type'), 'image/png');
  const [path, sig] = up.url.split('?sig=');
  t.equal((await get(`${path}?sig=${sig.slice(1)}x`)).status, 404, 'a wrong signature says nothing about the file');
  t.equal((await get(path)).status, 401, 'no signature and no token');
  t.equal((await get(path, { authorization: `Bearer ${token}` })).status, 200, 'or the uploader with a token');
  t.equal((await get(`/v1${path}?sig=${sig}`)).status, 404, 'the native route does not take it');
  t.equal((await get(`${path.replace(/\d+/, '999')}?sig=${sig}`)).status, 404, 'nor does another file');

  t.equal(await statusOf(call(server, 'POST', '/upload', FileUploadResponse, { form: form(PNG, 'x.png') })), 401);
  t.equal(await statusOf(call(server, 'POST', '/upload', FileUploadResponse, { token, form: form(new Uint8Array(2000), 'big.bin') })), 413);
  const notMultipart = await request(server, 'POST', '/upload', { token, body: { file: 'x' } });
  t.equal(notMultipart.status, 415);
});

t.test('FileMetadata.type follows the detected content type', async (t) => {
  const kinds: [string, string][] = [
    ['image/png', 'picture'],
    ['video/mp4', 'video'],
    ['audio/ogg', 'audio'],
    ['application/pdf', 'file'],
    ['text/plain', 'file'],
  ];
  for (const [mime, kind] of kinds) t.equal(fileKind(mime), kind, mime);
});

t.test('a send names files only by urls this server made', async (t) => {
  const links = new FileLinks('a-secret-for-this-test-only');
  const url = links.capabilityUrl(7, 'my cat.png');
  t.equal(links.capabilityFileId(url), 7);
  t.equal(links.capabilityFileId(`http://127.0.0.1:3000${url}`), 7, 'a full url too');
  for (const bad of [
    url.replace('sig=', 'sig=x'),
    url.replace('/7/', '/8/'),
    url.replace('my%20cat', 'my%20dog'),
    links.signedUrl(7, 'my cat.png', 1),
    '/files/7/%E0%A4%A?sig=x',
    '/files/7/a/b?sig=x',
    'http://[bad',
    '',
  ]) {
    t.equal(links.capabilityFileId(bad), null, bad);
  }
});
