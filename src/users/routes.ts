import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userNotFound } from '../errors.js';
import { errors, Id, User } from '../http/schemas.js';
import { toUser } from './model.js';

const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app;

  app.get(
    '/me',
    { schema: { tags: ['users'], summary: 'The caller', response: { 200: User, ...errors(401) } } },
    async (request) => toUser((await users.byId(request.user.id))!, app.isOnline),
  );

  app.patch(
    '/me',
    {
      schema: {
        tags: ['users'],
        summary: 'Change the display name or bio (null or "" clears)',
        body: Type.Object({
          display_name: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
          bio: Type.Optional(Type.Union([Type.String({ maxLength: 500 }), Type.Null()])),
        }),
        response: { 200: User, ...errors(400, 401) },
      },
    },
    async (request) => {
      const changes: { display_name?: string | null; bio?: string | null } = {};
      for (const field of ['display_name', 'bio'] as const) {
        const value = request.body[field];
        if (value !== undefined) changes[field] = value === null || value.trim() === '' ? null : value.trim();
      }
      const row =
        Object.keys(changes).length > 0 ? await users.update(request.user.id, changes) : await users.byId(request.user.id);
      return toUser(row!, app.isOnline);
    },
  );

  app.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Users whose username contains `username`, case-insensitive, shortest first',
        querystring: Type.Object({
          username: Type.String({ default: '', maxLength: 32 }),
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
        }),
        response: { 200: Type.Array(User), ...errors(400, 401) },
      },
    },
    async (request) => {
      const rows = await users.search(request.query.username, request.query.limit);
      return rows.map((row) => toUser(row, app.isOnline));
    },
  );

  app.get(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'One user',
        params: Type.Object({ id: Id }),
        response: { 200: User, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const row = await users.byId(request.params.id);
      if (!row) throw userNotFound();
      return toUser(row, app.isOnline);
    },
  );
};

export default usersRoutes;
