import type { FastifyBaseLogger } from 'fastify';
import type { Broker, Delivery } from './broker.js';
import { Outbound, type ServerEvent, type SignFiles } from './events.js';
import { Hub, type Subscriber } from './hub.js';
import type { Presence, PresenceChange } from './presence.js';

/** What presence needs from storage. */
export interface PresenceStore {
  /** Users who share at least one chat with `userId`. */
  coMembers(userId: number): Promise<number[]>;
  setLastSeen(userId: number, at: string): Promise<void>;
}

export interface RealtimeOptions {
  idleTimeoutMs: number;
  /** Signs file urls for each recipient of an event (see `Hub.deliver`). */
  signFiles: SignFiles;
}

/**
 * The real-time core: the broker carries events between processes, the hub hands them to this
 * process's sockets, and presence follows from who holds a socket.
 */
export class Realtime {
  readonly hub: Hub;
  /** False while this process cannot deliver the log: see `deliveryLost`. */
  delivering = true;
  private readonly heartbeat: NodeJS.Timeout;
  private lastSweep = Date.now();
  /** Presence announcements run one after another, so that online/offline frames never swap. */
  private presenceQueue: Promise<void> = Promise.resolve();

  constructor(
    private readonly broker: Broker,
    private readonly presence: Presence,
    private readonly store: PresenceStore,
    private readonly options: RealtimeOptions,
    private readonly log: FastifyBaseLogger,
  ) {
    this.hub = new Hub(options.signFiles);
    broker.subscribe(({ to, event, seq }) => this.hub.deliver(to, new Outbound(event, seq)));
    presence.onChange((change) => this.announce(change));
    this.heartbeat = setInterval(() => this.sweep(), Math.ceil(options.idleTimeoutMs / 3));
    this.heartbeat.unref();
  }

  /** Delivers `event` to every socket of every user in `to`, on every process. */
  publish(to: readonly number[], event: ServerEvent): void {
    if (to.length === 0) return;
    this.broker.publish({ to, event });
  }

  /**
   * This process can no longer deliver the log (it cannot hear the database): its sockets are
   * closed, so that their clients reconnect, to another process or later, and resume, rather than
   * wait on a socket that stays silent. New sockets are refused until it can again.
   */
  deliveryLost(): void {
    this.delivering = false;
    // 1013, try again later: on another process, or here once it can deliver again.
    for (const sub of [...this.hub.subscribers()]) sub.close(1013, 'Delivery interrupted: reconnect and resume');
  }

  deliveryBack(): void {
    this.delivering = true;
  }

  /** Delivers an event of the log, on every process, after those before it. */
  publishLogged(delivery: Delivery): void {
    // Also with no one to tell: every process then knows the log has gone this far.
    this.broker.publish(delivery);
  }

  get brokerConnected(): boolean {
    return this.broker.connected;
  }

  isOnline(userId: number): boolean {
    return this.presence.isOnline(userId);
  }

  /** An authenticated socket joins: the user comes online with its first one, on any process. */
  attach(sub: Subscriber): void {
    this.hub.add(sub);
    this.presence.set(sub.user!.id, this.hub.count(sub.user!.id));
  }

  /** A socket is gone: the user goes offline once its last one anywhere has been gone for the grace period. */
  detach(sub: Subscriber): void {
    if (!this.hub.remove(sub)) return;
    this.presence.set(sub.user!.id, this.hub.count(sub.user!.id));
  }

  /**
   * Sessions of the user ended (logged out, a password change): its sockets opened with them are
   * closed with 4401, as a bad token would be. `active` tells which of the sessions remain.
   */
  closeEndedSessions(userId: number, active: (sids: string[]) => Promise<Set<string>>): void {
    const sockets = this.hub.socketsOf(userId);
    if (sockets.length === 0) return;
    active(sockets.map((sub) => sub.user!.sid))
      // The database did not answer: close them all, and let the ones still good reconnect.
      .catch((err: unknown) => {
        this.log.warn({ err, userId }, 'could not read which sessions remain: closing every socket of the user');
        return new Set<string>();
      })
      .then((remaining) => {
        for (const sub of sockets) if (!remaining.has(sub.user!.sid)) sub.close(4401, 'Session ended: log in again');
      });
  }

  /**
   * Sessions may have ended without this process being told (another process wrote to SQLite):
   * every socket's session is read again, a few hundred at a time, and those that ended are closed.
   */
  async closeSocketsOfEndedSessions(active: (sids: string[]) => Promise<Set<string>>): Promise<void> {
    const sockets = [...this.hub.subscribers()];
    for (let i = 0; i < sockets.length; i += 500) {
      const chunk = sockets.slice(i, i + 500);
      const remaining = await active(chunk.map((sub) => sub.user!.sid));
      for (const sub of chunk) if (!remaining.has(sub.user!.sid)) sub.close(4401, 'Session ended: log in again');
    }
  }

  /** Closes every socket and stops the heartbeat (on shutdown); queued frames are written before the close frame. */
  closeAll(code: number, reason: string): void {
    clearInterval(this.heartbeat);
    for (const sub of [...this.hub.subscribers()]) sub.close(code, reason);
  }

  /** Waits for presence announcements under way (their database writes) to finish. */
  settled(): Promise<void> {
    return this.presenceQueue;
  }

  /**
   * Tells this process's sockets of users who share a chat with the user; the process where it
   * happened records `last_seen_at`.
   */
  private announce({ userId, online, at, mine }: PresenceChange): void {
    this.presenceQueue = this.presenceQueue.then(async () => {
      try {
        if (mine) await this.store.setLastSeen(userId, at);
        const to = (await this.store.coMembers(userId)).filter((id) => this.hub.has(id));
        this.hub.deliver(to, new Outbound({ type: 'presence', user_id: userId, online, last_seen_at: at }));
      } catch (err) {
        this.log.warn({ err, userId }, 'presence update failed');
      }
    });
  }

  /**
   * Pings every socket; one not heard from (frame or pong) for the idle timeout less one interval is
   * terminated, so that a socket that went silent is gone within the idle timeout.
   */
  private sweep(): void {
    const interval = Math.ceil(this.options.idleTimeoutMs / 3);
    const now = Date.now();
    // A sweep that runs late (the event loop was held up) has not yet read the frames and pongs
    // that came meanwhile: it only pings, rather than cut off sockets that did answer.
    const late = now - this.lastSweep > interval * 1.5;
    this.lastSweep = now;
    const deadline = late ? -Infinity : now - (this.options.idleTimeoutMs - interval);
    for (const sub of this.hub.subscribers()) sub.heartbeat(deadline);
  }
}
