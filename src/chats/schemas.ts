import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { Id } from '../http/schemas.js';
import { RoomName } from '../rooms/routes.js';
import { Username } from '../users/schemas.js';

/** A user named by username or by id. */
export const UserRef = Type.Union([Username, Id]);

// "One of two fields" is an object with both optional rather than a union: a union's first branch
// would report a bad `target_id` as a missing `target_username`. The routes require one of them.
export const InitiateBody = Type.Object(
  { target_username: Type.Optional(Username), target_id: Type.Optional(Id) },
  { description: 'Either target_username or target_id' },
);

export const CreateGroupBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  members: Type.Array(UserRef, { maxItems: 256 }),
});

/** A group's or a room's new name: as a room's name is made, and trimmed before it is kept. */
export const RenameBody = Type.Object({ name: RoomName });

export const AddMemberBody = Type.Object(
  { username: Type.Optional(Username), user_id: Type.Optional(Id) },
  { description: 'Either username or user_id' },
);

/** The user that a one-of-two body names (the id when both are given). */
export function oneOf(id: number | undefined, username: string | undefined, names: [id: string, username: string]): number | string {
  const ref = id ?? username;
  if (ref === undefined) {
    throw badRequest('VALIDATION_ERROR', `${names[1]} or ${names[0]} is required`, { field: names[1] });
  }
  return ref;
}
