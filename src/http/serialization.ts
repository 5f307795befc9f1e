import fastJsonStringify from 'fast-json-stringify';
import type { FastifyInstance } from 'fastify';

/**
 * Fastify's own serializer (fast-json-stringify, with the default options), built when a route
 * first answers with it rather than for every response schema at start-up, as validators are.
 */
export function useSerializers(app: FastifyInstance): void {
  app.setSerializerCompiler(({ schema }) => {
    let serialize: ((data: unknown) => string) | undefined;
    return (data) => (serialize ??= fastJsonStringify(schema))(data);
  });
}
