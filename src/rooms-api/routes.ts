import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errors } from '../http/schemas.js';
import { Content } from '../messages/schemas.js';
import { Password, Username } from '../users/schemas.js';
import { UUID_PATTERN, toApiMessage, toApiRoom, toApiUser } from './model.js';
import { ApiMessage, ApiRoom, ApiSession } from './schemas.js';

const tags = ['rooms-api'];
/** What `GET /api/messages/{room_id}` answers: the room's last messages. */
const ROOM_TAIL = 50;

/**
 * `/api`: the Actix + PostgreSQL rooms server's surface, for its clients (COMPAT.md). Every room is
 * public here, with no membership step: posting to a room (or opening its socket) makes the user a
 * member in the native model, so that the room is in the user's chats everywhere else.
 */
const roomsApiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { accounts, rooms, roomService, messageService, files } = app;
  const session = async (row: Parameters<typeof toApiUser>[0]) => ({
    token: await app.issueToken({ id: row.id, username: row.username }),
    user: toApiUser(row),
  });
  const Credentials = Type.Object({ username: Username, password: Password });

  app.post(
    '/register',
    {
      config: { auth: 'public' },
      schema: { tags, summary: 'Create a password account (200)', body: Credentials, response: { 200: ApiSession, ...errors(400, 403, 409, 429) } },
    },
    async (request) => session(await accounts.register(request.body.username, request.body.password)),
  );

  app.post(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'Log in with a password; never makes an account',
        body: Type.Object({ username: Username, password: Type.String({ maxLength: 256 }) }),
        response: { 200: ApiSession, ...errors(400, 401, 429) },
      },
    },
    async (request) => session(await accounts.logInWithPassword(request.body.username, request.body.password)),
  );

  app.get(
    '/rooms',
    { schema: { tags, summary: 'Every room, by name', response: { 200: Type.Array(ApiRoom), ...errors(401) } } },
    async () => (await rooms.all()).map(toApiRoom),
  );

  app.get(
    '/messages/:room_id',
    {
      schema: {
        tags,
        summary: `The room's last ${ROOM_TAIL} messages, oldest first (deleted ones left out)`,
        params: Type.Object({ room_id: Type.String({ maxLength: 64 }) }),
        response: { 200: Type.Array(ApiMessage), ...errors(401, 404) },
      },
    },
    async (request) => {
      const room = await roomService.byUuid(request.params.room_id);
      return (await messageService.roomTail(room.id, ROOM_TAIL)).map((m) => toApiMessage(m, room.room_uuid!, files.links));
    },
  );

  app.post(
    '/messages',
    {
      schema: {
        tags,
        summary: 'Post to a room (the poster becomes a member); delivered on every surface',
        body: Type.Object({ room_id: Type.String({ pattern: UUID_PATTERN, description: 'A UUID' }), content: Content }),
        response: { 200: ApiMessage, ...errors(400, 401, 404, 429) },
      },
    },
    async (request) => {
      const room = await roomService.byUuid(request.body.room_id);
      await roomService.ensureMember(request.user, room);
      const { message } = await messageService.send(request.user, room.id, request.body.content, null);
      return toApiMessage(message, room.room_uuid!, files.links);
    },
  );
};

export default roomsApiRoutes;
