import { Type, type Static } from 'typebox';

/**
 * The rooms server's JSON (COMPAT.md), frozen. Its clients decode strictly, so each object has
 * exactly these keys: as response schemas, fast-json-stringify writes those and no other.
 */
const exact = { additionalProperties: false } as const;
const Uuid = Type.String({ format: 'uuid' });

export const ApiUser = Type.Object({ id: Uuid, username: Type.String(), created_at: Type.String() }, exact);
export type ApiUser = Static<typeof ApiUser>;

export const ApiSession = Type.Object({ token: Type.String(), user: ApiUser }, exact);

export const ApiRoom = Type.Object({ id: Uuid, name: Type.String(), created_at: Type.String() }, exact);
export type ApiRoom = Static<typeof ApiRoom>;

export const ApiMessage = Type.Object(
  { id: Uuid, room_id: Uuid, user_id: Uuid, username: Type.String(), content: Type.String(), created_at: Type.String() },
  exact,
);
export type ApiMessage = Static<typeof ApiMessage>;

/** What `/api/ws/{room_id}` sends: one frame per new message of the room. */
export const NewMessageFrame = Type.Object({ type: Type.Literal('new_message'), room_id: Uuid, message: ApiMessage }, exact);
export type NewMessageFrame = Static<typeof NewMessageFrame>;
