import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../errors.js';
import { describe } from './validation.js';

/** Fastify's own 4xx errors, as codes a client can switch on. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_BODY',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'VALIDATION_ERROR',
  FST_JWT_NO_AUTHORIZATION_IN_HEADER: 'UNAUTHORIZED',
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  FST_JWT_AUTHORIZATION_TOKEN_INVALID: 'INVALID_TOKEN',
  FST_JWT_AUTHORIZATION_TOKEN_UNTRUSTED: 'INVALID_TOKEN',
  FST_JWT_BAD_REQUEST: 'INVALID_TOKEN',
  FST_JWT_BAD_COOKIE_REQUEST: 'INVALID_TOKEN',
  FST_ERR_RATE_LIMITED: 'RATE_LIMITED',
};

/** One error shape for every route: `{error, code}`, 5xx details kept in the log. */
export default fp(async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof AppError) {
      if (err.status === 429) setRetryAfter(reply, err.details.retry_after_ms);
      return reply.status(err.status).send({ error: err.message, code: err.code, ...err.details });
    }
    if (err.validation) {
      const { field, message } = describe(err.validation[0], err.validationContext);
      return reply.status(400).send({ error: message, code: 'VALIDATION_ERROR', field });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = FASTIFY_CODES[err.code] ?? (err.code?.startsWith('FST_') ? 'BAD_REQUEST' : err.code) ?? 'BAD_REQUEST';
      const message = status === 401 ? authMessage(code) : err.message;
      return reply.status(status).send({ error: message, code });
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: 'Internal server error', code: 'INTERNAL_ERROR' });
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ error: `No route ${request.method} ${request.url.split('?')[0]}`, code: 'NOT_FOUND' });
  });
});

/**
 * A 429 tells the client when to try again (`Retry-After`, whole seconds): the route rate limits
 * set it themselves, while limits the services enforce (sends) only know `retry_after_ms`.
 */
function setRetryAfter(reply: FastifyReply, retryAfterMs: unknown): void {
  if (reply.hasHeader('retry-after') || typeof retryAfterMs !== 'number') return;
  reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
}

function authMessage(code: string): string {
  if (code === 'TOKEN_EXPIRED') return 'The token has expired: log in again';
  if (code === 'UNAUTHORIZED') return 'Authorization: Bearer <token> is required';
  return 'The token is not valid';
}
