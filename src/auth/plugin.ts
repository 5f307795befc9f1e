import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { unauthorized } from '../errors.js';
import { resolveJwtSecret } from './jwt-secret.js';

/** Who a request or socket acts for. */
export interface Principal {
  id: number;
  username: string;
}

interface Claims {
  sub: string;
  user_id: number;
  username: string;
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
    issueToken: (user: Principal) => string;
    /** Checks a token from elsewhere than the header (WebSocket `?token=` or IDENTIFY). */
    verifyToken: (token: string) => Promise<Principal>;
  }
}

export default fp(
  async function auth(app: FastifyInstance) {
    const { config } = app;
    await app.register(fastifyJwt, {
      secret: resolveJwtSecret(config),
      sign: { expiresIn: `${config.jwtTtlSeconds}s` },
      formatUser: (claims) => ({ id: claims.user_id, username: claims.username }),
    });

    // A token can outlive its account's database (a reset, another server): check it once per user.
    const knownUsers = new Set<number>();
    async function ensureExists(principal: Principal): Promise<Principal> {
      if (!Number.isInteger(principal.id)) throw unauthorized('INVALID_TOKEN', 'The token is not valid');
      if (knownUsers.has(principal.id)) return principal;
      const row = await app.db.kysely.selectFrom('users').select('id').where('id', '=', principal.id).executeTakeFirst();
      if (!row) throw unauthorized('INVALID_TOKEN', 'The token names an account that does not exist');
      knownUsers.add(principal.id);
      return principal;
    }

    app.decorate('issueToken', (user: Principal) =>
      app.jwt.sign({ sub: String(user.id), user_id: user.id, username: user.username }),
    );
    app.decorate('authenticate', async (request: FastifyRequest) => {
      try {
        await request.jwtVerify();
      } catch (err) {
        // @fastify/jwt answers its own errors with a status (401 expired, invalid…); fast-jwt's own
        // (an algorithm that is not ours, a token not valid before a later time) come bare.
        if ((err as { statusCode?: number }).statusCode !== undefined) throw err;
        throw unauthorized('INVALID_TOKEN', 'The token is not valid');
      }
      await ensureExists(request.user);
    });
    app.decorate('verifyToken', async (token: string) => {
      let claims: Claims;
      try {
        claims = app.jwt.verify<Claims>(token);
      } catch {
        throw unauthorized('INVALID_TOKEN', 'The token is not valid');
      }
      return ensureExists({ id: claims.user_id, username: claims.username });
    });
  },
  { name: 'auth', dependencies: ['db'] },
);
