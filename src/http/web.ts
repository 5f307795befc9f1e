import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { serverFiles } from '../runtime/files.js';

/** The web client: static files from web/, served at `/`. */
export async function registerWebClient(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: serverFiles.webClient(), prefix: '/', wildcard: false });
}
