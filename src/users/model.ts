import type { UserRow } from '../db/schema.js';
import type { Member, User } from '../http/schemas.js';

export type IsOnline = (userId: number) => boolean;

export function toUser(row: UserRow, isOnline: IsOnline): User {
  return {
    id: row.id,
    username: row.username,
    display_name: row.display_name,
    bio: row.bio,
    created_at: row.created_at,
    online: isOnline(row.id),
    last_seen_at: row.last_seen_at,
  };
}

type MemberRow = Pick<UserRow, 'id' | 'username' | 'display_name' | 'last_seen_at'> & { last_read_message_id: number };

export function toMember(row: MemberRow, isOnline: IsOnline): Member {
  return {
    id: row.id,
    username: row.username,
    display_name: row.display_name,
    online: isOnline(row.id),
    last_seen_at: row.last_seen_at,
    last_read_message_id: row.last_read_message_id,
  };
}
