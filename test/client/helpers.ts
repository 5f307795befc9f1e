import WebSocket from 'ws';
import { ChatClient } from '../../web/client.js';
import { pair, request, type Session, type Teardown, type TestServer } from '../helpers/server.js';

// Shared by the tests of web/client.js: the client runs here as in Node 20 apps, with `ws`'s
// WebSocket, against a real server.

export type Client = InstanceType<typeof ChatClient>;

interface Target {
  url: string;
}

/** A client of `server` (Node: `ws`'s WebSocket), disconnected when the test ends. */
export function newClient(
  t: Teardown,
  server: Target,
  options: { session?: Session | null; storage?: Storage; WebSocket?: unknown } = {},
): Client {
  const client = new ChatClient({
    baseUrl: server.url,
    WebSocket: (options.WebSocket ?? WebSocket) as unknown as typeof globalThis.WebSocket,
    storage: options.storage,
    session: options.session ?? undefined,
  });
  t.teardown(() => client.disconnect());
  return client;
}

/** Alice and Bob in a direct chat, each with a client (not connected yet). */
export async function twoClients(t: Teardown, server: TestServer) {
  const { alice, bob, chatId } = await pair(server);
  return { alice, bob, chatId, a: newClient(t, server, { session: alice }), b: newClient(t, server, { session: bob }) };
}

/** Logs in (open mode: a new name makes the account). */
export function logIn(client: Client, username: string, password?: string): Promise<Session> {
  return client.login({ username, password, invite: undefined });
}

/** Every detail of `type` events the client emits from now on, in order. */
export function record<T = any>(client: Client, type: string): T[] {
  const seen: T[] = [];
  client.on(type, (detail: T) => seen.push(detail));
  return seen;
}

/** Resolves once `done()` holds; rejects with `what` after `timeoutMs`. */
export async function waitFor(done: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The next status event `status` (with `retryInMs` when asked for). */
export function nextStatus(client: Client, status: string, timeoutMs = 5000): Promise<{ status: string; retryInMs?: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (stop(), reject(new Error(`no status ${status} within ${timeoutMs} ms`))), timeoutMs);
    const stop = client.on('status', (detail: { status: string; retryInMs?: number }) => {
      if (detail.status !== status) return;
      clearTimeout(timer);
      stop();
      resolve(detail);
    });
  });
}

/** Connects and waits until the client is online (READY received). */
export async function connected(client: Client, options: { after?: number } = {}): Promise<void> {
  const online = nextStatus(client, 'online');
  client.connect(options);
  await online;
}

/** A chat's whole history over REST, oldest first. */
export async function history(server: Target, token: string, chatId: number): Promise<any[]> {
  const all: any[] = [];
  for (let after = 0; ; ) {
    const res = await request({ url: server.url, wsUrl: '' } as TestServer, 'GET', `/v1/chats/${chatId}/messages?after=${after}&limit=200`, { token });
    if (res.status !== 200) throw new Error(`history: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.length === 0) return all;
    all.push(...res.body);
    after = res.body.at(-1).id;
  }
}

/** What browsers' localStorage offers, over a Map. */
export interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export function mapStorage(): Storage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}

/** Cuts the client's socket off without a closing handshake (a network drop, as the client sees it: 1006). */
export function cutOff(client: Client): void {
  (client.ws as unknown as WebSocket).terminate();
}

/** Ids in strictly increasing order, each once. */
export function increasing(ids: number[]): boolean {
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!);
}

/**
 * Holds the next `fetch` whose URL `matches` (the client's REST calls and uploads in Node) until
 * `release()`: the request leaves only then, as on a slow network. `started` tells whether it was
 * made yet. The global fetch comes back when the test ends.
 */
export function holdFetch(t: Teardown, matches: (url: string, method: string) => boolean): { release: () => void; started: () => boolean } {
  const real = globalThis.fetch;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    if (!held && matches(String(input instanceof Request ? input.url : input), init?.method ?? 'GET')) {
      held = true;
      await gate;
    }
    return real(input, init);
  };
  t.teardown(() => void (globalThis.fetch = real));
  return { release, started: () => held };
}
