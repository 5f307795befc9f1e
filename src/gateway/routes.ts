import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { bearerToken } from '../auth/bearer.js';
import type { Principal } from '../auth/plugin.js';
import type { Config } from '../config.js';
import { AppError, unauthorized } from '../errors.js';
import { tokenBuckets } from '../rate-limit-store.js';
import { CloseCode } from './connection.js';
import type { Dialect } from './dialect.js';
import { nativeDialect } from './dialects/native.js';
import { roomsDialect } from './dialects/rooms.js';
import { shindensenDialect } from './dialects/shindensen.js';
import { ReplayGate } from './replay-gate.js';
import { Session, tooManySockets, type GatewayContext } from './session.js';
import { SocketsPerAddress } from './sockets-per-address.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on a WebSocket upgrade that carried a valid token (header or `?token=`). */
    wsPrincipal?: Principal;
    /** How the upgraded socket speaks: chosen on the upgrade request. */
    wsDialect?: Dialect;
  }
}

/** The sockets of every surface: `/v1/ws` (native), `/ws` (shindensen) and `/api/ws/{room_id}` (rooms), over one hub. */
export default async function gateway(app: FastifyInstance) {
  const { config, realtime, messageService, roomService } = app;
  const shindensen = shindensenDialect(app.files.links);
  let accepting = true;
  const { resume, resumeWindowMs } = config.rateLimits;
  // Per process: a replay's cost falls on the process that serves it.
  const resumes = tokenBuckets<number>(resume, resumeWindowMs, null, 'resume', app.log);
  const perAddress = new SocketsPerAddress(config.ws.maxSocketsPerIp);
  const context: GatewayContext = {
    realtime,
    messages: messageService,
    log: app.logReader,
    // A few pages at once keep PostgreSQL's pool busy; more would only queue.
    replays: new ReplayGate(4),
    resumes,
    verifyToken: app.verifyToken,
    accepting: () => accepting,
    limits: config.ws,
    frames: app.metrics?.frames ?? null,
  };

  app.addHook('preClose', async () => {
    // Refuse new sends, let those under way commit and go out, then say goodbye with 1001.
    accepting = false;
    await messageService.drain();
    realtime.closeAll(CloseCode.GOING_AWAY, 'Server shutting down');
    resumes.stop();
  });

  /**
   * A socket route. `admit` runs on the upgrade request once its token is checked, and refuses it
   * with an error (a room that does not exist) or picks the socket's dialect.
   */
  const socketRoute = (url: string, admit: (request: FastifyRequest) => Dialect | Promise<Dialect>, tokenOnUpgrade = false) =>
    app.get(
      url,
      {
        websocket: true,
        config: { auth: 'public' },
        preValidation: async (request: FastifyRequest, reply) => {
          const { origin, host } = request.headers;
          if (!originAllowed(origin, host, config)) {
            // Said in the log too: behind a proxy that rewrites Host, the operator needs PUBLIC_URL.
            request.log.warn({ origin, host }, 'WebSocket refused: its Origin is neither this server (Host or PUBLIC_URL) nor in CORS_ORIGIN');
            return reply.status(403).send({ error: 'Origin not allowed', code: 'ORIGIN_NOT_ALLOWED' });
          }
          if (perAddress.full(request.ip)) {
            return reply.status(429).send({ error: 'Too many sockets from this address', code: 'TOO_MANY_SOCKETS' });
          }
          if (!realtime.delivering) {
            return reply.status(503).send({ error: 'This process cannot deliver messages now: try again later', code: 'DELIVERY_UNAVAILABLE' });
          }
          const token = bearerToken(request.headers.authorization) ?? queryToken(request.url);
          try {
            if (token !== undefined && token !== '') {
              request.wsPrincipal = await app.verifyToken(token);
              if (tooManySockets(context, request.wsPrincipal.id)) {
                return reply.status(429).send({ error: 'Too many sockets for this user', code: 'TOO_MANY_SOCKETS' });
              }
            }
            // Otherwise IDENTIFY will follow, where the surface has it.
            else if (tokenOnUpgrade) throw unauthorized('UNAUTHORIZED', 'The socket needs ?token=<jwt>');
            request.wsDialect = await admit(request);
          } catch (err) {
            if (!(err instanceof AppError)) throw err;
            return reply.status(err.status).send({ error: err.message, code: err.code });
          }
        },
      },
      (socket: WebSocket, request: FastifyRequest) => {
        perAddress.opened(request.ip, socket);
        app.metrics?.socketOpened(request.wsDialect!.name, socket);
        new Session(socket, request.wsDialect!, context, request.log, request.wsPrincipal);
      },
    );

  socketRoute('/v1/ws', () => nativeDialect);
  socketRoute('/ws', () => shindensen);
  // The rooms server's socket follows one room; opening it makes its user a member, before the
  // upgrade completes, so that whatever the client posts once it is open comes back on it.
  socketRoute(
    '/api/ws/:room_id',
    async (request) => {
      const room = await roomService.byUuid((request.params as { room_id: string }).room_id);
      await roomService.ensureMember(request.wsPrincipal!, room);
      return roomsDialect(room, app.files.links);
    },
    true,
  );
}

/**
 * CORS does not cover WebSockets: a browser page from another origin is refused here, unless
 * CORS_ORIGIN allows it. Pages served by this server (the web client) are always allowed: those
 * whose origin is the Host they asked, or PUBLIC_URL (a proxy may have rewritten Host).
 */
function originAllowed(origin: string | undefined, host: string | undefined, config: Pick<Config, 'corsOrigin' | 'publicOrigin'>): boolean {
  if (origin === undefined || config.corsOrigin === '*') return true;
  if (origin === config.publicOrigin) return true;
  if (URL.canParse(origin) && new URL(origin).host === host) return true;
  return config.corsOrigin.split(',').some((o) => o.trim() === origin);
}

/**
 * `?token=` exactly as the contract spells it. Fastify's parser decodes names, so `?%74oken=`
 * would authenticate too, under a name that log redaction and proxies' filters do not know.
 */
function queryToken(url: string): string | undefined {
  const query = url.indexOf('?');
  if (query === -1) return undefined;
  for (const pair of url.slice(query + 1).split('&')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq) === 'token') {
      try {
        return decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
