import t from 'tap';
import type { TSchema } from 'typebox';
import * as server from '../../src/shindensen/schemas.js';
import type { Ty } from '../helpers/dejson.js';
import { schemaShape, structShape } from '../helpers/exact-schema.js';
import * as client from '../helpers/shindensen.js';

t.test("the server's response schemas are exactly the client's structs", async (t) => {
  const pairs: [string, TSchema, Ty][] = [
    ['AuthResponse', server.AuthResponse, client.AuthResponse],
    ['UserInfoResponse', server.UserInfoResponse, client.UserInfoResponse],
    ['ChatInfo', server.ChatInfo, client.ChatInfo],
    ['InitiateChatResponse', server.InitiateChatResponse, client.InitiateChatResponse],
    ['FileMetadata', server.FileMetadata, client.FileMetadata],
    ['ChatMessage', server.ChatMessage, client.ChatMessage],
    ['GetHistoryResponse', server.GetHistoryResponse, client.GetHistoryResponse],
    ['FileUploadResponse', server.FileUploadResponse, client.FileUploadResponse],
  ];
  for (const [name, schema, struct] of pairs) t.same(schemaShape(schema), structShape(struct), name);
});
