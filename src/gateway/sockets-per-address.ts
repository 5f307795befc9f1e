import type { WebSocket } from 'ws';

/** Open sockets per client address on this process, capped (0: no cap). */
export class SocketsPerAddress {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  full(address: string): boolean {
    return this.max > 0 && (this.counts.get(address) ?? 0) >= this.max;
  }

  /** Counts the socket until it closes. */
  opened(address: string, socket: WebSocket): void {
    this.counts.set(address, (this.counts.get(address) ?? 0) + 1);
    socket.once('close', () => {
      const left = this.counts.get(address)! - 1;
      if (left === 0) this.counts.delete(address);
      else this.counts.set(address, left);
    });
  }
}
