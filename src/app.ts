import cors from '@fastify/cors';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import authPlugin from './auth/plugin.js';
import authRoutes from './auth/routes.js';
import chatsRoutes from './chats/routes.js';
import type { Config } from './config.js';
import dbPlugin from './db/plugin.js';
import { AppError } from './errors.js';
import filesRoutes from './files/routes.js';
import errorHandler from './http/error-handler.js';
import { warmUpOnListen } from './http/deferred-compile.js';
import { registerDocs } from './http/docs.js';
import { redactUrl } from './http/log-redaction.js';
import { registerSecurityHeaders } from './http/security-headers.js';
import { useSerializers } from './http/serialization.js';
import { useValidators } from './http/validation.js';
import { registerWebClient } from './http/web.js';
import messagesRoutes from './messages/routes.js';
import { registerMetrics } from './metrics/route.js';
import { onSocketError } from './gateway/connection.js';
import gateway from './gateway/routes.js';
import { connectLimitStore, failOpen } from './rate-limit-store.js';
import roomsApiRoutes from './rooms-api/routes.js';
import roomsRoutes from './rooms/routes.js';
import services from './services.js';
import shindensenRoutes from './shindensen/routes.js';
import usersRoutes from './users/routes.js';
import { VERSION } from './version.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
  interface FastifyContextConfig {
    /** `public`: no bearer token needed (login, health, the WebSocket, which authenticates itself). */
    auth?: 'public';
  }
}

/** Assembles the server without listening: tests inject requests or listen on port 0. */
export async function buildApp(config: Config, options: Pick<FastifyServerOptions, 'logger'> = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      // @fastify/multipart logs the request's headers, Authorization included, at trace level.
      redact: { paths: ['busboyOptions.headers.authorization', 'busboyOptions.headers.cookie'], remove: true },
      serializers: {
        // Never log a `?token=` (the WebSocket URL) or a file url's `sig=`; headers, and so Authorization, are not logged.
        req: (req) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
      },
    },
    bodyLimit: config.bodyLimitBytes,
    // A hop count as proxy-addr reads it: the first `n` hops from the socket are proxies.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    forceCloseConnections: 'idle',
    // A URL that cannot be decoded (`/chats/%`) is the one error Fastify answers before routing.
    frameworkErrors: (_error, _request, reply) => {
      (reply as FastifyReply).status(400).send({ error: 'The URL could not be decoded', code: 'BAD_URL' });
    },
  });
  app.decorate('config', config);
  closeConnectionsAsTheyIdle(app);
  try {
    await assemble(app, config);
  } catch (err) {
    // What did start (the database and its worker thread) is closed, not left running.
    await app.close();
    throw err;
  }
  return app;
}

async function assemble(app: FastifyInstance, config: Config): Promise<void> {
  useValidators(app);
  useSerializers(app);
  warmUpOnListen(app);
  // JSON only: any other content type is a 415, not a body the schema then rejects.
  app.removeContentTypeParser('text/plain');
  // Many HTTP clients send Content-Type: application/json on every request: an empty body is no body.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body === '' ? done(null, undefined) : parseJson(request, body as string, done),
  );

  await app.register(errorHandler);
  await app.register(cors, { origin: corsOrigin(config.corsOrigin) });
  await registerSecurityHeaders(app);
  await app.register(dbPlugin);
  await app.register(services);
  await app.register(authPlugin);
  // Public, and registered before the hooks below (tokens, rate limits) so that they leave their routes alone.
  await registerDocs(app);
  await registerWebClient(app);
  // Checks its own token, and a scraper that polls it is no client to rate-limit.
  await registerMetrics(app);

  // Every route needs a bearer token unless it says otherwise: checked before the body is read.
  app.addHook('onRoute', (route) => {
    if (route.config?.auth === 'public') return;
    route.onRequest = [app.authenticate, ...toArray(route.onRequest)];
    route.schema = { ...route.schema, security: [{ bearerAuth: [] }] };
  });
  await registerRateLimits(app, config);

  await app.register(websocket, { options: { maxPayload: config.ws.maxFrameBytes }, preClose: (done) => done(), errorHandler: onSocketError });
  // Three surfaces over one database and one hub (COMPAT.md): the native API under /v1, the
  // shindensen client's unprefixed paths, and the rooms server's /api.
  await app.register(gateway);
  await app.register(nativeApi, { prefix: '/v1' });
  await app.register(shindensenRoutes);
  await app.register(roomsApiRoutes, { prefix: '/api' });

  app.get('/healthz', { config: { auth: 'public' } }, async (_request, reply) => {
    try {
      await app.db.kysely.selectFrom('users').select('id').limit(1).execute();
    } catch {
      return reply.status(503).send({ error: 'The database does not answer', code: 'DATABASE_UNAVAILABLE' });
    }
    // A balancer that checks this sends no one to a process that cannot deliver what they are sent.
    if (!app.realtime.delivering) {
      return reply.status(503).send({ error: 'This process cannot hear of new messages', code: 'DELIVERY_UNAVAILABLE' });
    }
    if (!app.realtime.brokerConnected) {
      return reply.status(503).send({ error: 'Redis does not answer: typing and presence do not cross processes', code: 'REDIS_UNAVAILABLE' });
    }
    return { status: 'ok', version: VERSION };
  });
}

