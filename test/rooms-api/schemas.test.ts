import t from 'tap';
import type { TSchema } from 'typebox';
import * as server from '../../src/rooms-api/schemas.js';
import type { Ty } from '../helpers/dejson.js';
import { schemaShape, structShape } from '../helpers/exact-schema.js';
import * as client from '../helpers/rooms-api.js';

t.test("the server's response schemas and frame are exactly the client's structs", async (t) => {
  const pairs: [string, TSchema, Ty][] = [
    ['User', server.ApiUser, client.User],
    ['AuthResponse', server.ApiSession, client.AuthResponse],
    ['Room', server.ApiRoom, client.Room],
    ['Message', server.ApiMessage, client.Message],
    ['NewMessage', server.NewMessageFrame, client.NewMessage],
  ];
  for (const [name, schema, struct] of pairs) t.same(schemaShape(schema), structShape(struct), name);
});
