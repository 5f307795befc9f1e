import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { InitiateBody, oneOf } from '../chats/schemas.js';
import { chatNotFound, userNotFound } from '../errors.js';
import { ChatIdParams, errors, Id } from '../http/schemas.js';
import { Username } from '../users/schemas.js';
import { toChatInfo, toChatMessage, toUserInfo } from './model.js';
import {
  AuthResponse,
  ChatInfo,
  FileUploadResponse,
  GetHistoryResponse,
  InitiateChatResponse,
  UserInfoResponse,
} from './schemas.js';

const tags = ['shindensen'];
/** The most messages one history answer holds: the client fetches once and never pages. */
const MAX_HISTORY = 1000;
const MAX_USERS = 20;

/**
 * The unprefixed paths: the Axum + SQLite DM server's surface, for its clients (COMPAT.md). Every
 * answer is exactly the client's struct, and every success is a 200, the one status it accepts.
 */
const shindensenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, accounts, chatService, chatQueries, messageService, files, uploads } = app;
  await uploads.enableMultipart(app);

  app.post(
    '/login',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'Log in (the same account rules as /v1/login)',
        body: Type.Object({ username: Username, password: Type.Optional(Type.String({ maxLength: 256 })) }),
        response: { 200: AuthResponse, ...errors(400, 401, 403, 409, 429) },
      },
    },
    async (request) => {
      const user = await accounts.logIn(request.body.username, request.body.password);
      return { token: await app.issueToken({ id: user.id, username: user.username }) };
    },
  );

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: `Users whose username contains \`username\`, case-insensitive, shortest first, at most ${MAX_USERS}`,
        querystring: Type.Object({ username: Type.String({ default: '', maxLength: 32 }) }),
        response: { 200: Type.Array(UserInfoResponse), ...errors(400, 401) },
      },
    },
    async (request) => (await users.search(request.query.username, MAX_USERS)).map(toUserInfo),
  );

  app.get(
    '/users/:user',
    {
      schema: {
        tags,
        summary: 'One user, by id, or by username when the segment is not a number (older client revisions)',
        params: Type.Object({ user: Type.String({ maxLength: 64 }) }),
        response: { 200: UserInfoResponse, ...errors(401, 404) },
      },
    },
    async (request) => {
      const ref = request.params.user;
      // Ids are below 2^31: a longer number names nobody, and would not fit the column's type.
      const byId = /^\d{1,10}$/.test(ref) && Number(ref) <= 2_147_483_647;
      const row = byId ? await users.byId(Number(ref)) : /^\d+$/.test(ref) ? undefined : await users.byUsername(ref);
      if (!row) throw userNotFound(ref);
      return toUserInfo(row);
    },
  );

  app.get(
    '/chats',
    {
      schema: { tags, summary: "The caller's chats, most recent activity first", response: { 200: Type.Array(ChatInfo), ...errors(401) } },
    },
    async (request) => (await chatQueries.summariesFor(request.user.id)).map(({ chat, participants }) => toChatInfo(chat, participants)),
  );

  app.get(
    '/chats/:chat_id',
    {
      schema: { tags, summary: 'One chat', params: ChatIdParams, response: { 200: ChatInfo, ...errors(400, 401, 404) } },
    },
    async (request) => {
      const [found] = await chatQueries.summariesFor(request.user.id, request.params.chat_id);
      if (!found) throw chatNotFound();
      return toChatInfo(found.chat, found.participants);
    },
  );

  app.post(
    '/chats/initiate',
    {
      schema: {
        tags,
        summary: 'Start (or find) the direct chat with a user; 200 in both cases',
        body: InitiateBody,
        response: { 200: InitiateChatResponse, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { target_id: id, target_username: username } = request.body;
      return chatService.initiate(request.user, oneOf(id, username, ['target_id', 'target_username']));
    },
  );

  app.get(
    '/chats/:chat_id/messages',
    {
      schema: {
        tags,
        summary: `History, oldest first: without a query the newest ${MAX_HISTORY} (all of a shorter history)`,
        params: ChatIdParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: MAX_HISTORY, default: MAX_HISTORY }),
          before: Type.Optional(Id),
          after: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
        }),
        response: { 200: GetHistoryResponse, ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { limit, before, after } = request.query;
      const chatId = request.params.chat_id;
      const messages = await messageService.history(request.user, chatId, { limit, before, after });
      return { chat_id: chatId, messages: messages.map((m) => toChatMessage(m, files.links)) };
    },
  );

  app.post(
    '/upload',
    {
      schema: {
        tags,
        summary: 'Upload one file (multipart/form-data, field `file`); its url needs no header and does not expire',
        consumes: ['multipart/form-data'],
        response: { 200: FileUploadResponse, ...errors(400, 401, 413, 415, 507) },
      },
    },
    async (request, reply) => {
      const row = await uploads.accept(request, reply, request.user.id);
      return { url: files.links.capabilityUrl(row.id, row.filename), filename: row.filename, mime_type: row.mime_type, size_bytes: Number(row.size_bytes) };
    },
  );

  app.get(
    '/files/:id/*',
    {
      // Authorized by the url's signature or by a bearer token, checked by `serve`.
      config: { auth: 'public' },
      schema: {
        tags,
        summary: "A file's bytes, by the url POST /upload or a message gave (no header needed), or with a bearer token",
        params: Type.Object({ id: Id, '*': Type.String({ description: 'The file name' }) }),
        querystring: Type.Object({ sig: Type.Optional(Type.String()) }),
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The bytes, with the detected Content-Type' }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id, '*': filename } = request.params;
      const { sig } = request.query;
      const signature = sig === undefined ? 'none' : files.links.verifyCapability(id, filename, sig) ? 'valid' : 'invalid';
      return uploads.serve(request, reply, { id, filename, signature });
    },
  );
};

export default shindensenRoutes;
