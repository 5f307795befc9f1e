import fastJsonStringify from 'fast-json-stringify';
import type { ChatRow } from '../../db/schema.js';
import type { FileLinks } from '../../files/links.js';
import { compileLater } from '../../http/deferred-compile.js';
import type { ServerEvent } from '../../realtime/events.js';
import { toApiMessage } from '../../rooms-api/model.js';
import { NewMessageFrame } from '../../rooms-api/schemas.js';
import type { Dialect } from '../dialect.js';

const writeFrame = compileLater(() => fastJsonStringify(NewMessageFrame));

/**
 * `/api/ws/{room_id}`: the rooms server's socket follows one room and only receives. It takes the
 * room's new messages and nothing else of its user's events; every frame its client sends is ignored.
 */
export function roomsDialect(room: Pick<ChatRow, 'id' | 'room_uuid'>, links: FileLinks): Dialect {
  const roomUuid = room.room_uuid!;
  return {
    name: 'rooms',
    // One slot for every room's sockets: a message event is taken only by its own room's.
    slot: 2,
    resumes: false,
    wants: (event: ServerEvent) => event.type === 'message' && event.message.chat_id === room.id,
    encode: (event: ServerEvent) =>
      event.type === 'message' ? writeFrame()({ type: 'new_message', room_id: roomUuid, message: toApiMessage(event.message, roomUuid, links) }) : null,
    decode: () => ({ code: 'IGNORED', message: 'Frames sent on this socket are ignored: post with POST /api/messages' }),
    refuse() {},
  };
}
