import t from 'tap';
import { Message } from '../../src/http/schemas.js';
import { messageFrameJson } from '../../src/gateway/dialects/native.js';

const base: Message = {
  id: 42,
  chat_id: 7,
  sender_id: 3,
  sender: 'alice',
  content: 'hello',
  timestamp: '2026-11-21T10:00:00.000Z',
  client_id: 'c1',
  edited_at: null,
  deleted_at: null,
  files: [],
};

t.test('messageFrameJson writes exactly what JSON.stringify writes for the message frame', async (t) => {
  const cases: Message[] = [
    base,
    { ...base, content: 'quotes " and \\ backslashes, a newline\n, a tab\t, \u0001, emoji 🎉, é, \u2028' },
    { ...base, sender: 'ünïcode "name"', client_id: null, content: null },
    { ...base, edited_at: '2026-11-21T10:01:00.000Z', deleted_at: '2026-11-21T10:02:00.000Z' },
    {
      ...base,
      files: [
        { id: 1, url: '/v1/files/1/a%20b.png?expires=1&sig=x', filename: 'a b.png', mime_type: 'image/png', size_bytes: 10, created_at: base.timestamp },
        { id: 2, url: '/v1/files/2/c.txt?expires=1&sig=y', filename: 'c "q".txt', mime_type: 'text/plain', size_bytes: 0, created_at: base.timestamp },
      ],
    },
  ];
  for (const message of cases) t.equal(messageFrameJson(message), JSON.stringify({ type: 'message', ...message }));
});

t.test('messageFrameJson writes every field of the Message schema', async (t) => {
  // A field added to Message and forgotten in the frame writer fails here.
  const written = Object.keys(JSON.parse(messageFrameJson(base)));
  t.same(written, ['type', ...Object.keys(Message.properties)]);
});
