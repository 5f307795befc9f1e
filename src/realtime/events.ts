import type { Chat, Message } from '../http/schemas.js';

/**
 * What the server tells users' sockets, in the native surface's words. Each surface's dialect
 * writes it its own way, or not at all where its clients cannot decode it.
 */
export type ServerEvent =
  | { type: 'message'; message: Message }
  | { type: 'message_updated'; message: Message }
  | { type: 'message_deleted'; chat_id: number; id: number }
  | { type: 'typing'; chat_id: number; user_id: number; username: string }
  | { type: 'read'; chat_id: number; user_id: number; message_id: number }
  | { type: 'presence'; user_id: number; online: boolean; last_seen_at: string }
  | { type: 'chat'; chat: Chat };

/** One dialect's way of writing events as frames. */
export interface Encoder {
  /** Small and unique per dialect: where its frame is kept in each `Outbound`. */
  readonly slot: number;
  /** The frame, or null for an event this dialect's clients do not receive. */
  encode(event: ServerEvent): string | null;
  /**
   * For a socket that follows part of its user's events (one room): whether it takes this one.
   * Frames are cached per slot, so every socket of a slot that takes an event must write it the same.
   */
  wants?(event: ServerEvent): boolean;
}

/**
 * An event on its way to sockets: written once per dialect that has a socket for it, not once per
 * socket, and as bytes, which every socket then sends as they are (a string would be measured and
 * encoded again for each of a room's thousand sockets).
 */
export class Outbound {
  private readonly frames: (Buffer | null)[] = [];

  constructor(
    readonly event: ServerEvent,
    /** Its id in the log, for an event that is in it. */
    readonly seq?: number,
  ) {}

  frameFor(encoder: Encoder): Buffer | null {
    const cached = this.frames[encoder.slot];
    if (cached !== undefined) return cached;
    const frame = encoder.encode(this.event);
    return (this.frames[encoder.slot] = frame === null ? null : Buffer.from(frame));
  }
}

/** Signs a message's file urls for one user (`FileLinks.signedFor`). */
export type SignFiles = <T extends Message>(message: T, viewerId: number) => T;

/** Whether the event carries file urls, which are signed for each viewer (`eventFor`). */
export function holdsFiles(event: ServerEvent): boolean {
  switch (event.type) {
    case 'message':
    case 'message_updated':
      return event.message.files.length > 0;
    case 'chat':
      return (event.chat.last_message?.files.length ?? 0) > 0;
    default:
      return false;
  }
}

/**
 * The event as `viewerId` is to see it: a file url works only for the user it was made for. The
 * event itself when it holds no file.
 */
export function eventFor(event: ServerEvent, viewerId: number, sign: SignFiles): ServerEvent {
  switch (event.type) {
    case 'message':
    case 'message_updated': {
      const message = sign(event.message, viewerId);
      return message === event.message ? event : { ...event, message };
    }
    case 'chat': {
      const last = event.chat.last_message;
      const signed = last && sign(last, viewerId);
      return signed === last ? event : { ...event, chat: { ...event.chat, last_message: signed } };
    }
    default:
      return event;
  }
}
