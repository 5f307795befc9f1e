import { Type, type Static } from 'typebox';

/** Schemas shared by several features. Each feature keeps its own request schemas. */

export const Id = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 UTC with milliseconds' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const NullableString = Type.Union([Type.String(), Type.Null()]);

export const ErrorBody = Type.Object({
  error: Type.String(),
  code: Type.String(),
  field: Type.Optional(Type.String()),
  retry_after_ms: Type.Optional(Type.Integer()),
});

export const User = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  display_name: NullableString,
  bio: NullableString,
  created_at: Timestamp,
  online: Type.Boolean(),
  last_seen_at: NullableTimestamp,
});
export type User = Static<typeof User>;

export const Member = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  display_name: NullableString,
  online: Type.Boolean(),
  last_seen_at: NullableTimestamp,
  /** Where this member has read up to: lets a client show "Seen" without waiting for a read frame. */
  last_read_message_id: Type.Integer(),
});
export type Member = Static<typeof Member>;

export const FileObject = Type.Object({
  id: Type.Integer(),
  url: Type.String(),
  filename: Type.String(),
  mime_type: Type.String(),
  size_bytes: Type.Integer(),
  created_at: Timestamp,
});
export type FileObject = Static<typeof FileObject>;

export const Message = Type.Object({
  id: Type.Integer(),
  chat_id: Type.Integer(),
  sender_id: Type.Integer(),
  sender: Type.String({ description: "The sender's username" }),
  content: NullableString,
  timestamp: Timestamp,
  client_id: NullableString,
  edited_at: NullableTimestamp,
  deleted_at: NullableTimestamp,
  files: Type.Array(FileObject),
});
export type Message = Static<typeof Message>;

export const Chat = Type.Object({
  id: Type.Integer(),
  name: NullableString,
  chat_type: Type.Union([Type.Literal('direct'), Type.Literal('group'), Type.Literal('room')]),
  created_at: Timestamp,
  owner_id: Type.Union([Type.Integer(), Type.Null()]),
  participants: Type.Array(Type.Integer(), { description: 'Member ids; for a room, only the caller (page the rest with GET /chats/:chat_id/members)' }),
  members: Type.Array(Member, { description: 'For a room, only the caller' }),
  member_count: Type.Integer(),
  last_message: Type.Union([Message, Type.Null()]),
  unread_count: Type.Integer(),
});
export type Chat = Static<typeof Chat>;

export const ChatIdParams = Type.Object({ chat_id: Id });

/** Error answers a route may give, for its response schema (and so for /docs). */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}
