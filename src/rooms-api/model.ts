import type { ChatRow, UserRow } from '../db/schema.js';
import type { FileLinks } from '../files/links.js';
import type { Message } from '../http/schemas.js';
import type { ApiMessage, ApiRoom, ApiUser } from './schemas.js';

/** This server's objects in the rooms server's shapes. */

const INTEGER_UUID_PREFIX = '00000000-0000-0000-0000-';

/** An integer id (a user's, a message's) as the rooms surface writes it: `00000000-0000-0000-0000-00000000002a`. */
export const integerUuid = (id: number): string => INTEGER_UUID_PREFIX + id.toString(16).padStart(12, '0');

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const UUID = new RegExp(UUID_PATTERN);

/** A UUID as the rooms surface takes it (any case); null when the text is not one. */
export const parseUuid = (text: string): string | null => (UUID.test(text) ? text.toLowerCase() : null);

export const toApiUser = (row: Pick<UserRow, 'id' | 'username' | 'created_at'>): ApiUser => ({
  id: integerUuid(row.id),
  username: row.username,
  created_at: row.created_at,
});

export const toApiRoom = (row: Pick<ChatRow, 'room_uuid' | 'name' | 'created_at'>): ApiRoom => ({
  id: row.room_uuid!,
  name: row.name!,
  created_at: row.created_at,
});

/**
 * `content` is a string there: a message's attachments (sent on another surface) are appended as
 * one link per line, a url that needs no header (as the shindensen surface gives them).
 */
export function toApiMessage(m: Message, roomUuid: string, links: FileLinks): ApiMessage {
  const lines = m.files.map((file) => links.capabilityUrl(file.id, file.filename));
  if (m.content !== null) lines.unshift(m.content);
  return {
    id: integerUuid(m.id),
    room_id: roomUuid,
    user_id: integerUuid(m.sender_id),
    username: m.sender,
    content: lines.join('\n'),
    created_at: m.timestamp,
  };
}
