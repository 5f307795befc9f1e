import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Chat, ChatIdParams, errors, Timestamp } from '../http/schemas.js';

export const RoomName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S', description: '1–64 characters, not only spaces' });

const RoomListing = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  created_at: Timestamp,
  owner_id: Type.Union([Type.Integer(), Type.Null()]),
  member_count: Type.Integer(),
  joined: Type.Boolean({ description: 'Whether the caller is a member' }),
});

/** The native rooms routes: the directory, making a room, joining one (leaving is the chats route). */
const roomsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { roomService } = app;

  app.get(
    '/rooms',
    {
      schema: {
        tags: ['rooms'],
        summary: 'The room directory, by name (case-insensitive); page with `after` = the last name',
        querystring: Type.Object({
          q: Type.Optional(Type.String({ maxLength: 64, description: 'Part of the name, case-insensitive' })),
          after: Type.Optional(Type.String({ maxLength: 64, description: 'The name of the last room of the previous page' })),
          limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        }),
        response: { 200: Type.Array(RoomListing), ...errors(400, 401) },
      },
    },
    async (request) => roomService.list(request.user, request.query),
  );

  app.post(
    '/rooms',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Make a public room; the caller is its owner and first member',
        body: Type.Object({ name: RoomName }),
        response: { 201: Chat, ...errors(400, 401, 409) },
      },
    },
    async (request, reply) => reply.status(201).send(await roomService.create(request.user, request.body.name)),
  );

  app.post(
    '/rooms/:chat_id/join',
    {
      schema: {
        tags: ['rooms'],
        summary: 'Join a room (joining again changes nothing); leave with DELETE /chats/:chat_id/members/:own_id',
        params: ChatIdParams,
        response: { 200: Chat, ...errors(400, 401, 404) },
      },
    },
    async (request) => roomService.join(request.user, request.params.chat_id),
  );
};

export default roomsRoutes;
