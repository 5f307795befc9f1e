import { Type } from 'typebox';
import { Id } from '../http/schemas.js';
import { Username } from '../users/schemas.js';

/** A user named by username or by id. */
export const UserRef = Type.Union([Username, Id]);

export const InitiateBody = Type.Union([
  Type.Object({ target_username: Username }),
  Type.Object({ target_id: Id }),
]);

export const CreateGroupBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64 }),
  members: Type.Array(UserRef, { maxItems: 256 }),
});

export const AddMemberBody = Type.Union([Type.Object({ username: Username }), Type.Object({ user_id: Id })]);
