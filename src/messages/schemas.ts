import { Type } from 'typebox';
import { Id } from '../http/schemas.js';

export const Content = Type.String({ minLength: 1, maxLength: 4000 });
export const ClientId = Type.String({ minLength: 1, maxLength: 64 });

/** Upload ids (`POST /upload`) to attach, in order; each must be the sender's own. */
/** How many files one message may carry. */
export const MAX_FILES_PER_MESSAGE = 10;

export const FileIds = Type.Array(Id, { maxItems: MAX_FILES_PER_MESSAGE, uniqueItems: true });

export const SendBody = Type.Object({ content: Content, client_id: Type.Optional(ClientId), files: Type.Optional(FileIds) });
export const EditBody = Type.Object({ content: Content });
export const ReadBody = Type.Object({ message_id: Id });

export const HistoryQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
  before: Type.Optional(Id),
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647 })),
});

export const MessageParams = Type.Object({ chat_id: Id, id: Id });
