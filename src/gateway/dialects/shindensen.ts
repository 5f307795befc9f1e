import fastJsonStringify from 'fast-json-stringify';
import { Type, type Static } from 'typebox';
import type { FileLinks } from '../../files/links.js';
import { compileLater } from '../../http/deferred-compile.js';
import { Id } from '../../http/schemas.js';
import { compileJsonCheck } from '../../http/validation.js';
import type { ServerEvent } from '../../realtime/events.js';
import { toChatMessage } from '../../shindensen/model.js';
import { ChatMessage } from '../../shindensen/schemas.js';
import type { Command, Dialect, Frame, Refusal } from '../dialect.js';

/** The client's send: `{chat_id, content: Option<String>, files: Option<[{type, url, filename, mime_type, size_bytes}]>}`. */
const SendFrame = Type.Object({
  chat_id: Id,
  content: Type.Optional(Type.Union([Type.String({ maxLength: 4000 }), Type.Null()])),
  // A file is named by the url its upload gave; the other keys repeat what the server knows.
  files: Type.Optional(Type.Union([Type.Array(Type.Object({ url: Type.String({ maxLength: 2048 }) }), { maxItems: 10 }), Type.Null()])),
});
type SendFrame = Static<typeof SendFrame>;
const checkSend = compileJsonCheck(SendFrame);

/**
 * `/ws`: the shindensen client decodes nothing but `ChatMessage` frames (an unknown key fails it),
 * so it receives new messages only, in exactly that shape, and a refused frame is only logged.
 */
export function shindensenDialect(links: FileLinks): Dialect {
  const writeChatMessage = compileLater(() => fastJsonStringify(ChatMessage));

  function decode(frame: Frame): Command | Refusal {
    const invalid = checkSend(frame);
    if (invalid) return { code: 'VALIDATION_ERROR', message: invalid.message, details: { field: invalid.field } };
    const { chat_id, content, files } = frame as SendFrame;
    const fileIds: number[] = [];
    for (const { url } of files ?? []) {
      const id = links.capabilityFileId(url);
      if (id === null) return { code: 'FILE_NOT_FOUND', message: `files: ${url} is not a url that POST /upload gave`, details: { field: 'files' } };
      if (fileIds.includes(id)) return { code: 'VALIDATION_ERROR', message: 'files: a file is listed twice', details: { field: 'files' } };
      fileIds.push(id);
    }
    const text = content === '' ? null : (content ?? null);
    if (text === null && fileIds.length === 0) {
      return { code: 'VALIDATION_ERROR', message: 'content: a message needs content or files', details: { field: 'content' } };
    }
    return { type: 'send', chatId: chat_id, content: text, clientId: null, fileIds };
  }

  return {
    name: 'shindensen',
    slot: 1,
    resumes: false,
    encode: (event: ServerEvent) => (event.type === 'message' ? writeChatMessage()(toChatMessage(event.message, links)) : null),
    decode,
    refuse(_conn, refusal, _frame, log) {
      log.debug({ refusal }, 'a shindensen frame was refused');
    },
  };
}
