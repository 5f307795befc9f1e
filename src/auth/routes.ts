import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest, forbidden } from '../errors.js';
import { errors, User } from '../http/schemas.js';
import { toUser } from '../users/model.js';
import { Password, Username } from '../users/schemas.js';
import { logIn, register } from './login.js';
import { hashPassword, verifyPassword } from './passwords.js';

const Session = Type.Object({ token: Type.String(), user: User });

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, config } = app;
  const session = (row: Parameters<typeof toUser>[0]) => ({
    token: app.issueToken({ id: row.id, username: row.username }),
    user: toUser(row, app.isOnline),
  });

  app.post(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Log in; in open mode a new username creates the account',
        body: Type.Object({ username: Username, password: Type.Optional(Type.String({ maxLength: 256 })) }),
        response: { 200: Session, ...errors(400, 401, 429) },
      },
    },
    async (request) => session(await logIn(users, config.authMode, request.body.username, request.body.password)),
  );

  app.post(
    '/register',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Create a password account',
        body: Type.Object({ username: Username, password: Password }),
        response: { 201: Session, ...errors(400, 409, 429) },
      },
    },
    async (request, reply) => {
      const user = await register(users, request.body.username, request.body.password);
      return reply.status(201).send(session(user));
    },
  );

  app.put(
    '/me/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a password (claims a username-only account) or change it',
        body: Type.Object({ password: Password, current_password: Type.Optional(Type.String({ maxLength: 256 })) }),
        response: { 204: Type.Null(), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const user = (await users.byId(request.user.id))!;
      const { password, current_password: current } = request.body;
      if (user.password_hash !== null) {
        if (current === undefined) {
          throw badRequest('VALIDATION_ERROR', 'current_password: is required to change a password', {
            field: 'current_password',
          });
        }
        if (!(await verifyPassword(current, user.password_hash))) {
          throw forbidden('WRONG_PASSWORD', 'current_password is not the current password');
        }
      }
      await users.update(user.id, { password_hash: await hashPassword(password) });
      return reply.status(204).send(null);
    },
  );
};

export default authRoutes;
