/** The load generator's sockets, and what its jobs share about them. */
import WebSocket from 'ws';

/** What every generated message says. */
export const CONTENT = 'The quick brown fox jumps over the lazy dog, message from the benchmark';
const SOCKET_OPEN_TIMEOUT_MS = 15_000;
/** After the measured window: how long every send may take to be echoed and delivered. */
export const DRAIN_TIMEOUT_MS = 15_000;

/** A generator's socket on `/v1/ws`, authenticated on the upgrade. */
export function openSocket(baseUrl: string, token: string, localAddress?: string): Promise<WebSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/ws`, {
    headers: { authorization: `Bearer ${token}` },
    perMessageDeflate: false,
    // The generator shares the machine with the server: skip work that measures nothing of it.
    skipUTF8Validation: true,
    handshakeTimeout: SOCKET_OPEN_TIMEOUT_MS,
    localAddress,
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      ws.terminate();
      reject(new Error(`upgrade refused with ${res.statusCode}`));
    });
  });
}

export async function closeAll(sockets: WebSocket[]): Promise<void> {
  const closed = sockets.map((ws) =>
    ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.once('close', () => resolve())),
  );
  for (const ws of sockets) ws.close(1000);
  const timer = setTimeout(() => sockets.forEach((ws) => ws.terminate()), 5000);
  await Promise.all(closed);
  clearTimeout(timer);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
