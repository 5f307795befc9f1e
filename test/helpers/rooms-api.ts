import WebSocket from 'ws';
import { deJson, string, struct, uuid, vec } from './dejson.js';
import { DecodingSocket } from './decoding-socket.js';
import type { Teardown, TestServer } from './server.js';

/**
 * The rooms server's JSON, written from COMPAT.md (not from the server's schemas, which a test
 * checks against these), as its clients decode it: serde with unknown keys refused, ids as `Uuid`.
 * `call` from the shindensen helper applies them the same way: any status but 200 is an error.
 */
export { call, statusOf } from './shindensen.js';

export const User = struct('User', { id: uuid, username: string, created_at: string });
export const AuthResponse = struct('AuthResponse', { token: string, user: User });
export const Room = struct('Room', { id: uuid, name: string, created_at: string });
export const Rooms = vec(Room);
export const Message = struct('Message', { id: uuid, room_id: uuid, user_id: uuid, username: string, content: string, created_at: string });
export const Messages = vec(Message);
export const NewMessage = struct('NewMessage', { type: string, room_id: uuid, message: Message });

export const GENERAL = '00000000-0000-0000-0000-000000000001';
export const RANDOM = '00000000-0000-0000-0000-000000000002';

/** An integer id as the surface writes it. */
export const asUuid = (id: number) => `00000000-0000-0000-0000-${id.toString(16).padStart(12, '0')}`;

/** The client's room socket (`/api/ws/{room_id}?token=`): every frame decoded as `NewMessage`. */
export class RoomSocket extends DecodingSocket {
  static url(server: TestServer, roomId: string, token: string): string {
    return `${server.url.replace(/^http/, 'ws')}/api/ws/${roomId}?token=${encodeURIComponent(token)}`;
  }

  static async open(t: Teardown, server: TestServer, roomId: string, token: string): Promise<RoomSocket> {
    const ws = new WebSocket(RoomSocket.url(server, roomId, token));
    t.teardown(() => ws.terminate());
    const socket = new RoomSocket(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
    return socket;
  }

  protected decode(text: string): unknown {
    return deJson(text, NewMessage);
  }
}
