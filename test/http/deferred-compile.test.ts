import Fastify from 'fastify';
import t from 'tap';
import { compileLater, warmUpOnListen } from '../../src/http/deferred-compile.js';

/** Resolves once `done()` holds, checking once per event-loop turn; rejects after `timeoutMs`. */
async function until(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function counted<T>(value: T) {
  const compile = () => {
    compile.calls++;
    return value;
  };
  compile.calls = 0;
  return compile;
}

t.test('nothing is compiled before it is used or the server listens; then each once', async (t) => {
  const used = counted('used');
  const idle = counted('idle');
  const getUsed = compileLater(used);
  const getIdle = compileLater(idle);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(used.calls + idle.calls, 0, 'nothing at start-up');

  t.equal(getUsed(), 'used', 'compiled by its first use');
  t.equal(getUsed(), 'used');
  t.equal(used.calls, 1, 'once');

  const logged: string[] = [];
  const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => logged.push(JSON.parse(line).msg) } } });
  warmUpOnListen(app);
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  await until(() => logged.includes('every schema is compiled'));
  t.equal(idle.calls, 1, 'compiled once the server listens, which says when all are');
  t.equal(getIdle(), 'idle');
  t.equal(idle.calls, 1, 'and not again by its first use');
  t.equal(used.calls, 1, 'what was already compiled is not compiled again');
});

t.test('a schema that does not compile is logged by the warm-up, which goes on, and fails its first use', async (t) => {
  const broken = compileLater<string>(() => {
    throw new Error('bad schema');
  });
  const after = counted('after');
  const getAfter = compileLater(after);
  const logged: { level: number; msg: string; err?: { message: string } }[] = [];
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } });
  warmUpOnListen(app);
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  await until(() => after.calls > 0);
  t.match(logged, [{ level: 50, msg: 'a schema does not compile', err: { message: 'bad schema' } }], 'logged as an error');
  t.equal(getAfter(), 'after', 'the warm-up went on past it');
  t.throws(() => broken(), /bad schema/, 'its first use throws');
});

t.test('a closed server stops warming up', async (t) => {
  const compile = counted('x');
  const gets = Array.from({ length: 1000 }, () => compileLater(compile));
  const app = Fastify();
  warmUpOnListen(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  await app.close();
  const atClose = compile.calls;
  for (let turn = 0; turn < 1000; turn++) await new Promise((resolve) => setImmediate(resolve));
  t.ok(compile.calls < 1000, `stopped (${atClose} compiled by the close, ${compile.calls} after 1,000 more turns)`);
  t.equal(compile.calls, atClose, 'nothing after it');
  t.equal(gets[999]!(), 'x', 'the rest compile when used');
});
