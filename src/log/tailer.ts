import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { SESSIONS_CHANNEL } from '../auth/sessions.js';
import { Outbound } from '../realtime/events.js';
import type { Hub } from '../realtime/hub.js';
import { LOG_CHANNEL } from './append.js';
import type { LogReader } from './reader.js';

/** How many log entries one read takes. */
const PAGE = 500;
/** Reconnection attempts back off from the first to the last. */
const RETRY_MS = [100, 250, 500, 1000, 2000, 5000];

export interface TailerEvents {
  /** The tailer can no longer hear of commits: this process's sockets may miss what comes next. */
  lost(): void;
  /** It hears them again, and has caught up. */
  back(): void;
  /** Sessions of a user ended (the same connection hears of it: see `Sessions.end`). */
  sessionsEnded(userId: number): void;
}

/**
 * Delivers the log from the database, in id order, on PostgreSQL: every commit of a log write
 * sends a NOTIFY on `LOG_CHANNEL`, and on each the tailer reads every entry after the last it
 * delivered. Ids are drawn in commit order (see `openLog`), so an entry never becomes visible
 * after a larger one: no socket gets ids out of order, and a process that dies after its commit
 * loses nothing, since every process reads what it committed. While its listening connection is
 * gone it reconnects, then catches up from where it was. The same connection hears of sessions
 * that ended (`SESSIONS_CHANNEL`), so that every process closes their sockets.
 */
export class LogTailer {
  private client: pg.Client | null = null;
  private reading: Promise<void> | null = null;
  private again = false;
  private attempt = 0;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Whether it hears of every commit now (`lost` is said once per outage). */
  private listening = false;

  constructor(
    private readonly url: string,
    private readonly reader: LogReader,
    private readonly hub: Hub,
    private readonly events: TailerEvents,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Listens, delivering from the newest entry now on; fails when the database cannot be reached. */
  async start(): Promise<void> {
    this.hub.lastSeq = await this.reader.head();
    await this.listen();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.reading;
    await this.client?.end().catch(() => {});
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', (err) => this.lose(client, err));
    client.on('end', () => this.lose(client, new Error('connection ended')));
    client.on('notification', ({ channel, payload }) => {
      if (channel === SESSIONS_CHANNEL) this.events.sessionsEnded(Number(payload));
      else this.wake();
    });
    await client.connect();
    await client.query(`listen ${LOG_CHANNEL}; listen ${SESSIONS_CHANNEL}`);
    this.client = client;
    // What was committed while nobody listened (after a read under way, if there is one).
    this.again = true;
    await this.catchUp();
    this.attempt = 0;
    this.listening = true;
  }

  private lose(client: pg.Client, err: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    client.end().catch(() => {});
    this.log.error({ err }, 'the log listener lost the database: reconnecting');
    if (this.listening) {
      this.listening = false;
      this.events.lost();
    }
    this.reconnect();
  }

  private reconnect(): void {
    if (this.stopped || this.retry) return;
    const delay = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)];
    this.retry = setTimeout(() => {
      this.retry = null;
      this.listen().then(
        () => this.events.back(),
        (err: unknown) => {
          this.log.warn({ err }, 'the log listener cannot reach the database yet');
          this.client?.end().catch(() => {});
          this.client = null;
          this.reconnect();
        },
      );
    }, delay);
  }

  /** Reads on; a wake-up during a read makes it read again, so none is missed. */
  private wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.catchUp().catch((err: unknown) => {
      // The listener stays: its next notification, or the reconnection, reads again.
      if (this.client) this.lose(this.client, err as Error);
    });
  }

  private catchUp(): Promise<void> {
    this.reading ??= (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const page = await this.reader.since(this.hub.lastSeq, PAGE);
            for (const { to, event, seq } of page.entries) this.hub.deliver(to, new Outbound(event, seq));
            this.hub.lastSeq = page.last;
            if (!page.full) break;
          }
        } while (this.again && !this.stopped);
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }
}
