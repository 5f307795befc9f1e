import { Type } from 'typebox';
import { Id } from '../http/schemas.js';
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

export const AddMemberBody = Type.Object(
  { username: Type.Optional(Username), user_id: Type.Optional(Id) },
  { description: 'Either username or user_id' },
);
