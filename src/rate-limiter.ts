/**
 * A token bucket per key: `limit` sends per `windowMs`, refilled continuously, so a burst of
 * `limit` is allowed and the steady rate is limit/window. A limit of 0 turns it off.
 */
export class RateLimiter<K = number> {
  private readonly buckets = new Map<K, { tokens: number; at: number }>();
  private readonly sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    if (limit > 0) {
      // A full bucket carries no information: forget it, so idle users cost nothing.
      this.sweeper = setInterval(() => this.sweep(), windowMs);
      this.sweeper.unref();
    }
  }

  /** 0 when allowed (and counted), otherwise the milliseconds until one more is allowed. */
  take(key: K, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const bucket = this.buckets.get(key) ?? { tokens: this.limit, at: now };
    bucket.tokens = Math.min(this.limit, bucket.tokens + ((now - bucket.at) * this.limit) / this.windowMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * this.windowMs) / this.limit);
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  private sweep(now = Date.now()): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.limit) / this.windowMs >= this.limit) this.buckets.delete(key);
    }
  }
}
