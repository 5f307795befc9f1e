import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { serverFiles } from '../runtime/files.js';

const ROUTE_PREFIX = '/docs';
const STATIC_INDEX = `${ROUTE_PREFIX}/static/index.html`;

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
          'REST API of the messaging server: the native API under /v1, the shindensen client\'s unprefixed ' +
          'surface and the rooms server\'s /api surface (docs/surfaces.md). Real-time frames (GET /v1/ws, GET /ws, ' +
          'GET /api/ws/{room_id}) are described in docs/websocket.md and docs/surfaces.md. ' +
          'Every error answer is {error, code}.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      tags: [
        { name: 'auth' },
        { name: 'users' },
        { name: 'chats' },
        { name: 'rooms', description: 'Public chats: the directory, making and joining rooms' },
        { name: 'messages' },
        { name: 'files' },
        { name: 'shindensen', description: 'The Axum + SQLite DM server\'s surface, frozen: exactly its shapes (docs/surfaces.md)' },
        { name: 'rooms-api', description: 'The Actix + PostgreSQL rooms server\'s /api surface, frozen: exactly its shapes (docs/surfaces.md)' },
      ],
    },
  });
  // Swagger UI's page and scripts: the plugin's code, bundled, cannot find them beside itself (its
  // documented `baseDir` and `logo`; `baseDir` also serves those public files at /docs/<file>,
  // besides /docs/static/<file>).
  const uiFiles = serverFiles.swaggerUi();
  const logo = { type: 'image/svg+xml', content: await readFile(path.join(uiFiles, 'logo.svg')) };
  await app.register(swaggerUi, { routePrefix: ROUTE_PREFIX, baseDir: uiFiles, logo, uiHooks: { onRequest: redirectStaticIndex } });
}

/**
 * The plugin sends its static index.html to the page by rewriting a url that ends in the file's
 * name: one with a query is sent to itself, for ever. The page takes no query: it goes.
 */
async function redirectStaticIndex(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  return request.routeOptions.url === STATIC_INDEX ? reply.redirect(`${ROUTE_PREFIX}/`) : undefined;
}
