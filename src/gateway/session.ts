import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as delay } from 'node:timers/promises';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/plugin.js';
import { AppError } from '../errors.js';
import type { LogReader } from '../log/reader.js';
import type { MessageService } from '../messages/service.js';
import type { FrameCounts } from '../metrics/metrics.js';
import type { TokenBuckets } from '../rate-limit-store.js';
import { Outbound } from '../realtime/events.js';
import type { Realtime } from '../realtime/realtime.js';
import { CloseCode, Connection } from './connection.js';
import { isRefusal, type Command, type Dialect, type Frame, type Refusal } from './dialect.js';
import { identifyFrame, type IdentifyFrame } from './identify.js';
import type { ReplayGate } from './replay-gate.js';
import { SerialQueue } from './serial-queue.js';

/**
 * A new socket of a dialect that resumes holds live frames until its first frame is handled (or
 * this long): a client that resumes at once then gets the replay before anything newer, so each
 * chat stays in id order.
 */
const INITIAL_HOLD_MS = 1000;

/** What every session shares. */
export interface GatewayContext {
  realtime: Realtime;
  messages: MessageService;
  log: LogReader;
  /** Paces the replays of all sessions. */
  replays: ReplayGate;
  /** Each user's budget of replays, the costliest thing a client can ask for: past it, a resume waits. */
  resumes: TokenBuckets<number>;
  verifyToken: (token: string) => Promise<Principal>;
  /** False once the server is shutting down: sends are refused. */
  accepting: () => boolean;
  limits: { maxBacklogBytes: number; identifyTimeoutMs: number; resumeMaxMessages: number; maxSocketsPerUser: number };
  /** Where frames sent are counted; null when metrics are off. */
  frames: FrameCounts | null;
}

/**
 * One socket from upgrade to close: authentication (on the upgrade, or IDENTIFY), the initial
 * hold, resume, and every client frame handled in the order it was sent, in its surface's dialect.
 */
export class Session {
  private readonly conn: Connection;
  private readonly queue = new SerialQueue();
  private identifyTimer: NodeJS.Timeout | null = null;
  private identifying = false;
  private holdTimer: NodeJS.Timeout | null = null;
  private resumePending = false;
  /** Log ids up to this one were delivered before this socket joined the hub; resume replays them. */
  private liveFrom = 0;

  constructor(
    socket: WebSocket,
    private readonly dialect: Dialect,
    private readonly ctx: GatewayContext,
    private readonly log: FastifyBaseLogger,
    principal: Principal | undefined,
  ) {
    const conn = new Connection(socket, dialect, ctx.limits.maxBacklogBytes, () => ctx.realtime.detach(conn), ctx.frames);
    this.conn = conn;
    // Listeners first, before anything that awaits, so that no early frame is missed.
    socket.on('message', (data, isBinary) => {
      conn.lastActivity = Date.now();
      let frame: unknown;
      try {
        frame = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
      } catch {
        return this.refuse({ code: 'INVALID_JSON', message: 'The frame is not valid JSON' });
      }
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
        return this.refuse({ code: 'INVALID_FRAME', message: 'A frame must be a JSON object' });
      }
      this.onFrame(frame as Frame);
    });
    socket.on('pong', () => {
      conn.lastActivity = Date.now();
    });
    socket.on('close', () => {
      if (this.identifyTimer) clearTimeout(this.identifyTimer);
      if (this.holdTimer) clearTimeout(this.holdTimer);
      ctx.realtime.detach(conn);
    });

