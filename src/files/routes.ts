import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { errors, FileObject, Id } from '../http/schemas.js';
import { URL_TTL_SECONDS } from './links.js';

/** `POST /v1/upload` and `GET /v1/files/:id/:filename`. */
const filesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { files, uploads } = app;
  // Here, so that only these routes accept multipart bodies.
  await uploads.enableMultipart(app);

  app.post(
    '/upload',
    {
      schema: {
        tags: ['files'],
        summary: `Upload one file (multipart/form-data, field \`file\`, at most MAX_UPLOAD_BYTES); its url is signed for ${URL_TTL_SECONDS / 3600} h`,
        consumes: ['multipart/form-data'],
        response: { 201: FileObject, ...errors(400, 401, 413, 415, 507) },
      },
    },
    async (request, reply) => reply.status(201).send(files.links.toFileObject(await uploads.accept(request, reply, request.user.id), request.user.id)),
  );

  // `*` rather than `:filename`: the router caps a named parameter at 100 characters, and a name
  // may have 255 (more once percent-encoded). A name never holds a slash, so `*` is one segment.
  app.get(
    '/files/:id/*',
    {
      // Authorized by the url's signature or by a bearer token, checked by `serve`.
      config: { auth: 'public' },
      schema: {
        tags: ['files'],
        summary:
          "A file's bytes, to its uploader and to members of a chat where it is attached: with the signed url " +
          'from a file object (no header needed; it works only while the user it was made for may see the file), or with a bearer token',
        params: Type.Object({ id: Id, '*': Type.String({ description: 'The file name' }) }),
        querystring: Type.Object({ expires: Type.Optional(Type.String()), u: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) }),
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The bytes, with the detected Content-Type' }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id, '*': filename } = request.params;
      const { expires, u, sig } = request.query;
      const signed = expires !== undefined || u !== undefined || sig !== undefined;
      const viewer = files.links.verify(id, filename, request.query);
      // Checked on every request: a user who left the chat has lost the file, and so has their url.
      const valid = viewer !== null && (await files.visibleTo(id, viewer));
      return uploads.serve(request, reply, { id, filename, signature: valid ? 'valid' : signed ? 'invalid' : 'none' });
    },
  );
};

export default filesRoutes;
