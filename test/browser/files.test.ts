import { crc32, deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import t from 'tap';
import { pair, startServer, type Teardown, type TestServer } from '../helpers/server.js';
import { launch, message, openPage, withChromium } from './browser.js';

// Run in the page by page.evaluate: the browser's own, which the Node-side type check does not know.
declare const document: any, DataTransfer: any, DragEvent: any, ClipboardEvent: any;

// Files in the web client: attached with the button, dropped, pasted; shown inline or as links;
// the server's limits shown as errors the person can act on.

/** A PNG of one colour, `width` × `height`. */
function png(width: number, height: number, [r, g, b]: [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3).map((_, i) => [r, g, b][i % 3]!)]);
  const pixels = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Waits until `check` (run in Node, reading the page) holds: waitForFunction's evaluated strings break the page's CSP. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Two people in a direct chat, each with the chat open in a page of their own. */
async function twoPages(t: Teardown, server: TestServer, errors: string[]) {
  const { alice, bob, chatId } = await pair(server);
  const browser = await launch(t);
  const alicePage = await openPage(browser, server.url, 'alice', errors, { chatWith: 'bob' });
  const bobPage = await openPage(browser, server.url, 'bob', errors, { chatWith: 'alice' });
  return { alice, bob, chatId, browser, alicePage, bobPage };
}

const composer = (page: Page) => page.getByLabel('Message', { exact: true });
const staged = (page: Page, name: string) => page.locator('#staged-files li', { hasText: name });

/** Dispatches a drag of `files` onto the conversation, as a person dragging them from their desktop would. */
function dropFiles(page: Page, files: { name: string; type: string; text: string }[]) {
  return page.evaluate((files) => {
    const data = new DataTransfer();
    for (const f of files) data.items.add(new File([f.text], f.name, { type: f.type }));
    const target = document.getElementById('messages')!;
    for (const type of ['dragenter', 'dragover', 'drop']) {
      target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
    }
  }, files);
}

