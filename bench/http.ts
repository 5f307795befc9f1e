import http from 'node:http';

/**
 * A keep-alive agent, so that timed requests measure the server rather than TCP handshakes; a few
 * sockets only, as a client app would hold.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export interface HttpResult {
  status: number;
  body: string;
  /** From the request being written to the whole answer read. */
  ms: number;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  timeoutMs?: number;
  /** A new connection, not a pooled one (polling a server that is still starting). */
  fresh?: boolean;
}

export function request(method: string, url: string, options: RequestOptions = {}): Promise<HttpResult> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: http.OutgoingHttpHeaders = {};
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request(url, { method, headers, agent: options.fresh ? false : agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.setTimeout(options.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${url}: no answer in time`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A request that must answer 2xx with JSON; anything else is an error naming the route. */
export async function json<T>(method: string, url: string, options: RequestOptions = {}): Promise<T> {
  const res = await request(method, url, options);
  if (res.status < 200 || res.status >= 300) {
    throw new Error(`${method} ${new URL(url).pathname} answered ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return JSON.parse(res.body) as T;
}

export interface Session {
  token: string;
  user: { id: number; username: string };
}

export const login = (base: string, username: string) => json<Session>('POST', `${base}/v1/login`, { body: { username } });

export const initiate = (base: string, token: string, targetUsername: string) =>
  json<{ chat_id: number; status: string }>('POST', `${base}/v1/chats/initiate`, { token, body: { target_username: targetUsername } });

export const createRoom = (base: string, token: string, name: string) => json<{ id: number }>('POST', `${base}/v1/rooms`, { token, body: { name } });

export const joinRoom = (base: string, token: string, chatId: number) => json<{ id: number }>('POST', `${base}/v1/rooms/${chatId}/join`, { token });

/** Runs `work` over `items` with at most `concurrency` at once; results in the items' order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export function closeHttpAgent(): void {
  agent.destroy();
}
