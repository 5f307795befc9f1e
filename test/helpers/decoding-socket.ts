import type WebSocket from 'ws';

/**
 * A compatibility client's socket: every frame is decoded as its client decodes it. The real
 * clients drop a frame they cannot decode; here each one is kept in `undecodable`, for tests to
 * assert that there are none.
 */
export abstract class DecodingSocket {
  readonly messages: any[] = [];
  readonly undecodable: string[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<number>;

  protected constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.take(data.toString()));
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  /** The frame as the client decodes it (throws when it cannot), or undefined for one that is not a message. */
  protected abstract decode(text: string): unknown;

  /** Waits until `count` messages have arrived in all. */
  async received(count: number, timeoutMs = 5000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      if (Date.now() > deadline) throw new Error(`${this.messages.length} of ${count} messages; undecodable: ${this.undecodable.join(' | ')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.messages.slice(0, count);
  }

  private take(text: string): void {
    try {
      const message = this.decode(text);
      if (message !== undefined) this.messages.push(message);
    } catch {
      this.undecodable.push(text);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}