    if (principal) {
      conn.user = principal;
      this.goLive();
    } else {
      this.identifyTimer = setTimeout(
        () => conn.close(CloseCode.UNAUTHORIZED, 'No IDENTIFY within the time allowed'),
        ctx.limits.identifyTimeoutMs,
      );
    }
  }

  private goLive(): void {
    this.liveFrom = this.ctx.realtime.hub.lastSeq;
    this.ctx.realtime.attach(this.conn);
    if (!this.dialect.resumes) return;
    this.conn.hold();
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      this.conn.release();
    }, INITIAL_HOLD_MS);
  }

  /** The first frame ends the initial hold; a resume ends it itself, after its replay. */
  private endInitialHold(resuming: boolean): void {
    if (this.holdTimer === null) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = null;
    if (!resuming) this.conn.release();
  }

  private onFrame(frame: Frame): void {
    if (frame.op !== undefined) {
      if (frame.op === 'IDENTIFY') {
        this.identifying = true;
        return this.queue.run(() => this.identify(frame).finally(() => (this.identifying = false)));
      }
      return this.refuse({ code: 'UNKNOWN_OP', message: `Unknown op ${JSON.stringify(frame.op)}` }, frame);
    }
    const user = this.conn.user;
    // Frames right behind an IDENTIFY wait for its answer rather than being refused.
    if (!user && this.identifying) return this.queue.run(() => this.onFrame(frame));
    if (!user) return this.refuse({ code: 'NOT_IDENTIFIED', message: 'Send {"op":"IDENTIFY","d":{"token":"…"}} first' }, frame);
    const command = this.dialect.decode(frame);
    if (isRefusal(command)) {
      this.endInitialHold(false);
      return this.refuse(command, frame);
    }
    if (command.type === 'resume') {
      // One at a time: a client asks once per connect, and a queue of them would only grow.
      if (this.resumePending) {
        return this.refuse({ code: 'RESUME_IN_PROGRESS', message: 'A resume is already under way on this socket: wait for its resumed frame' }, frame);
      }
      this.resumePending = true;
    }
    this.endInitialHold(command.type === 'resume');
    this.queue.run(() => {
      try {
        const result = this.handle(command, user);
        // A command done at once (a send) returns no promise: the queue then makes none.
        if (result instanceof Promise) return result.catch(this.fail(frame));
      } catch (err) {
        this.fail(frame)(err);
      }
    });
  }

  private handle(command: Command, user: Principal): void | Promise<void> {
    const { messages } = this.ctx;
    switch (command.type) {
      case 'send':
        return this.send(command, user);
      case 'typing':
        return messages.typing(user, command.chatId);
      case 'read':
        return messages.markRead(user, command.chatId, command.messageId);
      case 'resume':
        return this.resume(command.after, user);
      case 'ping':
        return this.conn.send('{"type":"pong"}');
    }
  }

  private send({ chatId, content, clientId, fileIds }: Extract<Command, { type: 'send' }>, user: Principal): void {
    // The error that answers a refused send names its client_id.
    const frame = clientId === null ? undefined : { client_id: clientId };
    if (!this.ctx.accepting()) {
      return this.refuse({ code: 'SHUTTING_DOWN', message: 'The server is restarting: send again after reconnecting' }, frame);
    }
    // Submitted at once (not awaited) so that a socket can keep many sends in flight, in order.
    this.ctx.messages.send(user, chatId, content, clientId, fileIds).then(({ message, duplicate }) => {
      // A new message reaches the sender's sockets with everyone else's; a repeat only this one.
      if (duplicate) this.conn.receive(new Outbound({ type: 'message', message }));
    }, this.fail(frame));
  }

  /**
   * Replays the log after `after` up to the present (what was delivered before this socket went
   * live): messages, and the edits, deletes, read markers and chat changes among them, oldest
   * first, in pages of `resumeMaxMessages`, while live frames wait: a client that drops at any
   * moment and resumes after its highest id can then have skipped nothing. The replay waits for the
   * peer to take its frames, so that it never holds more than half the backlog bound.
   */
  private async resume(after: number, user: Principal): Promise<void> {
    const { conn } = this;
    const page = this.ctx.limits.resumeMaxMessages;
    const budget = this.ctx.limits.maxBacklogBytes / 2;
    conn.hold();
    try {
      // Past the user's budget a resume waits for it rather than being refused, so that a client
      // that follows the reconnect procedure still misses nothing; meanwhile live frames are held,
      // within the backlog bound.
      for (let wait = await this.ctx.resumes.take(user.id); wait > 0; wait = await this.ctx.resumes.take(user.id)) {
        await delay(wait);
        if (!conn.open) return;
      }
      // Live frames up to `after` are the client's already (a process behind the one it came from
      // still has them to deliver), but never past the log's end: an `after` from nowhere must not
      // keep every new message from the socket.
      conn.skipThrough(after <= this.liveFrom ? after : Math.min(after, await this.ctx.log.head()));
      let last = after;
      for (;;) {
        const from = last;
        const { entries, last: reached, full } = await this.ctx.replays.run(() => this.ctx.log.forUser(user.id, from, this.liveFrom, page));
        for (const { event } of entries) {
          if (!conn.open) return;
          const frame = this.dialect.encode(event);
          if (frame !== null) {
            conn.write(frame);
            if (this.ctx.frames) this.ctx.frames.replayed++;
          }
          if (conn.backlogBytes > budget) await conn.drained(budget);
        }
        last = reached;
        if (!full) break;
      }
      conn.write(JSON.stringify({ type: 'resumed', last_id: last, complete: true }));
    } finally {
      this.resumePending = false;
      conn.release();
    }
  }

  private async identify(frame: Frame): Promise<void> {
    const { conn } = this;
    if (conn.user) return this.refuse({ code: 'ALREADY_IDENTIFIED', message: 'This socket is already authenticated' }, frame);
    if (identifyFrame(frame) !== null) return conn.close(CloseCode.UNAUTHORIZED, 'IDENTIFY needs d.token');
    let user: Principal;
    try {
      user = await this.ctx.verifyToken((frame as IdentifyFrame).d.token);
    } catch {
      return conn.close(CloseCode.UNAUTHORIZED, 'Invalid token');
    }
    if (tooManySockets(this.ctx, user.id)) return conn.close(CloseCode.POLICY_VIOLATION, 'Too many sockets for this user');
    conn.user = user;
    if (this.identifyTimer) clearTimeout(this.identifyTimer);
    if (!conn.open) return;
    this.goLive();
    conn.write(JSON.stringify({ op: 'READY', d: { user_id: user.id } }));
  }

  private refuse(refusal: Refusal, frame?: Frame): void {
    this.dialect.refuse(this.conn, refusal, frame, this.log);
  }

  private fail(frame: Frame | undefined) {
    return (err: unknown) => {
      if (err instanceof AppError) return this.refuse({ code: err.code, message: err.message, details: err.details }, frame);
      this.log.error({ err }, 'websocket frame failed');
      this.refuse({ code: 'INTERNAL_ERROR', message: 'Internal server error' }, frame);
    };
  }
}

/** Whether the user already holds as many sockets on this process as one may. */
export function tooManySockets(ctx: Pick<GatewayContext, 'realtime' | 'limits'>, userId: number): boolean {
  const max = ctx.limits.maxSocketsPerUser;
  return max > 0 && ctx.realtime.hub.count(userId) >= max;
}
