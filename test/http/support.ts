import { createHmac } from 'node:crypto';
import type { TAP } from 'tap';
import { request, type TestServer } from '../helpers/server.js';

/** The assertions these helpers use, so that any tap test (or subtest) can be passed. */
export type Asserts = Pick<TAP, 'equal' | 'match'>;

export type Options = Parameters<typeof request>[3];

/** The secret startServer configures, so that tests can forge tokens the server trusts. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-production';

/**
 * `request` that refuses to see a 5xx: the contract never answers 500 to anything these tests send,
 * so one fails the test that made the request, with the answer in the message.
 */
export async function call(server: TestServer, method: string, route: string, options?: Options) {
  const res = await request(server, method, route, options);
  if (res.status >= 500) throw new Error(`${method} ${route} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res;
}

/**
 * The contract's error answer: `status` and `{error: <a sentence>, code: <UPPER_SNAKE>}`; for a
 * validation error, `field` names the field, and so does the sentence.
 */
export function expectError(
  t: Asserts,
  res: { status: number; body: any },
  status: number,
  code?: string,
  field?: string,
): void {
  t.equal(res.status, status, `status ${status}`);
  t.match(res.body, { error: /\S/, code: /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/ }, 'an {error, code} body');
  if (code !== undefined) t.equal(res.body?.code, code, `code ${code}`);
  if (field !== undefined) {
    t.equal(res.body?.field, field, `names the field ${field}`);
    t.match(res.body?.error, field, 'the sentence names the field');
  }
}

/** The claims of a JWT, unverified. */
export function decodeClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** An HS256 JWT over `claims`, signed with `secret`. */
export function signToken(claims: Record<string, unknown>, secret = TEST_JWT_SECRET): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** RFC 3339 UTC with milliseconds, as the contract writes every time. */
export const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const seconds = () => Math.floor(Date.now() / 1000);
