import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errors, User } from '../http/schemas.js';
import { MAX_FILES_PER_MESSAGE } from '../messages/schemas.js';
import { toUser } from '../users/model.js';
import { Password, Username } from '../users/schemas.js';

const Session = Type.Object({ token: Type.String(), user: User });
const Invite = Type.Optional(Type.String({ maxLength: 64, description: 'An invite code, where the server takes new accounts by invite' }));

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, accounts, sessions, config } = app;
  const session = async (row: Parameters<typeof toUser>[0]) => ({
    token: await app.issueToken({ id: row.id, username: row.username }),
    user: toUser(row, app.isOnline),
  });

  app.get(
    '/server',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'How this server takes logins and new accounts, for a client to show the right form',
        response: {
          200: Type.Object({
            auth_mode: Type.Union([Type.Literal('open'), Type.Literal('password')]),
            registration: Type.Union([Type.Literal('open'), Type.Literal('invite'), Type.Literal('closed')]),
            password_min_length: Type.Integer(),
            max_upload_bytes: Type.Integer({ description: 'The largest file POST /v1/upload takes (MAX_UPLOAD_BYTES)' }),
            max_files_per_message: Type.Integer(),
          }),
        },
      },
    },
    async () => ({
      auth_mode: config.authMode,
      registration: config.registration,
      password_min_length: 8,
      max_upload_bytes: config.maxUploadBytes,
      max_files_per_message: MAX_FILES_PER_MESSAGE,
    }),
  );

  app.post(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Log in; in open mode a new username creates the account (as the registration policy allows)',
        body: Type.Object({ username: Username, password: Type.Optional(Type.String({ maxLength: 256 })), invite: Invite }),
        response: { 200: Session, ...errors(400, 401, 403, 409, 429, 503) },
      },
    },
    async (request) => session(await accounts.logIn(request.body.username, request.body.password, request.body.invite)),
  );

  app.post(
    '/register',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Create a password account (as the registration policy allows)',
        body: Type.Object({ username: Username, password: Password, invite: Invite }),
        response: { 201: Session, ...errors(400, 403, 409, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = await accounts.register(request.body.username, request.body.password, request.body.invite);
      return reply.status(201).send(await session(user));
    },
  );

  app.post(
    '/logout',
    {
      schema: { tags: ['auth'], summary: 'End this token\'s session: it stops working, and its sockets close with 4401', response: { 204: Type.Null(), ...errors(401) } },
    },
    async (request, reply) => {
      await sessions.end(request.user.id, { only: request.user.sid });
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/logout/all',
    {
      schema: { tags: ['auth'], summary: 'Log out everywhere: every token of the account stops working, every socket closes with 4401', response: { 204: Type.Null(), ...errors(401) } },
    },
    async (request, reply) => {
      await sessions.end(request.user.id, { allBut: null });
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/me/password',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a password (claims a username-only account) or change it; every other session ends',
        body: Type.Object({ password: Password, current_password: Type.Optional(Type.String({ maxLength: 256 })) }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      const user = (await users.byId(request.user.id))!;
      await accounts.setPassword(user, request.body.password, request.body.current_password);
      // Whoever knew the old password (or, for a username-only account, the name) is out.
      await sessions.end(user.id, { allBut: request.user.sid });
      return reply.status(204).send(null);
    },
  );
};

export default authRoutes;
