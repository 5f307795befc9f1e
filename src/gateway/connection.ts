import type { FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Principal } from '../auth/plugin.js';
import type { FrameCounts } from '../metrics/metrics.js';
import type { Encoder, Outbound } from '../realtime/events.js';
import type { Subscriber } from '../realtime/hub.js';

/** A text frame: shared bytes (events, see `Outbound`) or a string of the socket's own. */
export type Frame = Buffer | string;

const byteLength = (frame: Frame) => (typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length);

/** How often a replay waiting for its peer to read looks again, besides the socket's 'drain'. */
const DRAIN_POLL_MS = 10;

// Frames are always text, also when handed over as bytes.
const TEXT = { binary: false };

export const CloseCode = {
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
  UNAUTHORIZED: 4401,
} as const;

/**
 * One client socket, which receives events in its surface's dialect. Its outbound backlog is
 * bounded: a reader too slow for its share is closed with 1013 rather than held in memory or
 * allowed to delay anyone else.
 */
export class Connection implements Subscriber {
  user: Principal | null = null;
  lastActivity = Date.now();
  /** Frames that arrive while a resume replays, sent after it so that each chat stays in id order. */
  private held: { frame: Frame; seq: number | undefined }[] | null = null;
  /**
   * Log entries up to this id are not sent live: the client has them (it resumed after it). A
   * process whose delivery is behind the client's (it was on another one) delivers them after.
   */
  private floor = 0;
  private heldBytes = 0;
  private closing = false;
  private corked = false;
  /** Bytes written while corked this tick: in `bufferedAmount`, but not yet offered to the peer. */
  private tickBytes = 0;

  constructor(
    readonly socket: WebSocket,
    private readonly encoder: Encoder,
    private readonly maxBacklogBytes: number,
    /** Called once when the server starts closing the socket, long before a slow peer completes the close. */
    private readonly onClosing: (conn: Connection) => void = () => {},
    /** Null when metrics are off. */
    private readonly frames: FrameCounts | null = null,
  ) {}

  get open(): boolean {
    return !this.closing && this.socket.readyState === WebSocket.OPEN;
  }

  receive(outbound: Outbound): void {
    if (outbound.seq !== undefined && outbound.seq <= this.floor) return;
    if (this.encoder.wants && !this.encoder.wants(outbound.event)) return;
    const frame = outbound.frameFor(this.encoder);
    if (frame === null) return;
    if (this.frames) this.frames.live++;
    this.send(frame, outbound.seq);
  }

  /** The client has every log entry up to `seq`: none of them is sent live any more. */
  skipThrough(seq: number): void {
    this.floor = Math.max(this.floor, seq);
  }

  heartbeat(deadline: number): void {
    if (this.lastActivity < deadline) this.socket.terminate();
    else if (this.open) this.socket.ping();
  }

  send(frame: Frame, seq?: number): void {
    if (this.held) {
      this.held.push({ frame, seq });
      this.heldBytes += byteLength(frame);
      if (this.heldBytes > this.maxBacklogBytes) this.overflow();
      return;
    }
    this.write(frame);
  }

  /** Written at once, ahead of held frames: the replay itself. */
  write(frame: Frame): void {
    if (!this.open) return;
    const bytes = byteLength(frame);
    // The backlog is what the peer has not taken from earlier ticks, not what this tick just wrote.
    if (this.backlogBytes - this.tickBytes + bytes > this.maxBacklogBytes) {
      this.overflow();
      return;
    }
    this.cork();
    this.tickBytes += bytes;
    this.socket.send(frame, TEXT);
  }

  /**
   * A batch delivers many frames to a socket in one tick: held back until the tick ends, they leave
   * in one write (one syscall) instead of one each. `ws` exposes no cork, so its TCP socket is used.
   */
  private cork(): void {
    if (this.corked) return;
    const tcp = this.tcp;
    if (!tcp) return;
    this.corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      this.tickBytes = 0;
      tcp.uncork();
    });
  }

  /** The TCP socket under `ws`, which exposes neither cork nor 'drain'. */
  private get tcp(): Socket | undefined {
    return (this.socket as unknown as { _socket?: Socket })._socket;
  }

  /** What the peer has not taken yet: written, corked or in the kernel's way. */
  get backlogBytes(): number {
    return this.socket.bufferedAmount;
  }

  /** Resolves once the peer has taken all but `bytes` of what was written, or the socket is gone. */
  async drained(bytes: number): Promise<void> {
    // This tick's frames are corked: they start to leave once it ends.
    await new Promise((resolve) => setImmediate(resolve));
    const tcp = this.tcp;
    while (tcp && this.open && this.backlogBytes > bytes) {
      await new Promise<void>((resolve) => {
        // 'drain' only comes after a write found the buffer above its high-water mark, which a
        // small bound may stay below: the timer looks again meanwhile.
        const timer = setTimeout(done, DRAIN_POLL_MS);
        function done() {
          clearTimeout(timer);
          tcp!.off('drain', done);
          tcp!.off('close', done);
          resolve();
        }
        tcp.on('drain', done);
        tcp.on('close', done);
      });
    }
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const frames = this.held ?? [];
    this.held = null;
    this.heldBytes = 0;
    for (const { frame, seq } of frames) if (seq === undefined || seq > this.floor) this.write(frame);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.held = null;
    this.onClosing(this);
    this.socket.close(code, reason);
  }

  private overflow(): void {
    this.close(CloseCode.TRY_AGAIN_LATER, 'Backlog over limit: read faster, then reconnect and resume');
  }
}

/**
 * Errors on an open socket (`@fastify/websocket`'s `errorHandler`). A breach of the protocol by
 * the client, such as a frame over the size limit (1009) or text that is not UTF-8 (1007), is
 * `ws`'s `WS_ERR_*`: it has closed the socket with its code, and the client's doing is noted
 * without a stack. Anything else is the server's.
 */
export function onSocketError(err: Error, socket: WebSocket, request: FastifyRequest): void {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) request.log.info({ code, reason: err.message }, 'a client broke the WebSocket protocol');
  else request.log.error({ err }, 'websocket error');
  socket.terminate();
}
