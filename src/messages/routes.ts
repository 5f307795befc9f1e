import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ChatIdParams, errors, Message } from '../http/schemas.js';
import { EditBody, HistoryQuery, MessageParams, ReadBody, SendBody } from './schemas.js';

const messagesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { messageService } = app;

  app.get(
    '/chats/:chat_id/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'History, oldest first: the newest `limit` (before `before`), or the oldest `limit` after `after`',
        params: ChatIdParams,
        querystring: HistoryQuery,
        response: { 200: Type.Array(Message), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { limit, before, after } = request.query;
      return messageService.history(request.user, request.params.chat_id, { limit, before, after });
    },
  );

  app.post(
    '/chats/:chat_id/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Send a message; a repeated client_id answers with the message stored the first time',
        params: ChatIdParams,
        body: SendBody,
        response: { 201: Message, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      const { content, client_id: clientId, files } = request.body;
      const { message } = await messageService.send(request.user, request.params.chat_id, content, clientId ?? null, files);
      return reply.status(201).send(message);
    },
  );

  app.patch(
    '/chats/:chat_id/messages/:id',
    {
      schema: {
        tags: ['messages'],
        summary: 'Edit a message (its sender only)',
        params: MessageParams,
        body: EditBody,
        response: { 200: Message, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => messageService.edit(request.user, request.params.chat_id, request.params.id, request.body.content),
  );

  app.delete(
    '/chats/:chat_id/messages/:id',
    {
      schema: {
        tags: ['messages'],
        summary: 'Delete a message (its sender only), leaving a tombstone',
        params: MessageParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await messageService.remove(request.user, request.params.chat_id, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/chats/:chat_id/read',
    {
      schema: {
        tags: ['messages'],
        summary: "Move the caller's read marker forward (never back)",
        params: ChatIdParams,
        body: ReadBody,
        response: { 204: Type.Null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await messageService.markRead(request.user, request.params.chat_id, request.body.message_id);
      return reply.status(204).send(null);
    },
  );
};

export default messagesRoutes;