async function nativeApi(app: FastifyInstance): Promise<void> {
  await app.register(authRoutes);
  await app.register(usersRoutes);
  await app.register(chatsRoutes);
  await app.register(roomsRoutes);
  await app.register(messagesRoutes);
  await app.register(filesRoutes);
}

/**
 * Per client address: the routes that check passwords (every surface's) share one budget, every
 * other route shares another (limits of 0 are off). Checked first, before the token. With Redis,
 * every process counts in it, so that N processes allow the limit and not N times it.
 */
async function registerRateLimits(app: FastifyInstance, config: Config): Promise<void> {
  const { auth, authWindowMs, api, apiWindowMs } = config.rateLimits;
  const redis = config.redisUrl ? await connectLimitStore(config.redisUrl, app.log) : null;
  if (redis) {
    // Nothing is left to send by then: every request that counted has been answered.
    app.addHook('onClose', async () => redis.disconnect());
  }
  // The prefix keeps apart the deployments (or tests) that share one Redis, as their channels do.
  // skipOnError stays false: it would let requests through without a word; `enforce` logs it.
  await app.register(rateLimit, { global: false, ...(redis && { redis, nameSpace: `${config.redisChannel}:limits:http:` }) });
  // The plugin gives each route a store of its own; a limiter made here is one budget for many routes.
  // In Redis both limiters' stores share one key space: the key names the limiter.
  const limiter = (name: string, max: number, timeWindow: number) =>
    max > 0 ? app.createRateLimit({ max, timeWindow, keyGenerator: (request) => `${name}:${normalizeIP(request.ip)}` }) : null;
  const limiters = { auth: limiter('auth', auth, authWindowMs), api: limiter('api', api, apiWindowMs) };
  const health = failOpen(app.log, 'the HTTP rate limits could not reach Redis: requests go through uncounted until it answers');
  app.addHook('onRoute', (route) => {
    if (route.websocket || route.url === '/healthz') return;
    const check = isAuthRoute(route.url) ? limiters.auth : limiters.api;
    if (!check) return;
    const enforce = async (request: FastifyRequest, reply: FastifyReply) => {
      const result = await check(request).catch((err: unknown) => health.failed(err));
      if (!result) return; // Redis did not answer: fail open (see failOpen).
      health.ok();
      if (result.isAllowed || !result.isExceeded) return;
      reply.header('retry-after', String(Math.max(1, Math.ceil(result.ttl / 1000))));
      throw new AppError(429, 'RATE_LIMITED', `Too many requests: try again in ${Math.ceil(result.ttl / 1000)} s`, {
        retry_after_ms: result.ttl,
      });
    };
    route.onRequest = [enforce, ...toArray(route.onRequest)];
  });
}

/** The routes that check passwords, on every surface. */
const AUTH_ROUTES = new Set(['/v1/login', '/v1/register', '/v1/me/password', '/login', '/api/login', '/api/register']);
const isAuthRoute = (url: string) => AUTH_ROUTES.has(url);

function corsOrigin(setting: string): string | string[] | boolean {
  if (setting === '*') return '*';
  if (setting === '') return false;
  return setting.split(',').map((o) => o.trim());
}

/**
 * Fastify closes the connections that are idle when it starts to close ('idle' above), once. A
 * keep-alive connection still sending an answer then (a file's bytes) goes idle only afterwards,
 * and would hold the close up until its keep-alive timeout (72 s): it is closed once it is idle.
 */
function closeConnectionsAsTheyIdle(app: FastifyInstance): void {
  app.addHook('preClose', async () => {
    if (!app.server.listening) return;
    const timer = setInterval(() => app.server.closeIdleConnections(), 50).unref();
    app.server.once('close', () => clearInterval(timer));
  });
}

function toArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

const trustHops =
  (hops: number) =>
  (_address: string, hop: number): boolean =>
    hop < hops;
