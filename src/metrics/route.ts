import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { bearerToken } from '../auth/bearer.js';
import { unauthorized } from '../errors.js';

/**
 * Headers a proxy adds. A proxy on this machine makes every request it passes on come from
 * loopback: one that carries them was not made here, whatever its socket says.
 */
const PROXY_HEADERS = ['forwarded', 'x-forwarded-for', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto'];

/**
 * `GET /metrics`, when metrics are on. With `METRICS_TOKEN`, for whoever sends it as a bearer token
 * (else 401); without one, for requests made on this machine only, and to anyone else it is the
 * 404 of a route that does not exist. Left out of the API's docs.
 */
export async function registerMetrics(app: FastifyInstance): Promise<void> {
  const { metrics } = app;
  if (!metrics) return;
  const expected = digest(app.config.metricsToken);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (expected) {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) throw unauthorized('UNAUTHORIZED', 'Authorization: Bearer <METRICS_TOKEN> is required');
      if (!timingSafeEqual(digest(token)!, expected)) throw unauthorized('INVALID_TOKEN', 'The metrics token is not valid');
    } else if (!fromThisMachine(request)) {
      return reply.callNotFound();
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/** Equal lengths whatever the token's, so that comparing them tells nothing of its length either. */
const digest = (token: string | null) => (token === null ? null : createHash('sha256').update(token).digest());

/** The socket's peer is loopback (never `request.ip`, which a trusted proxy's header sets) and no proxy passed it on. */
function fromThisMachine(request: FastifyRequest): boolean {
  if (PROXY_HEADERS.some((name) => request.headers[name] !== undefined)) return false;
  return isLoopback(request.socket.remoteAddress);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}
