import type { ChatRow, UserRow } from '../db/schema.js';
import type { FileLinks } from '../files/links.js';
import type { FileObject, Message } from '../http/schemas.js';
import type { ChatInfo, ChatMessage, FileMetadata, UserInfoResponse } from './schemas.js';

/** This server's objects in the shindensen client's shapes. */

export const toUserInfo = (row: Pick<UserRow, 'id' | 'username' | 'display_name' | 'bio'>): UserInfoResponse => ({
  id: row.id,
  username: row.username,
  display_name: row.display_name,
  bio: row.bio,
  // Accounts here have no profile picture.
  image_id: null,
});

export const toChatInfo = (row: Pick<ChatRow, 'id' | 'name' | 'chat_type' | 'created_at'>, participants: number[]): ChatInfo => ({
  id: row.id,
  name: row.name,
  chat_type: row.chat_type,
  created_at: row.created_at,
  participants,
});

/** `FileMetadata.type`, from the detected content type. */
export function fileKind(mimeType: string): string {
  if (mimeType.startsWith('image/')) return 'picture';
  if (mimeType.startsWith('video/')) return 'video';
  if (mimeType.startsWith('audio/')) return 'audio';
  return 'file';
}

/** The client keeps file urls: it gets one that does not expire. */
export const toFileMetadata = (file: FileObject, links: FileLinks): FileMetadata => ({
  id: file.id,
  type: fileKind(file.mime_type),
  url: links.capabilityUrl(file.id, file.filename),
  filename: file.filename,
  mime_type: file.mime_type,
  size_bytes: file.size_bytes,
  created_at: file.created_at,
});

export const toChatMessage = (m: Message, links: FileLinks): ChatMessage => ({
  id: m.id,
  chat_id: m.chat_id,
  sender_id: m.sender_id,
  content: m.content,
  timestamp: m.timestamp,
  files: m.files.map((file) => toFileMetadata(file, links)),
});
