import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createDb, type Db } from './database.js';
import { migrateToLatest } from './migrate.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

/** Opens the database, brings its schema up to date, and closes it last on shutdown. */
export default fp(
  async function db(app: FastifyInstance) {
    const db = await createDb(app.config, app.log);
    try {
      await migrateToLatest(db.kysely);
    } catch (err) {
      await db.kysely.destroy();
      throw err;
    }
    app.decorate('db', db);
    app.addHook('onClose', async () => {
      await db.kysely.destroy();
    });
  },
  { name: 'db' },
);
