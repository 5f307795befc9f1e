import type { Outbound } from './events.js';

/** A socket as the hub sees it; the gateway's connections are these. */
export interface Subscriber {
  /** Null until the socket has authenticated; only authenticated sockets join the hub. */
  readonly user: { readonly id: number } | null;
  receive(outbound: Outbound): void;
  /** Pings the peer, or ends the socket when it has not been heard from since `deadline` (ms). */
  heartbeat(deadline: number): void;
  close(code: number, reason: string): void;
}

/** This process's sockets by user. */
export class Hub {
  private readonly byUser = new Map<number, Set<Subscriber>>();
  /** The newest log id (message or event) this process has delivered: `resume` replays up to it. */
  lastSeq = 0;

  /** Registers an authenticated socket; true when it is the user's first here. */
  add(sub: Subscriber): boolean {
    const userId = sub.user!.id;
    const set = this.byUser.get(userId);
    if (set) {
      set.add(sub);
      return false;
    }
    this.byUser.set(userId, new Set([sub]));
    return true;
  }

  /** True when it was the user's last socket here. */
  remove(sub: Subscriber): boolean {
    const userId = sub.user?.id;
    if (userId === undefined) return false;
    const set = this.byUser.get(userId);
    if (!set?.delete(sub)) return false;
    if (set.size > 0) return false;
    this.byUser.delete(userId);
    return true;
  }

  has(userId: number): boolean {
    return this.byUser.has(userId);
  }

  /** Hands one event to every socket of every user in `to`; `seq` is its id in the log, if it has one. */
  deliver(to: readonly number[], outbound: Outbound, seq?: number): void {
    if (seq !== undefined && seq > this.lastSeq) this.lastSeq = seq;
    for (const userId of to) {
      const set = this.byUser.get(userId);
      if (set) for (const sub of set) sub.receive(outbound);
    }
  }

  *subscribers(): Iterable<Subscriber> {
    for (const set of this.byUser.values()) yield* set;
  }
}
