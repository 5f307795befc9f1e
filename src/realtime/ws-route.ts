import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { bearerToken } from '../auth/bearer.js';
import type { Principal } from '../auth/plugin.js';
import { AppError, chatNotFound } from '../errors.js';
import { messageFrameJson } from '../messages/model.js';
import { RateLimiter } from '../rate-limiter.js';
import { CloseCode, Connection } from './connection.js';
import {
  clientFrames,
  identifyFrame,
  type ClientFrameType,
  type IdentifyFrame,
  type ReadFrame,
  type ResumeFrame,
  type SendFrame,
  type TypingFrame,
} from './frames.js';
import { SerialQueue } from './serial-queue.js';

type Frame = Record<string, unknown>;

/**
 * A new socket holds live frames until its first frame is handled (or this long): a client that
 * resumes at once then gets the replay before anything newer, so each chat stays in id order.
 */
const INITIAL_HOLD_MS = 1000;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on a WebSocket upgrade that carried a valid token (header or `?token=`). */
    wsPrincipal?: Principal;
  }
}

/** `GET /ws`: authentication, then every client frame handled in the order it was sent. */
export default async function wsRoute(app: FastifyInstance) {
  const { config, realtime, messageService, chatQueries } = app;
  const typingLimiter = new RateLimiter<string>(1, Math.max(config.typingThrottleMs, 1));
  let accepting = true;

  app.addHook('preClose', async () => {
    // Refuse new sends, let those under way commit and go out, then say goodbye with 1001.
    accepting = false;
    await messageService.drain();
    realtime.closeAll();
    typingLimiter.stop();
  });

  app.get(
    '/ws',
    {
      websocket: true,
      config: { auth: 'public' },
      preValidation: async (request: FastifyRequest, reply) => {
        if (!originAllowed(request.headers.origin, request.headers.host, config.corsOrigin)) {
          return reply.status(403).send({ error: 'Origin not allowed', code: 'ORIGIN_NOT_ALLOWED' });
        }
        const token = bearerToken(request.headers.authorization) ?? (request.query as { token?: string }).token;
        if (token === undefined || token === '') return; // IDENTIFY will follow
        try {
          request.wsPrincipal = await app.verifyToken(token);
        } catch (err) {
          const { message, code } = err as AppError;
          return reply.status(401).send({ error: message, code });
        }
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      const conn = new Connection(socket, config.ws.maxBacklogBytes, () => realtime.detach(conn));
      const queue = new SerialQueue();
      let identifyTimer: NodeJS.Timeout | null = null;
      let identifying = false;
      let holdTimer: NodeJS.Timeout | null = null;

      const goLive = () => {
        realtime.attach(conn);
        conn.hold();
        holdTimer = setTimeout(() => {
          holdTimer = null;
          conn.release();
        }, INITIAL_HOLD_MS);
      };
      /** The first frame ends the initial hold; a resume ends it itself, after its replay. */
      const endInitialHold = (type: string) => {
        if (holdTimer === null) return;
        clearTimeout(holdTimer);
        holdTimer = null;
        if (type !== 'resume') conn.release();
      };

      const sendError = (error: AppError | { code: string; message: string; details?: object }, frame?: Frame) => {
        const clientId = typeof frame?.client_id === 'string' ? frame.client_id : undefined;
        conn.sendJson({ type: 'error', code: error.code, error: error.message, ...error.details, client_id: clientId });
      };
      const fail = (frame: Frame) => (err: unknown) => {
        if (err instanceof AppError) return sendError(err, frame);
        request.log.error({ err }, 'websocket frame failed');
        sendError({ code: 'INTERNAL_ERROR', message: 'Internal server error' }, frame);
      };

      const handlers: Record<ClientFrameType, (frame: Frame, user: Principal) => void | Promise<void>> = {
        send(frame, user) {
          if (!accepting) return sendError({ code: 'SHUTTING_DOWN', message: 'The server is restarting: send again after reconnecting' }, frame);
          const { chat_id, content, client_id, files } = frame as unknown as SendFrame;
          // Submitted at once (not awaited) so that a socket can keep many sends in flight, in order.
          messageService.send(user, chat_id, content, client_id ?? null, files).then(({ message, duplicate }) => {
            // A new message reaches the sender's sockets with everyone else's; a repeat only this one.
            if (duplicate) conn.send(messageFrameJson(message));
          }, fail(frame));
        },
        async typing(frame, user) {
          const { chat_id } = frame as unknown as TypingFrame;
          if (typingLimiter.take(`${user.id}:${chat_id}`) > 0) return;
          const members = await chatQueries.memberIds(chat_id);
          if (!members.includes(user.id)) throw chatNotFound();
          const others = members.filter((id) => id !== user.id);
          realtime.publish(others, { type: 'typing', chat_id, user_id: user.id, username: user.username });
        },
        async read(frame, user) {
          const { chat_id, message_id } = frame as unknown as ReadFrame;
          await messageService.markRead(user, chat_id, message_id);
        },
        async resume(frame, user) {
          const { after } = frame as unknown as ResumeFrame;
          const max = config.ws.resumeMaxMessages;
          conn.hold();
          try {
            const messages = await messageService.replay(user.id, after, conn.liveFrom, max + 1);
            const complete = messages.length <= max;
            const replayed = messages.slice(0, max);
            for (const message of replayed) conn.write(messageFrameJson(message));
            conn.write(JSON.stringify({ type: 'resumed', last_id: replayed.at(-1)?.id ?? after, complete }));
          } finally {
            conn.release();
          }
        },
        ping() {
          conn.sendJson({ type: 'pong' });
        },
      };

      const identify = async (frame: Frame) => {
        if (conn.user) return sendError({ code: 'ALREADY_IDENTIFIED', message: 'This socket is already authenticated' }, frame);
        if (identifyFrame(frame) !== null) return conn.close(CloseCode.UNAUTHORIZED, 'IDENTIFY needs d.token');
        try {
          conn.user = await app.verifyToken((frame as unknown as IdentifyFrame).d.token);
        } catch {
          return conn.close(CloseCode.UNAUTHORIZED, 'Invalid token');
        }
        if (identifyTimer) clearTimeout(identifyTimer);
        if (!conn.open) return;
        goLive();
        conn.write(JSON.stringify({ op: 'READY', d: { user_id: conn.user.id } }));
      };

      const onFrame = (frame: Frame): void => {
        if (frame.op !== undefined) {
          if (frame.op === 'IDENTIFY') {
            identifying = true;
            return queue.run(() => identify(frame).finally(() => (identifying = false)));
          }
          return sendError({ code: 'UNKNOWN_OP', message: `Unknown op ${JSON.stringify(frame.op)}` }, frame);
        }
        const user = conn.user;
        // Frames right behind an IDENTIFY wait for its answer rather than being refused.
        if (!user && identifying) return queue.run(() => onFrame(frame));
        if (!user) return sendError({ code: 'NOT_IDENTIFIED', message: 'Send {"op":"IDENTIFY","d":{"token":"…"}} first' }, frame);
        const type = frame.type === undefined ? 'send' : frame.type;
        if (typeof type !== 'string' || !Object.hasOwn(handlers, type)) {
          return sendError({ code: 'UNKNOWN_TYPE', message: `Unknown frame type ${JSON.stringify(type)}` }, frame);
        }
        endInitialHold(type);
        const invalid = clientFrames[type as ClientFrameType](frame);
        if (invalid) {
          return sendError({ code: 'VALIDATION_ERROR', message: invalid.message, details: { field: invalid.field } }, frame);
        }
        queue.run(() => {
          try {
            const result = handlers[type as ClientFrameType](frame, user);
            // A handler that is done at once (a send) returns no promise: the queue then makes none.
            if (result instanceof Promise) return result.catch(fail(frame));
          } catch (err) {
            fail(frame)(err);
          }
        });
      };

      // Listeners first, before anything that awaits, so that no early frame is missed.
      socket.on('message', (data, isBinary) => {
        conn.lastActivity = Date.now();
        let frame: unknown;
        try {
          frame = JSON.parse(isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString());
        } catch {
          return sendError({ code: 'INVALID_JSON', message: 'The frame is not valid JSON' });
        }
        if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
          return sendError({ code: 'INVALID_FRAME', message: 'A frame must be a JSON object' });
        }
        onFrame(frame as Frame);
      });
      socket.on('pong', () => {
        conn.lastActivity = Date.now();
      });
      socket.on('close', () => {
        if (identifyTimer) clearTimeout(identifyTimer);
        if (holdTimer) clearTimeout(holdTimer);
        realtime.detach(conn);
      });

      if (request.wsPrincipal) {
        conn.user = request.wsPrincipal;
        goLive();
      } else {
        identifyTimer = setTimeout(
          () => conn.close(CloseCode.UNAUTHORIZED, 'No IDENTIFY within the time allowed'),
          config.ws.identifyTimeoutMs,
        );
      }
    },
  );
}


/**
 * CORS does not cover WebSockets: a browser page from another origin is refused here, unless
 * CORS_ORIGIN allows it. Pages served by this server (the web client) are always allowed.
 */
function originAllowed(origin: string | undefined, host: string | undefined, allowed: string): boolean {
  if (origin === undefined || allowed === '*') return true;
  if (URL.canParse(origin) && new URL(origin).host === host) return true;
  return allowed.split(',').some((o) => o.trim() === origin);
}
