import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { bearerToken } from '../auth/bearer.js';
import type { Principal } from '../auth/plugin.js';
import type { Config } from '../config.js';
import type { FileRow } from '../db/schema.js';
import { AppError, badRequest, notFound, unauthorized } from '../errors.js';
import { contentDisposition, sanitizeFilename } from './filename.js';
import { URL_TTL_SECONDS } from './links.js';
import type { FileQueries } from './queries.js';
import { quotaExceeded, type Reservation, type UploadQuota } from './quota.js';
import { isInline } from './sniff.js';
import type { FileStore, Written } from './storage.js';

/** Room for the multipart framing around the file: boundaries and part headers. */
const ENVELOPE_BYTES = 64 * 1024;
/** More parts than this is not an upload of one file: refused before reading on. */
const MAX_PARTS = 10;

const fileNotFound = () => notFound('FILE_NOT_FOUND', 'File not found');
const tooLarge = (max: number) => new AppError(413, 'PAYLOAD_TOO_LARGE', `The file is larger than the ${max} bytes allowed`);
const insufficientStorage = () => new AppError(507, 'INSUFFICIENT_STORAGE', 'The server is short of disk space: try again later');
const invalidMultipart = () => badRequest('INVALID_MULTIPART', 'The body is not valid multipart/form-data');
const fileRequired = () => badRequest('VALIDATION_ERROR', 'file: a multipart field named file, holding the file, is required', { field: 'file' });

/** How a file request came: the url's signature checked (valid or not), or none given. */
export interface FileAccess {
  id: number;
  filename: string;
  signature: 'valid' | 'invalid' | 'none';
}

/** Receiving uploads and serving their bytes, for every surface's file routes. */
export class Uploads {
  constructor(
    private readonly files: FileQueries,
    private readonly store: FileStore,
    private readonly quota: UploadQuota,
    private readonly limits: Pick<Config, 'maxUploadBytes' | 'uploadMinFreeBytes'>,
    private readonly verifyToken: (token: string) => Promise<Principal>,
  ) {}

  /** Lets the routes of `app` (a plugin's own context) take multipart bodies. */
  async enableMultipart(app: FastifyInstance): Promise<void> {
    await app.register(multipart, {
      // A file over the limit is cut short and flagged (`truncated`); `receive` answers 413.
      throwFileSizeLimit: false,
      limits: { fileSize: this.limits.maxUploadBytes, parts: MAX_PARTS, fieldSize: 1024 },
    });
  }

  /** Stores the one file of a multipart body as the caller's upload. */
  async accept(request: FastifyRequest, reply: FastifyReply, uploaderId: number): Promise<FileRow> {
    if (!request.isMultipart()) {
      throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data, in a field named file');
    }
    const length = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
    let reservation: Reservation;
    try {
      if (length !== undefined && length > this.limits.maxUploadBytes + ENVELOPE_BYTES) throw tooLarge(this.limits.maxUploadBytes);
      await this.checkFreeSpace(length ?? this.limits.maxUploadBytes);
      // The body holds the file and its framing: the file is at least the body less the most framing takes.
      reservation = await this.quota.reserve(uploaderId, Math.max(0, (length ?? 0) - ENVELOPE_BYTES));
    } catch (err) {
      // Refused unread, as Fastify refuses a JSON body over its limit: the connection cannot be reused.
      reply.header('connection', 'close');
      throw err;
    }
    try {
      const upload = await this.receive(request, reply, reservation);
      try {
        return await this.quota.commit({
          uploader_id: uploaderId,
          stored_name: upload.storedName,
          filename: upload.filename,
          mime_type: upload.mimeType,
          size_bytes: upload.sizeBytes,
          created_at: new Date().toISOString(),
        });
      } catch (err) {
        await this.store.remove(upload.storedName);
        throw err;
      }
    } finally {
      reservation.release();
    }
  }

  /** 507 when storing `incoming` bytes would leave less free disk than the floor. */
  private async checkFreeSpace(incoming: number): Promise<void> {
    if (this.limits.uploadMinFreeBytes === 0) return;
    if ((await this.store.freeBytes()) - incoming < this.limits.uploadMinFreeBytes) throw insufficientStorage();
  }

  /**
   * Sends a file's bytes: with a valid signature to anyone, otherwise with a bearer token to its
   * uploader and to members of a chat where it is attached.
   */
  async serve(request: FastifyRequest, reply: FastifyReply, { id, filename, signature }: FileAccess): Promise<FastifyReply> {
    let user: Principal | undefined;
    if (signature !== 'valid') {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) {
        if (signature === 'none') throw unauthorized('UNAUTHORIZED', 'Authorization: Bearer <token> is required, or a signed url');
        // A bad or expired signature says nothing about whether the file exists.
        throw fileNotFound();
      }
      user = await this.verifyToken(token);
    }
    const row = await this.files.find(id);
    if (!row || row.filename !== filename) throw fileNotFound();
    if (user && row.uploader_id !== user.id && !(await this.files.sharedWith(id, user.id))) throw fileNotFound();

    const stored = await this.store.read(row.stored_name);
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
  }

  /**
   * Reads the multipart body: exactly one part, a file in the field `file`, streamed to disk.
   * Anything else is refused once the body has been read, and leaves no file behind.
   */
  private async receive(request: FastifyRequest, reply: FastifyReply, reservation: Reservation): Promise<Written & { filename: string }> {
    let upload: (Written & { filename: string }) | undefined;
    let problem: AppError | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'file' && upload === undefined && problem === undefined) {
          const written = await this.store.write(part.file, (bytes) => reservation.take(bytes));
          if (written) upload = { ...written, filename: sanitizeFilename(part.filename) };
          if (written && !part.file.truncated) continue;
          problem = part.file.truncated ? tooLarge(this.limits.maxUploadBytes) : quotaExceeded(this.quota.quotaBytes);
          // The rest is read and dropped when its length is known (and so bounded); otherwise cut off.
          if (request.headers['content-length'] !== undefined) continue;
          reply.header('connection', 'close');
          break;
        }
        if (part.type === 'file') await drain(part.file);
        problem ??= unexpected(part.fieldname, part.type);
      }
    } catch (err) {
      if (upload) await this.store.remove(upload.storedName);
      throw uploadError(err);
    }
    if (problem) {
      if (upload) await this.store.remove(upload.storedName);
      throw problem;
    }
    if (!upload) throw fileRequired();
    return upload;
  }
}

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
