import WebSocket from 'ws';
import { deJson, i64, option, string, struct, vec, type Ty } from './dejson.js';
import { DecodingSocket } from './decoding-socket.js';
import type { Teardown, TestServer } from './server.js';

/**
 * The shindensen client's structs, written from COMPAT.md (not from the server's schemas, which a
 * test checks against these), and a client that decodes every answer and frame with them.
 */
export const AuthResponse = struct('AuthResponse', { token: string });
export const UserInfoResponse = struct('UserInfoResponse', {
  id: i64,
  username: string,
  display_name: option(string),
  bio: option(string),
  image_id: option(i64),
});
export const ChatInfo = struct('ChatInfo', { id: i64, name: option(string), chat_type: string, created_at: string, participants: vec(i64) });
export const InitiateChatResponse = struct('InitiateChatResponse', { chat_id: i64, status: string });
export const FileMetadata = struct('FileMetadata', {
  id: i64,
  type: string,
  url: string,
  filename: string,
  mime_type: option(string),
  size_bytes: i64,
  created_at: string,
});
export const ChatMessage = struct('ChatMessage', {
  id: i64,
  chat_id: i64,
  sender_id: i64,
  content: option(string),
  timestamp: string,
  files: vec(FileMetadata),
});
export const GetHistoryResponse = struct('GetHistoryResponse', { chat_id: i64, messages: vec(ChatMessage) });
export const FileUploadResponse = struct('FileUploadResponse', { url: string, filename: string, mime_type: option(string), size_bytes: i64 });
export const WsReady = struct('WsReady', { op: string, d: struct('WsReadyData', { user_id: i64 }) });

/** An HTTP call as the client makes it: any status but 200 is an error; a 200 is decoded strictly. */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  answer: Ty,
  options: { token?: string; body?: unknown; form?: FormData } = {},
): Promise<any> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(server.url + path, {
    method,
    headers,
    body: options.form ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  if (res.status !== 200) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${text}`), { status: res.status });
  return deJson(text, answer);
}

/** The client's socket on `/ws`: every frame is decoded as a `ChatMessage` (READY as `WsReady`). */
export class ShindensenSocket extends DecodingSocket {
  private ready: ((frame: any) => void) | null = null;

  /** Opens `/ws` with the token in the upgrade's header, or (`identify`) sends IDENTIFY and waits for READY. */
  static async open(t: Teardown, server: TestServer, token: string, via: 'header' | 'identify'): Promise<ShindensenSocket> {
    const url = server.url.replace(/^http/, 'ws') + '/ws';
    const ws = new WebSocket(url, via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
    t.teardown(() => ws.terminate());
    const socket = new ShindensenSocket(ws);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    if (via === 'identify') {
      const ready = new Promise<any>((resolve) => (socket.ready = resolve));
      ws.send(JSON.stringify({ op: 'IDENTIFY', d: { token } }));
      const frame = await ready;
      if (frame.op !== 'READY') throw new Error(`expected READY, got ${JSON.stringify(frame)}`);
    } else {
      // No frame answers a header-authenticated socket: wait until the server has registered it.
      await new Promise((r) => setTimeout(r, 100));
    }
    return socket;
  }

  /** The client's send frame. */
  send(frame: { chat_id: number; content: string | null; files?: unknown[] | null }): void {
    this.ws.send(JSON.stringify(frame));
  }

  protected decode(text: string): unknown {
    if (!this.ready) return deJson(text, ChatMessage);
    const ready = this.ready;
    this.ready = null;
    ready(deJson(text, WsReady));
    return undefined;
  }
}

/** The status a `call` ended with: 200, or the error's. */
export async function statusOf(answer: Promise<unknown>): Promise<number> {
  try {
    await answer;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? 0;
  }
}
