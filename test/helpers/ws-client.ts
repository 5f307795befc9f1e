import WebSocket from 'ws';
import type { Session, Teardown, TestServer } from './server.js';

export type Frame = Record<string, any>;

/**
 * A WebSocket client for tests: frames are queued as they arrive and taken in order with
 * `next()`, so that a test can assert exactly what a socket received, and nothing more.
 */
export class TestSocket {
  private readonly frames: Frame[] = [];
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first queued frame that matches (earlier non-matching frames stay queued). */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const index = this.frames.findIndex(match);
    if (index >= 0) return Promise.resolve(this.frames.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(this.frames)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  nextOfType(type: string, timeoutMs?: number): Promise<Frame> {
    return this.next((f) => f.type === type, timeoutMs);
  }

  /** Everything queued now, emptied. */
  drain(): Frame[] {
    return this.frames.splice(0);
  }

  /** Waits until nothing has arrived for `quietMs`, then returns what is queued. */
  async settle(quietMs = 150): Promise<Frame[]> {
    let count = -1;
    while (count !== this.frames.length) {
      count = this.frames.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
    return this.drain();
  }

  async ping(): Promise<void> {
    this.send({ type: 'ping' });
    await this.nextOfType('pong');
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }

  private push(frame: Frame): void {
    const waiter = this.waiters.find((w) => w.match(frame));
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      waiter.resolve(frame);
    } else {
      this.frames.push(frame);
    }
  }
}

export type AuthVia = 'header' | 'query' | 'identify';

/** Opens an authenticated socket (IDENTIFY: waits for READY), closed when the test ends. */
export async function connect(t: Teardown, server: TestServer, session: Session, via: AuthVia = 'header'): Promise<TestSocket> {
  const url = via === 'query' ? `${server.wsUrl}?token=${encodeURIComponent(session.token)}` : server.wsUrl;
  const headers = via === 'header' ? { authorization: `Bearer ${session.token}` } : undefined;
  const socket = await open(t, url, headers);
  if (via === 'identify') {
    socket.send({ op: 'IDENTIFY', d: { token: session.token } });
    await socket.next((f) => f.op === 'READY');
  } else {
    // The socket is registered once the server has handled a frame from it.
    await socket.ping();
  }
  return socket;
}

export function open(t: Teardown, url: string, headers?: Record<string, string>): Promise<TestSocket> {
  const ws = new WebSocket(url, { headers });
  const socket = new TestSocket(ws);
  t.teardown(() => {
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.terminate();
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}
