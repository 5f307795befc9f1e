import { Type } from 'typebox';
import { Id } from '../http/schemas.js';
import { compileJsonCheck } from '../http/validation.js';
import { ClientId, Content, FileIds } from '../messages/schemas.js';

/** Client → server frames, by `type`; a frame without `type` is a send (the compat shape). */
export const clientFrames = {
  send: compileJsonCheck(
    Type.Object({
      type: Type.Optional(Type.Literal('send')),
      chat_id: Id,
      content: Content,
      client_id: Type.Optional(ClientId),
      files: Type.Optional(FileIds),
    }),
  ),
  typing: compileJsonCheck(Type.Object({ chat_id: Id })),
  read: compileJsonCheck(Type.Object({ chat_id: Id, message_id: Id })),
  resume: compileJsonCheck(Type.Object({ after: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) })),
  ping: compileJsonCheck(Type.Object({})),
} as const;

export type ClientFrameType = keyof typeof clientFrames;

export const identifyFrame = compileJsonCheck(
  Type.Object({ op: Type.Literal('IDENTIFY'), d: Type.Object({ token: Type.String({ minLength: 1 }) }) }),
);

export interface SendFrame {
  chat_id: number;
  content: string;
  client_id?: string;
  /** Upload ids to attach. */
  files?: number[];
}
export interface TypingFrame {
  chat_id: number;
}
export interface ReadFrame {
  chat_id: number;
  message_id: number;
}
export interface ResumeFrame {
  after: number;
}
export interface IdentifyFrame {
  d: { token: string };
}
