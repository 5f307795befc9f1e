import t from 'tap';
import { contentDisposition, sanitizeFilename } from '../../src/files/filename.js';
import { FileLinks, URL_TTL_SECONDS } from '../../src/files/links.js';
import { isInline, Sniffer } from '../../src/files/sniff.js';

/** The type detected for `bytes` fed in chunks of `size` bytes. */
function sniff(bytes: Buffer | string, size = 3): string {
  const buffer = Buffer.from(bytes);
  const sniffer = new Sniffer();
  for (let i = 0; i < buffer.length; i += size) sniffer.update(buffer.subarray(i, i + size));
  return sniffer.mimeType();
}

t.test('Sniffer: magic numbers first, then UTF-8 text, else bytes', async (t) => {
  t.equal(sniff(Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex')), 'image/png');
  t.equal(sniff(Buffer.from('ffd8ffdb', 'hex')), 'image/jpeg');
  t.equal(sniff('GIF87a...'), 'image/gif');
  t.equal(sniff('GIF89a...'), 'image/gif');
  t.equal(sniff('RIFF\x24\x00\x00\x00WEBPVP8 '), 'image/webp');
  t.equal(sniff('RIFF1234WAVEfmt '), 'text/plain', 'RIFF that is not WEBP');
  t.equal(sniff('%PDF-1.4\n'), 'application/pdf');
  t.equal(sniff('<!doctype html><script>alert(1)</script>'), 'text/plain', 'HTML is only text');
  t.equal(sniff('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'text/plain', 'so is SVG');
  t.equal(sniff('€ and ü, split across chunks', 1), 'text/plain', 'multi-byte characters cut by chunks');
  t.equal(sniff(''), 'text/plain', 'an empty file');
  t.equal(sniff('text\u0000with a NUL'), 'application/octet-stream');
  t.equal(sniff(Buffer.from([0x61, 0xff, 0x62])), 'application/octet-stream', 'not UTF-8');
  t.equal(sniff(Buffer.from([0x61, 0x62, 0xe2, 0x82])), 'application/octet-stream', 'a character cut off at the end');
  t.equal(sniff(Buffer.from('ffd8', 'hex')), 'application/octet-stream', 'too short to be a JPEG');
  t.equal(sniff(Buffer.from('89504e47', 'hex'), 1), 'application/octet-stream', 'half a PNG signature');
});

t.test('isInline: images and PDF only', async (t) => {
  for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf']) t.ok(isInline(type), type);
  for (const type of ['text/plain', 'text/html', 'image/svg+xml', 'application/octet-stream']) t.notOk(isInline(type), type);
});

t.test('sanitizeFilename', async (t) => {
  const cases: [string | undefined, string][] = [
    ['photo.png', 'photo.png'],
    ['a/b/c.txt', 'c.txt'],
    ['a\\b\\c.txt', 'c.txt'],
    ['dir/', 'file'],
    ['.', 'file'],
    ['..', 'file'],
    ['', 'file'],
    [undefined, 'file'],
    ['  spaced.txt  ', 'spaced.txt'],
    ['tab\there.txt', 'tabhere.txt'],
    ['new\r\nline.txt', 'newline.txt'],
    ['\u0000\u001f\u007f\u0085.txt', '.txt'],
    ['evil\u202egnp.exe', 'evilgnp.exe'],
    ['e\u0301te\u0301.txt', 'été.txt'],
    ['😀 smile.png', '😀 smile.png'],
  ];
  for (const [raw, kept] of cases) t.equal(sanitizeFilename(raw), kept, JSON.stringify(raw));

  const long = sanitizeFilename(`${'a'.repeat(300)}.jpeg`);
  t.equal(long, `${'a'.repeat(250)}.jpeg`, 'the extension survives the cut');
  t.equal(sanitizeFilename('b'.repeat(300)), 'b'.repeat(255), 'no extension: a plain cut');
  t.equal(sanitizeFilename(`c.${'d'.repeat(300)}`), `c.${'d'.repeat(253)}`, 'an "extension" too long to keep');
  t.equal(sanitizeFilename(`.${'e'.repeat(300)}`), `.${'e'.repeat(254)}`, 'a dot file');
  const emoji = sanitizeFilename('😀'.repeat(300));
  t.equal(Array.from(emoji).length, 255, 'counted in characters, never splitting one');
  t.equal(emoji, '😀'.repeat(255));
});

t.test('contentDisposition', async (t) => {
  t.equal(contentDisposition('inline', 'cat.png'), `inline; filename="cat.png"; filename*=UTF-8''cat.png`);
  t.equal(
    contentDisposition('attachment', 'a "b" \\ ü (1)*.txt'),
    `attachment; filename="a _b_ _ _ (1)*.txt"; filename*=UTF-8''a%20%22b%22%20%5C%20%C3%BC%20%281%29%2A.txt`,
  );
});

t.test('FileLinks: signed urls, checked for file, name, expiry, user and key', async (t) => {
  const links = new FileLinks('a-secret-that-is-long-enough-for-the-tests');
  const now = Date.UTC(2026, 10, 21, 12, 0, 1);
  const url = new URL(links.signedUrl(7, 'my cat.png', 42, now), 'http://x');
  t.equal(url.pathname, '/v1/files/7/my%20cat.png');
  t.same([...url.searchParams.keys()], ['expires', 'u', 'sig']);
  t.equal(url.searchParams.get('u'), '42', 'made for user 42');
  const query = Object.fromEntries(url.searchParams) as { expires: string; u: string; sig: string };
  const { expires, sig } = query;
  t.match(sig, /^[A-Za-z0-9_-]{43}$/, 'HMAC-SHA256, base64url');
  const lifetime = Number(expires) - now / 1000;
  t.ok(lifetime >= URL_TTL_SECONDS && lifetime <= URL_TTL_SECONDS + 300, `valid for at least the TTL (${lifetime} s)`);
  t.equal(Number(expires) % 300, 0, 'rounded, so that the url stays the same for a while');
  t.equal(links.signedUrl(7, 'my cat.png', 42, now + 60_000), links.signedUrl(7, 'my cat.png', 42, now), 'and it does');
  t.not(links.signedUrl(7, 'my cat.png', 43, now), links.signedUrl(7, 'my cat.png', 42, now), 'each user has a url of their own');

  t.equal(links.verify(7, 'my cat.png', query, now), 42, 'the user it was made for');
  t.equal(links.verify(7, 'my cat.png', query, Number(expires) * 1000), 42, 'up to the second it expires');
  t.equal(links.verify(7, 'my cat.png', query, Number(expires) * 1000 + 1), null, 'not after');
  t.equal(links.verify(8, 'my cat.png', query, now), null, 'another file');
  t.equal(links.verify(7, 'my dog.png', query, now), null, 'another name');
  t.equal(links.verify(7, 'my cat.png', { ...query, expires: String(Number(expires) + 300) }, now), null, 'another expiry');
  t.equal(links.verify(7, 'my cat.png', { ...query, u: '43' }, now), null, 'another user');
  t.equal(links.verify(7, 'my cat.png', { ...query, u: '042' }, now), null, 'the same user, written otherwise');
  t.equal(links.verify(7, 'my cat.png', { ...query, sig: sig.slice(1) }, now), null, 'a shorter signature');
  t.equal(links.verify(7, 'my cat.png', { ...query, sig: `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}` }, now), null, 'another signature');
  t.equal(links.verify(7, 'my cat.png', { ...query, expires: undefined }, now), null, 'no expiry');
  t.equal(links.verify(7, 'my cat.png', { ...query, u: undefined }, now), null, 'no user');
  t.equal(links.verify(7, 'my cat.png', { ...query, sig: undefined }, now), null, 'no signature');
  t.equal(links.verify(7, 'my cat.png', { ...query, expires: `${expires}.0` }, now), null, 'an expiry that is not a whole number');
  t.equal(links.verify(7, 'my cat.png', { ...query, expires: '1e12' }, now), null);
  t.equal(links.verify(7, 'my cat.png', { ...query, u: '4.2e1' }, now), null, 'a user that is not a whole number');
  t.equal(new FileLinks('another-secret-that-is-long-enough-too').verify(7, 'my cat.png', query, now), null, 'another key');

  const file = { id: 7, filename: 'my cat.png', mime_type: 'image/png', size_bytes: 10, created_at: '2026-11-21T12:00:00.000Z' };
  const object = links.toFileObject(file, 42, now);
  t.same(object, { ...file, url: links.signedUrl(7, 'my cat.png', 42, now) });

  const message = { id: 1, files: [object] };
  t.same(links.signedFor(message, 43, now), { id: 1, files: [{ ...object, url: links.signedUrl(7, 'my cat.png', 43, now) }] }, 'signed again for another user');
  t.same(message.files[0], object, 'the original is left as it was');
  const bare = { id: 2, files: [] };
  t.equal(links.signedFor(bare, 43, now), bare, 'nothing to sign: the same object');
});
