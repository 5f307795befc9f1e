import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { bearerToken } from '../auth/bearer.js';
import type { Principal } from '../auth/plugin.js';
import type { AppError } from '../errors.js';
import { CloseCode } from './connection.js';
import type { Dialect } from './dialect.js';
import { nativeDialect } from './dialects/native.js';
import { shindensenDialect } from './dialects/shindensen.js';
import { Session, type GatewayContext } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on a WebSocket upgrade that carried a valid token (header or `?token=`). */
    wsPrincipal?: Principal;
  }
}

/** The sockets of every surface: `/v1/ws` (native) and `/ws` (shindensen), over one hub. */
export default async function gateway(app: FastifyInstance) {
  const { config, realtime, messageService } = app;
  let accepting = true;
  const context: GatewayContext = {
    realtime,
    messages: messageService,
    verifyToken: app.verifyToken,
    accepting: () => accepting,
    limits: config.ws,
  };

  app.addHook('preClose', async () => {
    // Refuse new sends, let those under way commit and go out, then say goodbye with 1001.
    accepting = false;
    await messageService.drain();
    realtime.closeAll(CloseCode.GOING_AWAY, 'Server shutting down');
  });

  const socketRoute = (url: string, dialect: Dialect) =>
    app.get(
      url,
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
        new Session(socket, dialect, context, request.log, request.wsPrincipal);
      },
    );

  socketRoute('/v1/ws', nativeDialect);
  socketRoute('/ws', shindensenDialect(app.files.links));
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
