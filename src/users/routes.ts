import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest, userNotFound } from '../errors.js';
import type { UserRow } from '../db/schema.js';
import { errors, Id, User } from '../http/schemas.js';
import { toUser } from './model.js';
import { displayNameProblem } from './names.js';
import { Me } from './schemas.js';

const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users } = app;
  const invalid = (message: string) => badRequest('VALIDATION_ERROR', message, { field: 'display_name' });

  /** A display name hides nothing and does not pass for someone else's username; the caller's own is fine. */
  async function checkDisplayName(name: string, callerId: number): Promise<void> {
    const problem = displayNameProblem(name);
    if (problem) throw invalid(problem);
    const lookalike = await users.byLookalike(name);
    if (lookalike && lookalike.id !== callerId) throw invalid("display_name: looks like another user's username");
  }

  /** The caller's own user object: with has_password, which no one else's shows. */
  const toMe = (row: UserRow): Me => ({ ...toUser(row, app.isOnline), has_password: row.password_hash !== null });

  app.get(
    '/me',
    { schema: { tags: ['users'], summary: 'The caller, with whether the account has a password', response: { 200: Me, ...errors(401) } } },
    async (request) => toMe((await users.byId(request.user.id))!),
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
        response: { 200: Me, ...errors(400, 401) },
      },
    },
    async (request) => {
      const changes: { display_name?: string | null; bio?: string | null } = {};
      for (const field of ['display_name', 'bio'] as const) {
        const value = request.body[field];
        if (value !== undefined) changes[field] = value === null || value.trim() === '' ? null : value.trim();
      }
      if (changes.display_name) await checkDisplayName(changes.display_name, request.user.id);
      const row =
        Object.keys(changes).length > 0 ? await users.update(request.user.id, changes) : await users.byId(request.user.id);
      return toMe(row!);
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
