/** A user came online (its first socket anywhere) or went offline (its last one gone, after the grace period). */
export interface PresenceChange {
  userId: number;
  online: boolean;
  /** When it happened: the user's `last_seen_at`. */
  at: string;
  /** This process saw it happen, and so records `last_seen_at`; every process announces it to its sockets. */
  mine: boolean;
}

/**
 * Who is online, from the sockets every process holds: each process says how many of a user's
 * sockets it holds, and every process hears of each real change once, all in one order.
 */
export interface Presence {
  /** This process now holds `count` sockets of the user (0: none left). */
  set(userId: number, count: number): void;
  /** Online, or offline for less than the grace period. */
  isOnline(userId: number): boolean;
  onChange(listener: (change: PresenceChange) => void): void;
  close(): Promise<void>;
}

/** One process: presence is its own sockets. */
export class MemoryPresence implements Presence {
  private readonly online = new Set<number>();
  private readonly offlineTimers = new Map<number, NodeJS.Timeout>();
  private listener: (change: PresenceChange) => void = () => {};

  constructor(private readonly graceMs: number) {}

  set(userId: number, count: number): void {
    const pending = this.offlineTimers.get(userId);
    if (count > 0) {
      // Back within the grace period: nobody was told it left.
      if (pending) {
        clearTimeout(pending);
        this.offlineTimers.delete(userId);
      }
      if (!this.online.has(userId)) this.change(userId, true);
      return;
    }
    if (!this.online.has(userId) || pending) return;
    if (this.graceMs === 0) return this.change(userId, false);
    const timer = setTimeout(() => {
      this.offlineTimers.delete(userId);
      this.change(userId, false);
    }, this.graceMs);
    timer.unref();
    this.offlineTimers.set(userId, timer);
  }

  isOnline(userId: number): boolean {
    return this.online.has(userId);
  }

  onChange(listener: (change: PresenceChange) => void): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    for (const timer of this.offlineTimers.values()) clearTimeout(timer);
    this.offlineTimers.clear();
  }

  private change(userId: number, online: boolean): void {
    if (online) this.online.add(userId);
    else this.online.delete(userId);
    this.listener({ userId, online, at: new Date().toISOString(), mine: true });
  }
}
