import type { Chat } from '../http/schemas.js';
import type { LogWriter } from '../log/writer.js';
import type { ChatQueries } from './queries.js';

/**
 * Tells each of `viewers` about a change to the chat (its own view: unread counts differ) with a
 * `chat` event in the log, so that a device that was away gets it on `resume`. The change itself
 * is committed before: a crash in between leaves it without an event, seen in `GET /v1/chats`.
 */
export async function announceChat(writer: LogWriter, chats: ChatQueries, chatId: number, viewers: readonly number[]): Promise<Map<number, Chat>> {
  const views = await chats.viewsFor(chatId, [...viewers]);
  await writer.write(async (_trx, append) => {
    const seq = await append({ chatId, kind: 'chat', recipients: viewers });
    return { result: undefined, deliveries: [...views].map(([viewer, chat]) => ({ to: [viewer], event: { type: 'chat' as const, chat }, seq })) };
  });
  return views;
}
