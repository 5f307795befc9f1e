import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Type } from 'typebox';
import { bearerToken } from '../auth/bearer.js';
import type { Principal } from '../auth/plugin.js';
import { AppError, badRequest, notFound, unauthorized } from '../errors.js';
import { errors, FileObject, Id } from '../http/schemas.js';
import { contentDisposition, sanitizeFilename } from './filename.js';
import { URL_TTL_SECONDS } from './links.js';
import { isInline } from './sniff.js';
import { FileStore, type Written } from './storage.js';

/** Room for the multipart framing around the file: boundaries and part headers. */
const ENVELOPE_BYTES = 64 * 1024;
/** More parts than this is not an upload of one file: refused before reading on. */
const MAX_PARTS = 10;

const fileNotFound = () => notFound('FILE_NOT_FOUND', 'File not found');
const tooLarge = (max: number) => new AppError(413, 'PAYLOAD_TOO_LARGE', `The file is larger than the ${max} bytes allowed`);
const invalidMultipart = () => badRequest('INVALID_MULTIPART', 'The body is not valid multipart/form-data');
const fileRequired = () => badRequest('VALIDATION_ERROR', 'file: a multipart field named file, holding the file, is required', { field: 'file' });

/** `POST /upload` and `GET /files/:id/:filename`. */
const filesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, files } = app;
  const store = new FileStore(path.resolve(config.dataDir, 'uploads'));
  // Registered here, so that only these routes accept multipart bodies.
  await app.register(multipart, {
    // A file over the limit is cut short and flagged (`truncated`); the handler answers 413.
    throwFileSizeLimit: false,
    limits: { fileSize: config.maxUploadBytes, parts: MAX_PARTS, fieldSize: 1024 },
  });

  app.post(
    '/upload',
    {
      schema: {
        tags: ['files'],
        summary: `Upload one file (multipart/form-data, field \`file\`, at most MAX_UPLOAD_BYTES); its url is signed for ${URL_TTL_SECONDS / 3600} h`,
        consumes: ['multipart/form-data'],
        response: { 201: FileObject, ...errors(400, 401, 413, 415) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data, in a field named file');
      }
      if (Number(request.headers['content-length']) > config.maxUploadBytes + ENVELOPE_BYTES) {
        // Refused unread, as Fastify refuses a JSON body over its limit: the connection cannot be reused.
        reply.header('connection', 'close');
        throw tooLarge(config.maxUploadBytes);
      }
      const upload = await receive(request, reply);
      try {
        const row = await files.insert({
          uploader_id: request.user.id,
          stored_name: upload.storedName,
          filename: upload.filename,
          mime_type: upload.mimeType,
          size_bytes: upload.sizeBytes,
          created_at: new Date().toISOString(),
        });
        return reply.status(201).send(files.links.toFileObject(row));
      } catch (err) {
        await store.remove(upload.storedName);
        throw err;
      }
    },
  );

  /**
   * Reads the multipart body: exactly one part, a file in the field `file`, streamed to disk.
   * Anything else is refused once the body has been read, and leaves no file behind.
   */
  async function receive(request: FastifyRequest, reply: FastifyReply): Promise<Written & { filename: string }> {
    let upload: (Written & { filename: string }) | undefined;
    let problem: AppError | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'file' && upload === undefined && problem === undefined) {
          upload = { ...(await store.write(part.file)), filename: sanitizeFilename(part.filename) };
          if (!part.file.truncated) continue;
          problem = tooLarge(config.maxUploadBytes);
          // The rest is read and dropped when its length is known (and so bounded); otherwise cut off.
          if (request.headers['content-length'] !== undefined) continue;
          reply.header('connection', 'close');
          break;
        }
        if (part.type === 'file') await drain(part.file);
        problem ??= unexpected(part.fieldname, part.type);
      }
    } catch (err) {
      if (upload) await store.remove(upload.storedName);
      throw uploadError(err);
    }
    if (problem) {
      if (upload) await store.remove(upload.storedName);
      throw problem;
    }
    if (!upload) throw fileRequired();
    return upload;
  }

  // `*` rather than `:filename`: the router caps a named parameter at 100 characters, and a name
  // may have 255 (more once percent-encoded). A name never holds a slash, so `*` is one segment.
  app.get(
    '/files/:id/*',
    {
      // Authorized by the url's signature or by a bearer token, checked below.
      config: { auth: 'public' },
      schema: {
        tags: ['files'],
        summary:
          "A file's bytes, to its uploader and to members of a chat where it is attached: with the signed url " +
          'from a file object (no header needed), or with a bearer token',
        params: Type.Object({ id: Id, '*': Type.String({ description: 'The file name' }) }),
        querystring: Type.Object({ expires: Type.Optional(Type.String()), sig: Type.Optional(Type.String()) }),
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', format: 'binary', description: 'The bytes, with the detected Content-Type' }),
          ...errors(400, 401, 404),
        },
      },
    },
    async (request, reply) => {
      const { id, '*': filename } = request.params;
      const { expires, sig } = request.query;
      let user: Principal | undefined;
      if (!files.links.verify(id, filename, expires, sig)) {
        const token = bearerToken(request.headers.authorization);
        if (token === undefined) {
          if (expires === undefined && sig === undefined) {
            throw unauthorized('UNAUTHORIZED', 'Authorization: Bearer <token> is required, or a signed url');
          }
          // A bad or expired signature says nothing about whether the file exists.
          throw fileNotFound();
        }
        user = await app.verifyToken(token);
      }
      const row = await files.find(id);
      if (!row || row.filename !== filename) throw fileNotFound();
      if (user && row.uploader_id !== user.id && !(await files.sharedWith(id, user.id))) throw fileNotFound();

      const stored = await store.read(row.stored_name);
      if (!stored) {
        request.log.error({ fileId: id }, 'the bytes of a stored file are missing');
        throw fileNotFound();
      }
      const inline = isInline(row.mime_type);
      reply
        .header('content-type', row.mime_type === 'text/plain' ? 'text/plain; charset=utf-8' : row.mime_type)
        .header('content-length', stored.size)
        // Only images and PDF are shown in the page; anything a browser could run is downloaded.
        .header('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', row.filename))
        .header('x-content-type-options', 'nosniff')
        // A file's bytes never change: the browser may keep them, a shared cache may not.
        .header('cache-control', `private, max-age=${URL_TTL_SECONDS}`);
      // Opened on its own, a file is a document with no rights to scripts or to the site (PDF viewers refuse a sandbox).
      if (row.mime_type !== 'application/pdf') reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
      return reply.send(stored.handle.createReadStream());
    },
  );
};

function unexpected(fieldname: string, type: 'file' | 'field'): AppError {
  if (fieldname !== 'file') return badRequest('VALIDATION_ERROR', `${fieldname}: not allowed; send one field, file`, { field: fieldname });
  const message = type === 'file' ? 'file: send one file per upload' : 'file: must be a file, not a text value';
  return badRequest('VALIDATION_ERROR', message, { field: 'file' });
}

/** Multipart parsing errors are the client's; a failure to write to disk is the server's. */
function uploadError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return badRequest('VALIDATION_ERROR', 'file: too many parts; send one field, file', { field: 'file' });
  }
  if (code === 'FST_PROTO_VIOLATION') return invalidMultipart();
  if (typeof (err as { syscall?: unknown }).syscall === 'string') return err;
  return invalidMultipart();
}

async function drain(stream: Readable): Promise<void> {
  if (stream.destroyed) throw new Error('The upload ended before the part did');
  stream.resume();
  await finished(stream);
}


export default filesRoutes;
