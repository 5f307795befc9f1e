import t from 'tap';
import { PNG } from '../helpers/files.js';
import { pair, startServer } from '../helpers/server.js';
import { connected, twoClients, holdFetch, logIn, newClient, record, waitFor } from './helpers.js';

// Uploading from Node with web/client.js (fetch and FormData: Node has no XMLHttpRequest).

t.test('upload a Blob with a filename, send it: the other member gets a url that downloads the bytes', async (t) => {
  const server = await startServer(t);
  const { chatId, a, b } = await twoClients(t, server);
  await connected(a);
  await connected(b);
  const atBob = record(b, 'message');

  const progress: [number, number][] = [];
  const file = await a.upload(new Blob([PNG]), {
    filename: 'dot.png',
    onProgress: (sent: number, total: number) => progress.push([sent, total]),
  } as any); // the JSDoc-less options are inferred from their defaults
  t.match(file, { id: Number, filename: 'dot.png', mime_type: 'image/png', size_bytes: PNG.length, url: String });
  t.same(progress, [[PNG.length, PNG.length]], 'in Node, progress once, at the end');

  const entry = a.send(chatId, 'A dot', { files: [file.id] } as any);
  t.same(entry.files, [file.id]);
  await waitFor(() => atBob.length === 1, 'the message');
  const [message] = atBob;
  t.match(message.files, [{ id: file.id, filename: 'dot.png', mime_type: 'image/png' }]);
  const res = await fetch(server.url + message.files[0].url); // no header: the url is signed for Bob
  t.equal(res.status, 200);
  t.same(Buffer.from(await res.arrayBuffer()), PNG, 'the bytes uploaded');

  // A file object works in `files` as well as its id.
  const second = a.send(chatId, 'Again', { files: [file] } as any);
  t.same(second.files, [file.id]);
  await waitFor(() => atBob.length === 2, 'the second message');
  t.equal(atBob[1].files[0].id, file.id);
});

t.test('upload refusals are ApiErrors', async (t) => {
  const server = await startServer(t, { MAX_UPLOAD_BYTES: '1000' });
  const { alice } = await pair(server);
  const a = newClient(t, server, { session: alice });
  const tooLarge = await a.upload(new Blob([new Uint8Array(5000)]), { filename: 'big.bin' }).catch((e: unknown) => e);
  t.match(tooLarge, { name: 'ApiError', status: 413 });
  const cancelled = await a.upload(new Blob([PNG]), { filename: 'dot.png', signal: AbortSignal.abort() } as any).catch((e: unknown) => e);
  t.match(cancelled, { name: 'ApiError', status: 0, code: 'ABORTED' }, 'an aborted upload');
  const anonymous = newClient(t, server);
  t.match(await anonymous.upload(new Blob([PNG]), { filename: 'dot.png' }).catch((e: unknown) => e), { status: 401, code: 'UNAUTHORIZED' });
});

t.test('an upload answered after the session changed: SESSION_CHANGED, the new session is kept', async (t) => {
  const server = await startServer(t);
  const client = newClient(t, server);
  await logIn(client, 'alice');
  const ended = record(client, 'session_ended');
  const slow = holdFetch(t, (url) => url.endsWith('/v1/upload'));
  const upload = client.upload(new Blob([PNG]), { filename: 'dot.png' }).catch((e: unknown) => e);
  await client.logout(); // Alice's token is no more: the upload is answered 401
  const bob = await logIn(client, 'bob');
  slow.release();
  t.match(await upload, { name: 'ApiError', status: 0, code: 'SESSION_CHANGED' });
  t.equal(client.session, bob, 'Bob is still logged in');
  t.same(ended, [{ reason: 'logout' }], 'only the logout ended a session');
});
