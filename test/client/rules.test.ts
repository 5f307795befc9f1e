import t from 'tap';
import { backoffDelay, newClientId, USERNAME_PATTERN } from '../../web/client.js';
import { Username } from '../../src/users/schemas.js';
import { request, startServer } from '../helpers/server.js';

// What web/client.js computes by itself: the reconnect backoff, client ids, the username rule.

t.test('backoffDelay: between half and all of min(15 s, 500 ms × 2^attempt)', async (t) => {
  for (let attempt = 0; attempt <= 12; attempt++) {
    const base = Math.min(15_000, 500 * 2 ** attempt);
    t.equal(backoffDelay(attempt, () => 0), base / 2, `attempt ${attempt}: the least`);
    t.equal(backoffDelay(attempt, () => 0.5), 0.75 * base, `attempt ${attempt}: the middle`);
    t.equal(backoffDelay(attempt, () => 0.999_999_9), base, `attempt ${attempt}: the most`);
  }
  t.equal(backoffDelay(0, () => 0), 250);
  t.equal(backoffDelay(5, () => 0.999_999_9), 15_000, 'capped at 15 s');
  for (let i = 0; i < 200; i++) {
    const delay = backoffDelay(3);
    t.ok(delay >= 2000 && delay <= 4000, 'Math.random by default, within bounds');
  }
});

t.test('newClientId: 32 hex digits, fresh each time', async (t) => {
  const ids = new Set(Array.from({ length: 1000 }, () => newClientId()));
  t.equal(ids.size, 1000);
  t.ok([...ids].every((id) => /^[0-9a-f]{32}$/.test(id)));
});

t.test('USERNAME_PATTERN is the server\'s rule (src/users/schemas.ts Username)', async (t) => {
  // The server's check: the schema's pattern (JSON Schema patterns are Unicode) and its lengths,
  // which count code points, as the /u pattern's {1,32} does.
  const schema = Username as unknown as { pattern: string; minLength: number; maxLength: number };
  const server = (name: string) =>
    new RegExp(schema.pattern, 'u').test(name) && [...name].length >= schema.minLength && [...name].length <= schema.maxLength;
  const samples: [string, boolean][] = [
    ['alice', true],
    ['zoë', true],
    ['zoe\u0308', true], // a decomposed ë: a letter and a mark
    ['José', true],
    ['田中', true],
    ['иван', true],
    ['a.b-c_d9', true],
    ['٣٤', true], // digits of another script
    ['a'.repeat(32), true],
    ['\u{20000}'.repeat(32), true], // 32 code points, 64 UTF-16 units
    ['a'.repeat(33), false],
    ['', false],
    ['a b', false],
    ['a/b', false],
    ['a@b', false],
    ['a\u200db', false], // a zero-width joiner
    ['tab\t', false],
    ['😀', false],
  ];
  for (const [name, valid] of samples) {
    t.equal(USERNAME_PATTERN.test(name), valid, `client: ${JSON.stringify(name)}`);
    t.equal(server(name), valid, `schema: ${JSON.stringify(name)}`);
  }

  // And the running server agrees, on these names, which its other rules (look-alikes, NFKC) leave alone (the decomposed `zoë` logs in to `zoë`).
  const running = await startServer(t);
  for (const [name, valid] of samples) {
    const res = await request(running, 'POST', '/v1/login', { body: { username: name } });
    if (valid) t.equal(res.status, 200, `server accepts ${JSON.stringify(name)}`);
    else t.match(res, { status: 400, body: { code: 'VALIDATION_ERROR', field: 'username' } }, `server refuses ${JSON.stringify(name)}`);
  }
});
