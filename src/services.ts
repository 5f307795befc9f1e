import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import path from 'node:path';
import { Accounts } from './auth/accounts.js';
import { Invites } from './auth/invites.js';
import { resolveJwtSecret } from './auth/jwt-secret.js';
import { Sessions } from './auth/sessions.js';
import { watchOtherProcessWrites } from './auth/other-process-writes.js';
import { chatQueries, type ChatQueries } from './chats/queries.js';
import { ChatService } from './chats/service.js';
import { FileLinks } from './files/links.js';
import { fileQueries, type FileQueries } from './files/queries.js';
import { UploadQuota } from './files/quota.js';
import { FileStore } from './files/storage.js';
import { UploadSweeper } from './files/sweeper.js';
import { Uploads } from './files/uploads.js';
import { LogReader } from './log/reader.js';
import { LogWriter } from './log/writer.js';
import { MessageService } from './messages/service.js';
import { Metrics } from './metrics/metrics.js';
import { LocalBroker } from './realtime/broker.js';
import { MemoryPresence } from './realtime/presence.js';
import { Realtime } from './realtime/realtime.js';
import { connectLimitStore, tokenBuckets } from './rate-limit-store.js';
import { roomQueries, type RoomQueries } from './rooms/queries.js';
import { RoomService } from './rooms/service.js';
import type { IsOnline } from './users/model.js';
import { userQueries, type UserQueries } from './users/queries.js';

/** How often a SQLite server looks for commits by another process (the operator's command line). */
const OTHER_PROCESS_POLL_MS = 2000;

declare module 'fastify' {
  interface FastifyInstance {
    users: UserQueries;
    chatQueries: ChatQueries;
    files: FileQueries;
    uploads: Uploads;
    realtime: Realtime;
    chatService: ChatService;
    roomService: RoomService;
    rooms: RoomQueries;
    messageService: MessageService;
    logReader: LogReader;
    sessions: Sessions;
    accounts: Accounts;
    isOnline: IsOnline;
    /** Null unless METRICS=true: nothing is counted then. */
    metrics: Metrics | null;
  }
}

/** Builds the application's services over the database and decorates the app with them. */
export default fp(
  async function services(app: FastifyInstance) {
    const { config } = app;
    const kysely = app.db.kysely;
    const users = userQueries(kysely);
    // File urls are signed with a key derived from the token secret: the one the auth plugin uses.
    const files = fileQueries(kysely, new FileLinks(resolveJwtSecret(config)));
    // Behind a balancer the processes share the send and typing buckets through Redis.
    const limitsRedis = config.redisUrl ? await connectLimitStore(config.redisUrl, app.log) : null;
    // Presence reads co-members from the chats, and chats show presence: each refers to the other lazily.
    // ioredis is loaded only when a Redis is configured.
    const broker = config.redisUrl
      ? await (await import('./realtime/redis-broker.js')).RedisBroker.connect(config.redisUrl, config.redisChannel, app.log)
      : new LocalBroker();
    const presence = config.redisUrl
      ? await (await import('./realtime/redis-presence.js')).RedisPresence.connect(config.redisUrl, config.redisChannel, config.presenceGraceMs, app.log)
      : new MemoryPresence(config.presenceGraceMs);
    const realtime = new Realtime(
      broker,
      presence,
      { coMembers: (userId) => chats.coMembers(userId), setLastSeen: (userId, at) => users.setLastSeen(userId, at) },
      { idleTimeoutMs: config.ws.idleTimeoutMs, signFiles: (message, viewerId) => files.links.signedFor(message, viewerId) },
      app.log,
    );
    const isOnline: IsOnline = (userId) => realtime.isOnline(userId);
    const metrics: Metrics | null = config.metrics ? new Metrics({ usersOnline: () => realtime.hub.userCount, writerQueue: () => writer.queued }) : null;
    const chats = chatQueries(kysely, isOnline, files);
    const logReader = new LogReader(kysely, files, chats);
    const sessions = new Sessions(app.db, config.jwtTtlSeconds);
    // Sockets opened with a token whose session ended are closed, on every process.
    sessions.onEnded((userId) => realtime.closeEndedSessions(userId, (sids) => sessions.active(userId, sids)));
    await sessions.sweep();
    // On PostgreSQL every process reads the log from the database, in commit order, whoever wrote
    // it; on SQLite the one process hands each commit to its sockets itself, in the same order.
    const postgres = app.db.dialect === 'postgres';
    const writer = new LogWriter(app.db, files, postgres ? null : (delivery) => realtime.publishLogged(delivery), app.log, metrics);
    // pg is loaded only when used: most servers run on SQLite, and start-up time counts.
    const tailer = postgres
      ? new (await import('./log/tailer.js')).LogTailer(
          config.databaseUrl,
          logReader,
          realtime.hub,
          { lost: () => realtime.deliveryLost(), back: () => realtime.deliveryBack(), sessionsEnded: (userId) => sessions.heard(userId) },
          app.log,
        )
      : null;
    if (tailer) await tailer.start();
    // Entries stored before this process started were never delivered live here: resume replays them.
    else realtime.hub.lastSeq = await logReader.head();
    const stopWatching =
      app.db.dialect === 'sqlite'
        ? watchOtherProcessWrites(
            kysely,
            OTHER_PROCESS_POLL_MS,
            () => realtime.closeSocketsOfEndedSessions((sids) => sessions.stillActive(sids)),
            (err) => app.log.warn({ err }, 'could not check for writes by another process'),
          )
        : null;
    const { send, sendWindowMs, password, passwordWindowMs } = config.rateLimits;
    const passwordChecks = tokenBuckets<string>(password, passwordWindowMs, limitsRedis, `${config.redisChannel}:limits:password`, app.log);
    const accounts = new Accounts(kysely, new Invites(kysely), config, passwordChecks);
    const messages = new MessageService(app.db, chats, realtime, files, writer, {
      send: tokenBuckets<number>(send, sendWindowMs, limitsRedis, `${config.redisChannel}:limits:send`, app.log),
      typing: tokenBuckets<string>(1, Math.max(config.typingThrottleMs, 1), limitsRedis, `${config.redisChannel}:limits:typing`, app.log),
    });

    app.decorate('users', users);
    app.decorate('chatQueries', chats);
    app.decorate('files', files);
    const store = new FileStore(path.resolve(config.dataDir, 'uploads'));
    const quota = new UploadQuota(app.db, files, config.uploadQuotaBytes);
    app.decorate('uploads', new Uploads(files, store, quota, config, (token) => app.verifyToken(token)));
    const sweeper = new UploadSweeper(files, store, config.uploadUnattachedTtlSeconds, app.log);
    sweeper.start();
    app.decorate('realtime', realtime);
    app.decorate('isOnline', isOnline);
    app.decorate('metrics', metrics);
    app.decorate('chatService', new ChatService(chats, users, writer));
    app.decorate('messageService', messages);
    app.decorate('logReader', logReader);
    app.decorate('sessions', sessions);
    app.decorate('accounts', accounts);
    const rooms = roomQueries(kysely);
    app.decorate('rooms', rooms);
    app.decorate('roomService', new RoomService(rooms, chats, writer));

    app.addHook('onClose', async () => {
      stopWatching?.();
      await sweeper.stop();
      messages.stop();
      passwordChecks.stop();
      await writer.drain();
      await presence.close();
      await realtime.settled();
      await tailer?.stop();
      await broker.close();
      limitsRedis?.disconnect();
    });
  },
  { name: 'services', dependencies: ['db'] },
);
