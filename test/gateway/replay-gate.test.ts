import t from 'tap';
import { ReplayGate } from '../../src/gateway/replay-gate.js';

t.test('a few replay pages at a time, first come first served, each after a turn of the event loop', async (t) => {
  const gate = new ReplayGate(2);
  let running = 0;
  let most = 0;
  const started: number[] = [];
  let io = false;
  setImmediate(() => (io = true));
  const pages = Array.from({ length: 8 }, (_, i) =>
    gate.run(async () => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return i;
    }),
  );
  t.same(await Promise.all(pages), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.equal(most, 2, 'never more than two at once');
  t.same(started, [0, 1, 2, 3, 4, 5, 6, 7], 'in the order they came');
  t.ok(io, 'the event loop turned before the first');
  await t.rejects(gate.run(async () => Promise.reject(new Error('a failed read'))), /a failed read/);
  t.equal(await gate.run(async () => 'free'), 'free', 'a failed read gives its slot back');
});