withChromium(t, () => {
  // Three servers, four browsers: room for a slow, busy machine.
  t.setTimeout(240_000);

  t.test('files: the button, drag and drop, paste, inline images, links, limits', async (t) => {
    const server = await startServer(t, { MAX_UPLOAD_BYTES: '200000' });
    const errors: string[] = [];
    const { alicePage: alice, bobPage: bob, browser } = await twoPages(t, server, errors);

    // A picture, with the button (its file input), and a caption.
    const picture = png(240, 160, [220, 40, 60]);
    await alice.locator('#file-input').setInputFiles({ name: 'red.png', mimeType: 'image/png', buffer: picture });
    await staged(alice, 'red.png').locator('.file-size').waitFor();
    await staged(alice, 'red.png').locator('img.staged-thumb').waitFor(); // a staged picture shows as a thumbnail
    await composer(alice).fill('Look at this');
    await composer(alice).press('Enter');
    t.ok(await alice.locator('#staged-files').isHidden(), 'the staged files go with the message');

    const withPicture = message(bob, 'Look at this');
    await withPicture.waitFor();
    const img = withPicture.locator('.file-image img');
    await until(async () => (await img.evaluate((el: any) => el.complete && el.naturalWidth)) > 0, 'the image to load');
    t.equal(await img.getAttribute('alt'), 'red.png');
    const box = await img.boundingBox();
    t.ok(box && Math.round(box.width) === 240 && Math.round(box.height) === 160, 'shown at its own size, within the box');
    await img.click();
    const dialog = bob.locator('#image-dialog');
    await dialog.waitFor();
    const download = dialog.getByRole('link', { name: 'Download' });
    t.equal(await download.getAttribute('download'), 'red.png');
    const big = await fetch(server.url + (await download.getAttribute('href')));
    t.same(Buffer.from(await big.arrayBuffer()), picture, 'the large view links to the picture');
    await until(async () => (await bob.locator('#image-view-img').evaluate((el: any) => el.naturalWidth)) === 240, 'the large image');
    await bob.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // A text file dropped on the conversation, sent alone: a named link with its size, no text line.
    const notes = 'Shopping list\n- milk\n- bread\n';
    await dropFiles(alice, [{ name: 'notes.txt', type: 'text/plain', text: notes }]);
    await staged(alice, 'notes.txt').locator('.file-size').waitFor();
    t.notOk(await alice.locator('#chat-view.dropping').count(), 'the drop outline goes once the file is dropped');
    await composer(alice).press('Enter');
    const link = bob.locator('#message-list li.msg[data-id] a.file-link', { hasText: 'notes.txt' });
    await link.waitFor();
    t.equal(await link.locator('.file-size').textContent(), `${Buffer.byteLength(notes)} B`);
    const row = bob.locator('#message-list li.msg[data-id]').filter({ has: link });
    t.equal(await row.locator('.text').count(), 0, 'a file sent alone shows no text line');
    const downloaded = await fetch(server.url + (await link.getAttribute('href')));
    t.equal(downloaded.status, 200);
    t.equal(await downloaded.text(), notes, 'the link gives the bytes');
    t.match(downloaded.headers.get('content-disposition'), /^attachment/);
    await bob.locator('.chat-item', { hasText: 'alice' }).locator('.chat-item-preview', { hasText: '📎 notes.txt' }).waitFor();
    await alice.locator('.chat-item', { hasText: 'bob' }).locator('.chat-item-preview', { hasText: 'You: 📎 notes.txt' }).waitFor();

    // A picture pasted into the composer is staged; removing it leaves nothing to send.
    await composer(alice).focus();
    await alice.evaluate((bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
      document.getElementById('composer-input')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, [...png(20, 20, [10, 120, 200])]);
    await staged(alice, 'image.png').locator('.file-size').waitFor();
    await alice.getByRole('button', { name: 'Remove image.png' }).click();
    await alice.locator('#staged-files').waitFor({ state: 'hidden' });
    await composer(alice).press('Enter');

    // Too large for the server: refused before it is uploaded, and nothing goes.
    let uploads = 0;
    alice.on('request', (req) => {
      if (req.url().endsWith('/v1/upload')) uploads += 1;
    });
    await alice.locator('#file-input').setInputFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300_000, 1) });
    const refused = staged(alice, 'huge.bin').getByRole('alert');
    await refused.waitFor();
    t.equal(await refused.textContent(), 'Too large: this server takes files up to 200 KB.');
    await composer(alice).fill('with the big one');
    await composer(alice).press('Enter');
    await alice.locator('#toast', { hasText: 'Remove the files that could not be uploaded first.' }).waitFor();
    t.equal(await composer(alice).inputValue(), 'with the big one', 'the text stays');
    await alice.getByRole('button', { name: 'Remove huge.bin' }).click();
    await composer(alice).fill('');
    t.equal(uploads, 0, 'a file over the limit is not uploaded');

    // A large upload shows its progress (the upload throttled to ~50 KB/s).
    const cdp = await alice.context().newCDPSession(alice);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 50_000 });
    const large = 'x'.repeat(150_000);
    await alice.locator('#file-input').setInputFiles({ name: 'large.txt', mimeType: 'text/plain', buffer: Buffer.from(large) });
    const progress = staged(alice, 'large.txt').locator('progress');
    await progress.waitFor();
    t.equal(await progress.getAttribute('aria-label'), 'Uploading large.txt');
    await composer(alice).press('Enter');
    await alice.locator('#toast', { hasText: 'Wait for the files to finish uploading' }).waitFor();
    await until(async () => Number(await progress.evaluate((el: any) => el.value)) > 0, 'the progress bar to move', 20_000);
    await staged(alice, 'large.txt').locator('.file-size').waitFor({ timeout: 20_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await composer(alice).press('Enter');
    await bob.locator('a.file-link', { hasText: 'large.txt' }).locator('.file-size', { hasText: '150 KB' }).waitFor();
    t.equal(await bob.locator('#message-list li.msg[data-id]').count(), 3, 'three messages, and no other');

    await browser.close();
    t.same(errors, [], 'no page errors');
  });

  t.test('files: the server refuses an upload (quota, disk)', async (t) => {
    const server = await startServer(t, { UPLOAD_QUOTA_BYTES: '100000' });
    const errors: string[] = [];
    const { alicePage: alice } = await twoPages(t, server, errors);

    // Over the quota: the server refuses it by its Content-Length, unread.
    await alice.locator('#file-input').setInputFiles({ name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(150_000, 'a') });
    const quota = staged(alice, 'big.txt').getByRole('alert');
    await quota.waitFor();
    t.match(await quota.textContent(), /^No room left: this file would take your files past the space this server gives each person/);
    await alice.getByRole('button', { name: 'Remove big.txt' }).click();

    // A connection closed before the answer could be read: with the socket up, the server refused it.
    await alice.route('**/v1/upload', (route) => route.abort('connectionreset'));
    await alice.locator('#file-input').setInputFiles({ name: 'cut.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1000, 'a') });
    const cut = staged(alice, 'cut.txt').getByRole('alert');
    await cut.waitFor();
    t.match(await cut.textContent(), /^The server refused this file/);
    await alice.getByRole('button', { name: 'Remove cut.txt' }).click();
    await alice.unroute('**/v1/upload');

    // Under the quota, a file goes.
    await alice.locator('#file-input').setInputFiles({ name: 'small.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1000, 'a') });
    await staged(alice, 'small.txt').locator('.file-size').waitFor();

    // The refusals show in the console as failed requests; nothing else may.
    t.same(errors.filter((e) => !/status of 413|ERR_CONNECTION_RESET/.test(e)), [], 'no page errors');
  });

  t.test('files: the server is short of disk space', async (t) => {
    const server = await startServer(t, { UPLOAD_MIN_FREE_BYTES: String(2 ** 52) });
    const errors: string[] = [];
    const { alicePage: alice } = await twoPages(t, server, errors);
    await alice.locator('#file-input').setInputFiles({ name: 'a.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    const alert = staged(alice, 'a.txt').getByRole('alert');
    await alert.waitFor();
    t.equal(await alert.textContent(), 'The server is short of disk space: try again later.');
    t.same(errors.filter((e) => !/status of 507/.test(e)), [], 'no page errors');
  });
});
