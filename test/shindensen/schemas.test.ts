import t from 'tap';
import type { TSchema } from 'typebox';
import * as server from '../../src/shindensen/schemas.js';
import type { Ty } from '../helpers/dejson.js';
import * as client from '../helpers/shindensen.js';

/** A response schema as the struct it must equal: keys, types, and whether null is allowed. */
function asTy(schema: any): unknown {
  if (schema.anyOf) {
    const [inner, nullable] = schema.anyOf;
    if (nullable?.type !== 'null') throw new Error(`unexpected union ${JSON.stringify(schema)}`);
    return { kind: 'option', of: asTy(inner) };
  }
  switch (schema.type) {
    case 'integer':
      return { kind: 'i64' };
    case 'string':
      return { kind: 'string' };
    case 'array':
      return { kind: 'vec', of: asTy(schema.items) };
    case 'object':
      if (schema.additionalProperties !== false) throw new Error('a compatibility object must forbid other keys');
      if ([...(schema.required ?? [])].sort().join() !== Object.keys(schema.properties).sort().join()) {
        throw new Error('every key of a compatibility object is sent');
      }
      return Object.fromEntries(Object.entries(schema.properties).map(([key, value]) => [key, asTy(value)]));
  }
  throw new Error(`unexpected schema ${JSON.stringify(schema)}`);
}

function shape(ty: Ty): unknown {
  if (ty.kind === 'option' || ty.kind === 'vec') return { kind: ty.kind, of: shape(ty.of) };
  if (ty.kind === 'struct') return Object.fromEntries(Object.entries(ty.fields).map(([key, value]) => [key, shape(value)]));
  return { kind: ty.kind };
}

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
  for (const [name, schema, struct] of pairs) t.same(asTy(schema), shape(struct), name);
});
