import type { Generated, Selectable } from 'kysely';

/** Times are stored as RFC 3339 UTC strings with milliseconds, which sort as text. */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** NFC-normalized lower case: usernames are unique without regard to case. */
  username_key: string;
  /**
   * What the username looks like (`usernameSkeleton`): unique, so that no two names pass for each
   * other. Older look-alikes keep theirs with `#<id>` added (migrations/2026-12-06-005); null only
   * for rows written by something other than `create` (tests, the benchmark's seed).
   */
  username_skeleton: string | null;
  password_hash: string | null;
  display_name: string | null;
  bio: string | null;
  created_at: string;
  last_seen_at: string | null;
  /** Set when an operator deleted the account: the row stays for the chats that name it (src/admin/delete-user.ts). */
  deleted_at: string | null;
}

export interface ChatsTable {
  id: Generated<number>;
  chat_type: ChatType;
  name: string | null;
  owner_id: number | null;
  /** `"<low id>:<high id>"` for a direct chat, so that a pair has one chat; null for groups. */
  direct_key: string | null;
  created_at: string;
  last_message_id: number | null;
  /** Creation or newest message: what `GET /chats` sorts by. */
  last_activity_at: string;
  /** A room's id on the `/api` surface; null for other chats. */
  room_uuid: string | null;
  /** A room's name as `usernameKey` folds it (room names are unique without regard to case); null for other chats. */
  room_key: string | null;
}

/** Direct: two members. Group: private, members add members. Room: public, anyone joins. */
export type ChatType = 'direct' | 'group' | 'room';

export interface ChatMembersTable {
  chat_id: number;
  user_id: number;
  joined_at: string;
  last_read_message_id: Generated<number>;
}

export interface MessagesTable {
  id: Generated<number>;
  chat_id: number;
  sender_id: number;
  content: string | null;
  client_id: string | null;
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
}

/** An upload: the bytes are in `<DATA_DIR>/uploads/<stored_name>`. */
export interface FilesTable {
  id: Generated<number>;
  uploader_id: number;
  /** The server's own random name, never the client's. */
  stored_name: string;
  /** The client's name, sanitized: shown, and sent in Content-Disposition. */
  filename: string;
  /** Detected from the bytes. */
  mime_type: string;
  size_bytes: number;
  created_at: string;
}

/** The files attached to a message, in the order the sender listed them. */
export interface MessageFilesTable {
  message_id: number;
  file_id: number;
  position: number;
}

/** What an event of the log records; see migrations/2026-12-06-004-event-log.ts. */
export type EventKind = 'edit' | 'delete' | 'read' | 'chat';

export interface EventsTable {
  /** Drawn from the same sequence as message ids (on SQLite by the writer: see `appendEvent`). */
  id: Generated<number>;
  chat_id: number;
  kind: EventKind;
  message_id: number | null;
  /** The reader of a 'read' event. */
  user_id: number | null;
  created_at: string;
}

export interface EventRecipientsTable {
  event_id: number;
  user_id: number;
}

/** A token's session: the token is good only while its row is here (see src/auth/sessions.ts). */
export interface SessionsTable {
  /** Random, in the token's `sid` claim. */
  id: string;
  user_id: number;
  created_at: string;
  expires_at: string;
}

/** A one-time code for REGISTRATION=invite; only its SHA-256 is kept. */
export interface InvitesTable {
  code_hash: string;
  created_at: string;
  expires_at: string | null;
  used_at: string | null;
  used_by: number | null;
}

export interface Database {
  users: UsersTable;
  chats: ChatsTable;
  chat_members: ChatMembersTable;
  messages: MessagesTable;
  files: FilesTable;
  message_files: MessageFilesTable;
  events: EventsTable;
  event_recipients: EventRecipientsTable;
  sessions: SessionsTable;
  invites: InvitesTable;
}

export type UserRow = Selectable<UsersTable>;
export type ChatRow = Selectable<ChatsTable>;
export type MessageRow = Selectable<MessagesTable>;
export type FileRow = Selectable<FilesTable>;
export type EventRow = Selectable<EventsTable>;
