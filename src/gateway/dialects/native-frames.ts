import { Type, type Static } from 'typebox';
import { Id } from '../../http/schemas.js';
import { compileJsonCheck } from '../../http/validation.js';
import { ClientId, Content, FileIds } from '../../messages/schemas.js';

const SendFrame = Type.Object({
  type: Type.Optional(Type.Literal('send')),
  chat_id: Id,
  content: Content,
  client_id: Type.Optional(ClientId),
  files: Type.Optional(FileIds),
});
const TypingFrame = Type.Object({ chat_id: Id });
const ReadFrame = Type.Object({ chat_id: Id, message_id: Id });
const ResumeFrame = Type.Object({ after: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) });

export type SendFrame = Static<typeof SendFrame>;
export type TypingFrame = Static<typeof TypingFrame>;
export type ReadFrame = Static<typeof ReadFrame>;
export type ResumeFrame = Static<typeof ResumeFrame>;

/** Client → server frames of `/v1/ws`, by `type`; a frame without `type` is a send. */
export const nativeFrameChecks = {
  send: compileJsonCheck(SendFrame),
  typing: compileJsonCheck(TypingFrame),
  read: compileJsonCheck(ReadFrame),
  resume: compileJsonCheck(ResumeFrame),
  ping: compileJsonCheck(Type.Object({})),
} as const;

export type NativeFrameType = keyof typeof nativeFrameChecks;
