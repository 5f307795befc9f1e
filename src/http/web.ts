import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { projectRoot } from '../paths.js';

/** The web client: static files from web/, served at `/`. */
export async function registerWebClient(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: path.join(projectRoot, 'web'), prefix: '/', wildcard: false });
}
