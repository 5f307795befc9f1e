import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * On SQLite the server is the database's only process, save for the operator's command line
 * (`dm-server users set-password`, `users delete`): what that ends (sessions) this process would not
 * hear of, and sockets opened with them would stay open until they reconnect. SQLite's
 * `data_version` moves when a commit comes from another connection, never for this one's own, so
 * polling it costs one cheap pragma per interval, and the sockets' sessions are read again only
 * after another process wrote. (PostgreSQL says so itself: see Sessions.end.)
 */
export function watchOtherProcessWrites(kysely: Kysely<Database>, intervalMs: number, changed: () => Promise<void>, onError: (err: unknown) => void): () => void {
  let last: number | null = null;
  let busy = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await sql<{ data_version: number }>`pragma data_version`.execute(kysely);
      const version = rows[0]!.data_version;
      if (last !== null && version !== last) await changed();
      last = version;
    } catch (err) {
      onError(err);
    } finally {
      busy = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
