import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import type { Presence, PresenceChange } from './presence.js';

/** How often a process says it is alive, and looks for processes that stopped saying so. */
const HEARTBEAT_MS = 1000;
/** A process silent for this long is dead: its users' sockets no longer count. */
const ALIVE_TTL_MS = 3 * HEARTBEAT_MS;

// Each script changes the counts and announces what changed, atomically: every process then hears
// of changes in the order they happened. A change is published as "<1|0> <user> <at> <process>".

/**
 * KEYS: process counts, totals, online set, leaving (users offline once their grace period ends, by
 * when). ARGV: user, count, offline now (1) or after a grace, channel, at, process, grace deadline.
 */
const SET = `
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local new = tonumber(ARGV[2])
if new > 0 then redis.call('HSET', KEYS[1], ARGV[1], new) else redis.call('HDEL', KEYS[1], ARGV[1]) end
local total = redis.call('HINCRBY', KEYS[2], ARGV[1], new - old)
if total <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
if total > 0 then
  if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[4], '1 ' .. ARGV[1] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6]) end
  redis.call('ZREM', KEYS[4], ARGV[1])
elseif ARGV[3] == '1' then
  if redis.call('SREM', KEYS[3], ARGV[1]) == 1 then redis.call('PUBLISH', ARGV[4], '0 ' .. ARGV[1] .. ' ' .. ARGV[5] .. ' ' .. ARGV[6]) end
elseif redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1])
end
return total`;

/** The grace periods that ended by now. KEYS: totals, online set, leaving. ARGV: now (ms), channel, at, process. */
const EXPIRE = `
for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])) do
  redis.call('ZREM', KEYS[3], user)
  if redis.call('HEXISTS', KEYS[1], user) == 0 and redis.call('SREM', KEYS[2], user) == 1 then
    redis.call('PUBLISH', ARGV[2], '0 ' .. user .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
  end
end
return 0`;

/** A dead process's sockets are gone. KEYS: its counts, totals, online set, processes. ARGV: channel, at, reaper, dead process. */
const REAP = `
local counts = redis.call('HGETALL', KEYS[1])
for i = 1, #counts, 2 do
  local total = redis.call('HINCRBY', KEYS[2], counts[i], -tonumber(counts[i + 1]))
  if total <= 0 then
    redis.call('HDEL', KEYS[2], counts[i])
    if redis.call('SREM', KEYS[3], counts[i]) == 1 then
      redis.call('PUBLISH', ARGV[1], '0 ' .. counts[i] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[4], ARGV[4])
return 0`;

interface Scripts {
  presenceSet(keys: [string, string, string, string], ...args: (string | number)[]): Promise<number>;
  presenceExpire(keys: [string, string, string], ...args: (string | number)[]): Promise<number>;
  presenceReap(keys: [string, string, string, string], ...args: (string | number)[]): Promise<number>;
}

/**
 * Presence across processes, in Redis: each process keeps its socket count per user in a hash of
 * its own, and a heartbeat key; the totals and the set of online users are shared. A process
 * whose heartbeat stops (killed) has its counts taken off by the others, so its users go offline.
 * Each process mirrors the online set from the changes it hears, so `isOnline` costs no round trip.
 * While Redis is unreachable, the counts this process wants are kept and written again when it is
 * back (Redis may have restarted empty).
 */
export class RedisPresence implements Presence {
  private readonly id = randomUUID();
  private readonly online = new Set<number>();
  /** What this process has told (or still has to tell) Redis: a user at 0 stays until that is written. */
  private readonly counts = new Map<number, number>();
  private readonly offlineTimers = new Map<number, NodeJS.Timeout>();
  private listener: (change: PresenceChange) => void = () => {};
  private readonly heartbeat: NodeJS.Timeout;
  private readonly keys: {
    counts: (process: string) => string;
    totals: string;
    online: string;
    leaving: string;
    processes: string;
    alive: (process: string) => string;
    channel: string;
  };

