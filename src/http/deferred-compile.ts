import type { FastifyInstance } from 'fastify';

// Compiling every route's and frame's schemas (Ajv validators, fast-json-stringify serializers)
// took about a third of the start-up time. They are compiled when first used, or in idle turns
// once the server listens, so that neither start-up nor the first requests wait for all of them.
const pending = new Set<() => unknown>();

/** `compile`, run at most once: by the first call of the function returned, or by the warm-up. */
export function compileLater<F>(compile: () => F): () => F {
  let compiled: F | undefined;
  const get = (): F => {
    if (compiled === undefined) {
      compiled = compile();
      pending.delete(get);
    }
    return compiled;
  };
  pending.add(get);
  return get;
}

/** Once the server listens, compiles what is still pending, one schema per event-loop turn. */
export function warmUpOnListen(app: FastifyInstance): void {
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });
  app.addHook('onListen', async () => {
    setImmediate(function step() {
      if (closing) return;
      const next = pending.values().next();
      if (next.done) {
        app.log.debug('every schema is compiled');
        return;
      }
      try {
        next.value();
      } catch (err) {
        // Said now rather than at the route's first request, which will answer with the error.
        app.log.error({ err }, 'a schema does not compile');
        pending.delete(next.value);
      }
      setImmediate(step);
    });
  });
}
