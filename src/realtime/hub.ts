import type { Connection } from './connection.js';

/** This process's sockets by user. */
export class Hub {
  private readonly byUser = new Map<number, Set<Connection>>();
  /** The newest message id this process has delivered. */
  lastMessageId = 0;

  /** Registers an authenticated socket; true when it is the user's first here. */
  add(conn: Connection): boolean {
    const userId = conn.user!.id;
    conn.liveFrom = this.lastMessageId;
    const set = this.byUser.get(userId);
    if (set) {
      set.add(conn);
      return false;
    }
    this.byUser.set(userId, new Set([conn]));
    return true;
  }

  /** True when it was the user's last socket here. */
  remove(conn: Connection): boolean {
    const userId = conn.user?.id;
    if (userId === undefined) return false;
    const set = this.byUser.get(userId);
    if (!set?.delete(conn)) return false;
    if (set.size > 0) return false;
    this.byUser.delete(userId);
    return true;
  }

  has(userId: number): boolean {
    return this.byUser.has(userId);
  }

  /** Sends one serialized frame to every socket of every user in `to`. */
  deliver(to: readonly number[], frame: string, messageId?: number): void {
    if (messageId !== undefined && messageId > this.lastMessageId) this.lastMessageId = messageId;
    for (const userId of to) {
      const set = this.byUser.get(userId);
      if (set) for (const conn of set) conn.send(frame);
    }
  }

  *connections(): Iterable<Connection> {
    for (const set of this.byUser.values()) yield* set;
  }
}
