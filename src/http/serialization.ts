import fastJsonStringify from 'fast-json-stringify';
import type { FastifyInstance } from 'fastify';
import { compileLater } from './deferred-compile.js';

/** Fastify's own serializer (fast-json-stringify, with its default options), compiled later (deferred-compile.ts). */
export function useSerializers(app: FastifyInstance): void {
  app.setSerializerCompiler(({ schema }) => {
    const compiled = compileLater(() => fastJsonStringify(schema));
    return (data) => compiled()(data);
  });
}
