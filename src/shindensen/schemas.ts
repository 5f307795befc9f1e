import { Type, type Static, type TSchema } from 'typebox';

/**
 * The shindensen client's structs (COMPAT.md), frozen. Its decoder fails on any key a struct does
 * not list, so each object has exactly these keys: as response schemas, fast-json-stringify writes
 * those and no other. `Option<X>` is X or null, and the key is always sent.
 */
const exact = { additionalProperties: false } as const;
const Option = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const I64 = Type.Integer();

export const AuthResponse = Type.Object({ token: Type.String() }, exact);

export const UserInfoResponse = Type.Object(
  { id: I64, username: Type.String(), display_name: Option(Type.String()), bio: Option(Type.String()), image_id: Option(I64) },
  exact,
);
export type UserInfoResponse = Static<typeof UserInfoResponse>;

export const ChatInfo = Type.Object(
  { id: I64, name: Option(Type.String()), chat_type: Type.String(), created_at: Type.String(), participants: Type.Array(I64) },
  exact,
);
export type ChatInfo = Static<typeof ChatInfo>;

export const InitiateChatResponse = Type.Object({ chat_id: I64, status: Type.String() }, exact);

export const FileMetadata = Type.Object(
  {
    id: I64,
    type: Type.String(),
    url: Type.String(),
    filename: Type.String(),
    mime_type: Option(Type.String()),
    size_bytes: I64,
    created_at: Type.String(),
  },
  exact,
);
export type FileMetadata = Static<typeof FileMetadata>;

export const ChatMessage = Type.Object(
  {
    id: I64,
    chat_id: I64,
    sender_id: I64,
    content: Option(Type.String()),
    timestamp: Type.String(),
    files: Type.Array(FileMetadata),
  },
  exact,
);
export type ChatMessage = Static<typeof ChatMessage>;

export const GetHistoryResponse = Type.Object({ chat_id: I64, messages: Type.Array(ChatMessage) }, exact);

export const FileUploadResponse = Type.Object(
  { url: Type.String(), filename: Type.String(), mime_type: Option(Type.String()), size_bytes: I64 },
  exact,
);
