import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Lets a few replay pages be read at a time, first come first served, each in a turn of the event
 * loop of its own. When thousands of devices resume at once (a restart), their reads would
 * otherwise queue on the database all together and run as one chain of promises, holding the event
 * loop for seconds: no pong read, no socket accepted, no health check answered meanwhile.
 */
export class ReplayGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  async run<T>(read: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      // Whatever came in meanwhile (frames, pongs, connections) is read before this page.
      await nextTurn();
      return await read();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next in line.
      if (next) next();
      else this.running--;
    }
  }
}
