import type { MessageRow } from '../db/schema.js';
import type { Message } from '../http/schemas.js';

export type MessageWithSender = MessageRow & { sender: string };

export function toMessage(row: MessageWithSender): Message {
  return {
    id: row.id,
    chat_id: row.chat_id,
    sender_id: row.sender_id,
    sender: row.sender,
    content: row.content,
    timestamp: row.created_at,
    client_id: row.client_id,
    edited_at: row.edited_at,
    deleted_at: row.deleted_at,
    files: [],
  };
}
