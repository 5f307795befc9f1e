import { eventFor, holdsFiles, Outbound, type SignFiles } from './events.js';

/** A socket as the hub sees it; the gateway's connections are these. */
export interface Subscriber {
  /** Null until the socket has authenticated; only authenticated sockets join the hub. */
  readonly user: { readonly id: number; readonly sid: string } | null;
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

  constructor(private readonly signFiles: SignFiles) {}

  /** Registers an authenticated socket. */
  add(sub: Subscriber): void {
    const userId = sub.user!.id;
    const set = this.byUser.get(userId);
    if (set) set.add(sub);
    else this.byUser.set(userId, new Set([sub]));
  }

  /** False when the socket was not here (never authenticated, or removed already). */
  remove(sub: Subscriber): boolean {
    const userId = sub.user?.id;
    if (userId === undefined) return false;
    const set = this.byUser.get(userId);
    if (!set?.delete(sub)) return false;
    if (set.size === 0) this.byUser.delete(userId);
    return true;
  }

  /** How many sockets the user has here. */
  count(userId: number): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  /** Users with a socket here. */
  get userCount(): number {
    return this.byUser.size;
  }

  /** The user's sockets here. */
  socketsOf(userId: number): Subscriber[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  has(userId: number): boolean {
    return this.byUser.has(userId);
  }

  /**
   * Hands one event to every socket of every user in `to`. File urls are each user's own, so an
   * event that holds files is written for each user, not once for all (see `eventFor`).
   */
  deliver(to: readonly number[], outbound: Outbound): void {
    const { seq } = outbound;
    if (seq !== undefined && seq > this.lastSeq) this.lastSeq = seq;
    // Decided once per event: most hold no file, and their one frame per dialect serves everyone.
    const personal = holdsFiles(outbound.event);
    for (const userId of to) {
      const set = this.byUser.get(userId);
      if (!set) continue;
      const own = personal ? new Outbound(eventFor(outbound.event, userId, this.signFiles), seq) : outbound;
      for (const sub of set) sub.receive(own);
    }
  }

  *subscribers(): Iterable<Subscriber> {
    for (const set of this.byUser.values()) yield* set;
  }
}
