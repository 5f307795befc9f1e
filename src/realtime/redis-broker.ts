import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { Broker, Delivery } from './broker.js';

/**
 * Fan-out across processes over Redis pub/sub: every process publishes each event to one channel
 * and delivers what it receives from it, its own events included, so that all processes see the
 * events of all others in one order.
 */
export class RedisBroker implements Broker {
  private constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly channel: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Connects both clients; fails start-up with a clear message when Redis cannot be reached. */
  static async connect(url: string, channel: string, log: FastifyBaseLogger): Promise<RedisBroker> {
    const options = { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 3 };
    const pub = new Redis(url, options);
    const sub = new Redis(url, options);
    for (const client of [pub, sub]) client.on('error', (err) => log.warn({ err }, 'redis connection error'));
    try {
      await Promise.all([pub.connect(), sub.connect()]);
      await sub.subscribe(channel);
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw new Error(`Cannot reach Redis at REDIS_URL (${(err as Error).message})`, { cause: err });
    }
    return new RedisBroker(pub, sub, channel, log);
  }

  get connected(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready';
  }

  publish(delivery: Delivery): void {
    this.pub.publish(this.channel, JSON.stringify(delivery)).catch((err: unknown) => {
      this.log.error({ err }, 'an event could not be published to Redis');
    });
  }

  subscribe(listener: (delivery: Delivery) => void): void {
    this.sub.on('message', (channel: string, data: string) => {
      if (channel === this.channel) listener(JSON.parse(data) as Delivery);
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
