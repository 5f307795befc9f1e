import type { FastifyBaseLogger } from 'fastify';
import type { Encoder } from '../realtime/events.js';
import type { Connection } from './connection.js';

/** A client frame: a JSON object. */
export type Frame = Record<string, unknown>;

/** What a client frame asks for, whatever the surface that said it. */
export type Command =
  | { type: 'send'; chatId: number; content: string | null; clientId: string | null; fileIds: readonly number[] }
  | { type: 'typing'; chatId: number }
  | { type: 'read'; chatId: number; messageId: number }
  | { type: 'resume'; after: number }
  | { type: 'ping' };

/** Why a frame was not acted on. */
export interface Refusal {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * How one surface speaks over its socket: which client frames it has and how they read, which
 * events its clients receive and how they are written, and how a refused frame is answered.
 * Frames with an `op` (IDENTIFY) are the session's own, the same on every surface.
 */
export interface Dialect extends Encoder {
  readonly name: string;
  /** Its clients resume after a reconnect: a new socket then holds live frames for the replay. */
  readonly resumes: boolean;
  decode(frame: Frame): Command | Refusal;
  refuse(conn: Connection, refusal: Refusal, frame: Frame | undefined, log: FastifyBaseLogger): void;
}

export const isRefusal = (decoded: Command | Refusal): decoded is Refusal => 'code' in decoded;
