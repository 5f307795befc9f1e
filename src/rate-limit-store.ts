import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimiter } from './rate-limiter.js';

/**
 * A token bucket per key, as `RateLimiter` counts it: in this process, or, behind a balancer, one
 * bucket per key for every process through Redis.
 */
export interface TokenBuckets<K> {
  /** 0 when allowed (and counted), otherwise the milliseconds until one more is allowed. */
  take(key: K): Promise<number>;
  stop(): void;
}

type Log = Pick<FastifyBaseLogger, 'warn'>;

/**
 * `limit` per `windowMs` per key (0 is off). With Redis, keys are `<prefix>:<key>`. The buckets
 * take a logger rather than leave it to the caller: they fail open (see `failOpen`), so a caller
 * would see only 0 and could not tell an outage from an allowance.
 */
export function tokenBuckets<K extends string | number>(
  limit: number,
  windowMs: number,
  redis: Redis | null,
  prefix: string,
  log: Log,
): TokenBuckets<K> {
  if (redis === null) {
    const limiter = new RateLimiter<K>(limit, windowMs);
    return { take: async (key) => limiter.take(key), stop: () => limiter.stop() };
  }
  if (limit === 0) return { take: async () => 0, stop: () => {} };
  if (!('takeToken' in redis)) redis.defineCommand('takeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
  const client = redis as Redis & { takeToken(key: string, limit: number, windowMs: number): Promise<number> };
  const health = failOpen(log, 'a rate limit could not reach Redis: the limit is not applied until it answers');
  return {
    async take(key) {
      try {
        const wait = await client.takeToken(`${prefix}:${key}`, limit, windowMs);
        health.ok();
        return wait;
      } catch (err) {
        health.failed(err);
        return 0;
      }
    },
    // The client belongs to whoever connected it: it may serve other buckets.
    stop: () => {},
  };
}

/**
 * RateLimiter.take in one atomic step, so that processes taking from one bucket at once cannot
 * both spend its last token. Redis's clock, not the processes' (which may disagree), measures the
 * refill. After a window without a take the bucket is full again, which is what a missing key
 * means, so PEXPIRE drops idle keys without changing any answer.
 */
const TAKE_TOKEN = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or limit
local at = tonumber(state[2]) or now
tokens = math.min(limit, tokens + (now - at) * limit / window)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * window / limit)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], window)
return wait
`;

/**
 * The client for shared limits. A limit must answer at once or not at all: with no offline queue
 * and a command timeout, a Redis that is down or stuck fails the command quickly instead of
 * holding the request. Start-up fails as the broker's does when Redis cannot be reached.
 */
export async function connectLimitStore(url: string, log: Log): Promise<Redis> {
  // Most servers run without Redis: ioredis is loaded only for those that use it.
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 5000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 1000,
  });
  redis.on('error', (err) => log.warn({ err }, 'rate limit redis connection error'));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Cannot reach Redis at REDIS_URL for the rate limits (${(err as Error).message})`, { cause: err });
  }
  return redis;
}

/**
 * Limits fail open: when Redis does not answer, requests go through uncounted, because an outage
 * of the limiter should not become an outage of the service (the limits guard against abuse, not
 * against correctness). One warning per outage, not one per request.
 */
export function failOpen(log: Log, message: string): { ok(): void; failed(err: unknown): void } {
  let down = false;
  return {
    ok: () => {
      down = false;
    },
    failed: (err) => {
      if (!down) log.warn({ err }, message);
      down = true;
    },
  };
}
