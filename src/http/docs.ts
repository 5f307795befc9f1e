import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI generated from the route schemas the server validates with: the document at
 * /docs/json and a browsable page at /docs. Registered before the routes, which it collects.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'dm-server',
        version: '1',
        description:
          'REST API of the messaging server. Real-time frames (GET /ws) are described in the README. ' +
          'Every error answer is {error, code}.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [{ name: 'auth' }, { name: 'users' }, { name: 'chats' }, { name: 'messages' }, { name: 'files' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