  private constructor(
    private readonly redis: Redis & Scripts,
    private readonly sub: Redis,
    prefix: string,
    private readonly graceMs: number,
    private readonly log: FastifyBaseLogger,
  ) {
    const key = `${prefix}:presence`;
    this.keys = {
      counts: (process) => `${key}:counts:${process}`,
      totals: `${key}:totals`,
      online: `${key}:online`,
      leaving: `${key}:leaving`,
      processes: `${key}:processes`,
      alive: (process) => `${key}:alive:${process}`,
      channel: `${key}:changes`,
    };
    this.heartbeat = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  static async connect(url: string, prefix: string, graceMs: number, log: FastifyBaseLogger): Promise<RedisPresence> {
    const options = { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1 };
    const redis = new Redis(url, options) as Redis & Scripts;
    const sub = new Redis(url, options);
    redis.defineCommand('presenceSet', { numberOfKeys: 4, lua: SET });
    redis.defineCommand('presenceExpire', { numberOfKeys: 3, lua: EXPIRE });
    redis.defineCommand('presenceReap', { numberOfKeys: 4, lua: REAP });
    for (const client of [redis, sub]) client.on('error', (err) => log.warn({ err }, 'redis connection error (presence)'));
    try {
      await Promise.all([redis.connect(), sub.connect()]);
    } catch (err) {
      redis.disconnect();
      sub.disconnect();
      throw new Error(`Cannot reach Redis at REDIS_URL (${(err as Error).message})`, { cause: err });
    }
    const presence = new RedisPresence(redis, sub, prefix, graceMs, log);
    await presence.start();
    return presence;
  }

  private async start(): Promise<void> {
    this.sub.on('message', (_channel: string, text: string) => this.heard(text));
    await this.sub.subscribe(this.keys.channel);
    await this.mirror();
    await this.beat();
    // Back after an outage: what changed meanwhile is read again, and this process's counts written again.
    this.sub.on('ready', () => void this.sub.subscribe(this.keys.channel).then(() => this.mirror()).catch(() => {}));
    this.redis.on('ready', () => void this.resync());
  }

  set(userId: number, count: number): void {
    this.counts.set(userId, count);
    const pending = this.offlineTimers.get(userId);
    if (pending && count > 0) {
      clearTimeout(pending);
      this.offlineTimers.delete(userId);
    }
    void this.write(userId, count);
  }

  isOnline(userId: number): boolean {
    return this.online.has(userId);
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const timer of this.offlineTimers.values()) clearTimeout(timer);
    // This process's sockets are closed by now: its users are gone from here, at once.
    await this.redis
      .presenceReap([this.keys.counts(this.id), this.keys.totals, this.keys.online, this.keys.processes], this.keys.channel, now(), this.id, this.id)
      .catch(() => {});
    await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
  }

  private async write(userId: number, count: number): Promise<void> {
    try {
      const total = await this.redis.presenceSet(
        [this.keys.counts(this.id), this.keys.totals, this.keys.online, this.keys.leaving],
        userId,
        count,
        this.graceMs === 0 ? 1 : 0,
        this.keys.channel,
        now(),
        this.id,
        Date.now() + this.graceMs,
      );
      // Written, unless a newer count came meanwhile (it is being written too).
      if (this.counts.get(userId) === count && count === 0) this.counts.delete(userId);
      if (total === 0 && this.graceMs > 0 && !this.offlineTimers.has(userId)) this.expireLater(userId);
    } catch (err) {
      // Kept in `counts`: written when Redis is back.
      this.log.warn({ err, userId }, 'presence could not be written to Redis');
    }
  }

  /** On time here; should this process die first, the heartbeat of any other ends the grace period. */
  private expireLater(userId: number): void {
    const timer = setTimeout(() => {
      this.offlineTimers.delete(userId);
      this.expire().catch((err: unknown) => this.log.warn({ err, userId }, 'presence could not be written to Redis'));
    }, this.graceMs);
    timer.unref();
    this.offlineTimers.set(userId, timer);
  }

  private expire(): Promise<number> {
    return this.redis.presenceExpire([this.keys.totals, this.keys.online, this.keys.leaving], Date.now(), this.keys.channel, now(), this.id);
  }

  private heard(text: string): void {
    const [online, user, at, process] = text.split(' ');
    const userId = Number(user);
    if (online === '1') this.online.add(userId);
    else this.online.delete(userId);
    this.listener({ userId, online: online === '1', at: at!, mine: process === this.id });
  }

  /** Reads the online set again, and announces what changed while it was not heard. */
  private async mirror(): Promise<void> {
    const members = new Set((await this.redis.smembers(this.keys.online)).map(Number));
    const at = now();
    for (const userId of [...this.online]) if (!members.has(userId)) this.heard(`0 ${userId} ${at} -`);
    for (const userId of members) if (!this.online.has(userId)) this.heard(`1 ${userId} ${at} -`);
  }

  private async resync(): Promise<void> {
    await Promise.all([...this.counts].map(([userId, count]) => this.write(userId, count)));
  }

  /** Says this process is alive, and takes off the counts of those that no longer say so. */
  private async beat(): Promise<void> {
    try {
      await this.redis.set(this.keys.alive(this.id), '1', 'PX', ALIVE_TTL_MS);
      // Taken for dead (a long pause) and reaped: its sockets are counted again.
      if ((await this.redis.sadd(this.keys.processes, this.id)) === 1 && this.counts.size > 0) await this.resync();
      await this.expire();
      for (const process of await this.redis.smembers(this.keys.processes)) {
        if (process === this.id || (await this.redis.exists(this.keys.alive(process)))) continue;
        await this.redis.presenceReap(
          [this.keys.counts(process), this.keys.totals, this.keys.online, this.keys.processes],
          this.keys.channel,
          now(),
          this.id,
          process,
        );
      }
    } catch (err) {
      this.log.warn({ err }, 'presence heartbeat failed');
    }
  }
}

const now = () => new Date().toISOString();
