import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { unauthorized } from '../errors.js';
import { resolveJwtSecret } from './jwt-secret.js';

/** Who a request or socket acts for, and the session its token belongs to. */
export interface Principal {
  id: number;
  username: string;
  sid: string;
}

interface Claims {
  sub: string;
  user_id: number;
  username: string;
  sid: string;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Claims;
    user: Principal;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for every route that needs `Authorization: Bearer <jwt>`. */
    authenticate: (request: FastifyRequest) => Promise<void>;
    /** A token of a new session for `user`. */
    issueToken: (user: { id: number; username: string }) => Promise<string>;
    /** Checks a token from elsewhere than the header (WebSocket `?token=` or IDENTIFY). */
    verifyToken: (token: string) => Promise<Principal>;
  }
}

const invalidToken = () => unauthorized('INVALID_TOKEN', 'The token is not valid');

export default fp(
  async function auth(app: FastifyInstance) {
    const { config, sessions } = app;
    await app.register(fastifyJwt, {
      secret: resolveJwtSecret(config),
      sign: { expiresIn: `${config.jwtTtlSeconds}s` },
      formatUser: (claims) => ({ id: claims.user_id, username: claims.username, sid: claims.sid }),
    });

    // Every request and socket: a token is good only while its session is, in this database.
    async function ensureActive(principal: Principal): Promise<Principal> {
      if (!Number.isInteger(principal.id) || typeof principal.sid !== 'string') throw invalidToken();
      if (!(await sessions.isActive(principal.id, principal.sid))) {
        throw unauthorized('INVALID_TOKEN', 'The token\'s session has ended: log in again');
      }
      return principal;
    }

    app.decorate('issueToken', async (user: { id: number; username: string }) => {
      const sid = await sessions.start(user.id);
      return app.jwt.sign({ sub: String(user.id), user_id: user.id, username: user.username, sid });
    });
    app.decorate('authenticate', async (request: FastifyRequest) => {
      try {
        await request.jwtVerify();
      } catch (err) {
        // @fastify/jwt answers its own errors with a status (401 expired, invalid…); fast-jwt's own
        // (an algorithm that is not ours, a token not valid before a later time) come bare.
        if ((err as { statusCode?: number }).statusCode !== undefined) throw err;
        throw invalidToken();
      }
      await ensureActive(request.user);
    });
    app.decorate('verifyToken', async (token: string) => {
      let claims: Claims;
      try {
        claims = app.jwt.verify<Claims>(token);
      } catch {
        throw invalidToken();
      }
      return ensureActive({ id: claims.user_id, username: claims.username, sid: claims.sid });
    });
  },
  { name: 'auth', dependencies: ['db', 'services'] },
);
