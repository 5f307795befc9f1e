import WebSocket from 'ws';
import { json } from './http.js';
import { within } from './processes.js';

/**
 * A minimal Chrome DevTools Protocol client for a process started with `--inspect=127.0.0.1:<port>`:
 * the server has no API to collect garbage, but its inspector does, so memory is read after a full GC.
 */
export class Inspector {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = await json<{ webSocketDebuggerUrl: string }[]>('GET', `http://127.0.0.1:${port}/json/list`);
    const url = targets[0]?.webSocketDebuggerUrl;
    if (!url) throw new Error('the inspector lists no target');
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await within(10_000, 'connecting to the inspector', new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)));
    return new Inspector(ws);
  }

  call<T>(method: string, params: object = {}): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.ws.send(JSON.stringify({ id, method, params }));
    return within(60_000, `inspector ${method}`, answer);
  }

  /** Two full collections: the first may leave garbage that finalizers of the second free. */
  async collectGarbage(): Promise<void> {
    await this.call('HeapProfiler.collectGarbage');
    await this.call('HeapProfiler.collectGarbage');
  }

  async memoryUsage(): Promise<NodeJS.MemoryUsage> {
    const { result } = await this.call<{ result: { value: string } }>('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    return JSON.parse(result.value) as NodeJS.MemoryUsage;
  }

  close(): void {
    this.ws.terminate();
  }
}
