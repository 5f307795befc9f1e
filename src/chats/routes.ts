import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { chatNotFound } from '../errors.js';
import { Chat, ChatIdParams, errors, Id, Member } from '../http/schemas.js';
import { AddMemberBody, CreateGroupBody, InitiateBody, oneOf, RenameBody } from './schemas.js';

const chatsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { chatService, chatQueries } = app;

  app.post(
    '/chats/initiate',
    {
      schema: {
        tags: ['chats'],
        summary: 'Start (or find) the direct chat with a user',
        body: InitiateBody,
        response: {
          200: Type.Object({ chat_id: Type.Integer(), status: Type.Union([Type.Literal('created'), Type.Literal('exists')]) }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { target_id: id, target_username: username } = request.body;
      return chatService.initiate(request.user, oneOf(id, username, ['target_id', 'target_username']));
    },
  );

  app.post(
    '/chats',
    {
      schema: {
        tags: ['chats'],
        summary: 'Create a group; the caller is a member and its owner',
        body: CreateGroupBody,
        response: { 201: Chat, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const chat = await chatService.createGroup(request.user, request.body.name, request.body.members);
      return reply.status(201).send(chat);
    },
  );

  app.get(
    '/chats',
    {
      schema: {
        tags: ['chats'],
        summary: "The caller's chats, most recent activity first",
        response: { 200: Type.Array(Chat), ...errors(401) },
      },
    },
    async (request) => chatQueries.listFor(request.user.id),
  );

  app.get(
    '/chats/:chat_id',
    {
      schema: { tags: ['chats'], summary: 'One chat', params: ChatIdParams, response: { 200: Chat, ...errors(400, 401, 404) } },
    },
    async (request) => chatService.get(request.user, request.params.chat_id),
  );

  app.patch(
    '/chats/:chat_id',
    {
      schema: {
        tags: ['chats'],
        summary: 'Rename a group (any member may) or a room (its owner only; unique without regard to case)',
        params: ChatIdParams,
        body: RenameBody,
        response: { 200: Chat, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => chatService.rename(request.user, request.params.chat_id, request.body.name),
  );

  app.get(
    '/chats/:chat_id/members',
    {
      schema: {
        tags: ['chats'],
        summary: "A page of the chat's members by id (a room's chat object lists only the caller)",
        params: ChatIdParams,
        querystring: Type.Object({
          after: Type.Integer({ minimum: 0, maximum: 2_147_483_647, default: 0, description: 'The last id of the previous page' }),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: { 200: Type.Array(Member), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      if ((await chatQueries.typeFor(request.params.chat_id, request.user.id)) === undefined) throw chatNotFound();
      return chatQueries.membersPage(request.params.chat_id, request.query.after, request.query.limit);
    },
  );

  app.post(
    '/chats/:chat_id/members',
    {
      schema: {
        tags: ['chats'],
        summary: 'Add a member to a group (any member may)',
        params: ChatIdParams,
        body: AddMemberBody,
        response: { 200: Chat, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { user_id: id, username } = request.body;
      return chatService.addMember(request.user, request.params.chat_id, oneOf(id, username, ['user_id', 'username']));
    },
  );

  app.delete(
    '/chats/:chat_id/members/:user_id',
    {
      schema: {
        tags: ['chats'],
        summary: 'Leave a group or a room, or (the owner) remove a member',
        params: Type.Object({ chat_id: Id, user_id: Id }),
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await chatService.removeMember(request.user, request.params.chat_id, request.params.user_id);
      return reply.status(204).send(null);
    },
  );
};

export default chatsRoutes;
