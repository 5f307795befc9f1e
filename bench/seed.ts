/**
 * Fills a migrated SQLite database directly, in one transaction, while no server has it open:
 * a million messages through the API would take minutes, through prepared inserts seconds.
 * The rows follow migrations/*-initial.ts; if the schema gains a required column, this fails loudly.
 */
import SQLite from 'better-sqlite3';

export interface SeededChat {
  chatId: number;
  messages: number;
  firstMessageId: number;
  lastMessageId: number;
}

const usernameKey = (name: string) => name.normalize('NFC').toLowerCase();
const directKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);

class Seeder {
  private readonly insertUser;
  private readonly insertChat;
  private readonly insertMember;
  private readonly insertMessage;
  private readonly setLast;
  private readonly setRead;

  constructor(private readonly db: SQLite.Database) {
    this.insertUser = db.prepare('insert into users (username, username_key, created_at) values (?, ?, ?)');
    this.insertChat = db.prepare(
      "insert into chats (chat_type, name, owner_id, direct_key, created_at, last_message_id, last_activity_at) values ('direct', null, null, ?, ?, null, ?)",
    );
    this.insertMember = db.prepare('insert into chat_members (chat_id, user_id, joined_at, last_read_message_id) values (?, ?, ?, 0)');
    this.insertMessage = db.prepare('insert into messages (chat_id, sender_id, content, client_id, created_at) values (?, ?, ?, null, ?)');
    this.setLast = db.prepare('update chats set last_message_id = ?, last_activity_at = ? where id = ?');
    this.setRead = db.prepare('update chat_members set last_read_message_id = ? where chat_id = ? and user_id = ?');
  }

  user(name: string, createdAt: string): number {
    return Number(this.insertUser.run(name, usernameKey(name), createdAt).lastInsertRowid);
  }

  /** A direct chat of `a` and `b`, with no message yet. */
  chat(a: number, b: number, createdAt: string): number {
    const chatId = Number(this.insertChat.run(directKey(a, b), createdAt, createdAt).lastInsertRowid);
    this.insertMember.run(chatId, a, createdAt);
    this.insertMember.run(chatId, b, createdAt);
    return chatId;
  }

  message(chatId: number, sender: number, content: string, createdAt: string): number {
    return Number(this.insertMessage.run(chatId, sender, content, createdAt).lastInsertRowid);
  }

  /** The chat's last message, as a send sets it. */
  last(chatId: number, messageId: number, at: string): void {
    this.setLast.run(messageId, at, chatId);
  }

  read(chatId: number, userId: number, messageId: number): void {
    this.setRead.run(messageId, chatId, userId);
  }

  /** A direct chat of `a` and `b` with `count` messages, alternately from each, one second apart. */
  directChat(a: number, b: number, count: number, endMs: number): SeededChat {
    const startMs = endMs - count * 1000;
    const chatId = this.chat(a, b, new Date(startMs - 1000).toISOString());
    let first = 0;
    let last = 0;
    for (let i = 0; i < count; i++) {
      const id = this.message(chatId, i % 2 === 0 ? a : b, `Seeded message number ${i} of this chat`, new Date(startMs + i * 1000).toISOString());
      if (i === 0) first = id;
      last = id;
    }
    if (count > 0) {
      this.last(chatId, last, new Date(startMs + (count - 1) * 1000).toISOString());
      // `a` has read half of the chat: unread counts have something to count.
      this.read(chatId, a, first + Math.floor((last - first) / 2));
      this.read(chatId, b, last);
    }
    return { chatId, messages: count, firstMessageId: first, lastMessageId: last };
  }
}

function withDatabase<T>(file: string, fill: (seeder: Seeder) => T): T {
  const db = new SQLite(file);
  try {
    // Nobody else has the file open, and a failed fill is simply run again: no fsync needed.
    db.pragma('synchronous = OFF');
    const result = db.transaction(() => fill(new Seeder(db)))();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return result;
  } finally {
    db.close();
  }
}

/** `owner` and one partner per size; each pair's direct chat holds that many messages. */
export function seedHistory(file: string, owner: string, sizes: readonly number[]): SeededChat[] {
  return withDatabase(file, (s) => {
    const now = Date.now();
    const createdAt = new Date(now - 365 * 86_400_000).toISOString();
    const ownerId = s.user(owner, createdAt);
    return sizes.map((size, i) => s.directChat(ownerId, s.user(`${owner}_p${i}`, createdAt), size, now - i * 1000));
  });
}

/** `owner` in `count` direct chats, each with `messagesPerChat` messages. */
export function seedChats(file: string, owner: string, count: number, messagesPerChat: number): SeededChat[] {
  return withDatabase(file, (s) => {
    const now = Date.now();
    const createdAt = new Date(now - 365 * 86_400_000).toISOString();
    const ownerId = s.user(owner, createdAt);
    const chats: SeededChat[] = [];
    // Chats end at different times, so that the list has an order to sort.
    for (let i = 0; i < count; i++) chats.push(s.directChat(ownerId, s.user(`${owner}_p${i}`, createdAt), messagesPerChat, now - i * 60_000));
    return chats;
  });
}

export interface SeededStorm {
  /** Users 2p and 2p + 1 share chat p. */
  usernames: string[];
  chatIds: number[];
  /** Every user has read its chat up to here, and nothing after. */
  after: number;
  /** Unread message r (0 ≤ r < behind) of chat p has id `firstId + p + r × chatIds.length`. */
  firstId: number;
}

/**
 * `pairs` direct chats of two users each. Each chat has `seen` messages its two users have read,
 * then `behind` they have not. Messages go round the chats, one to each in turn, as they come in
 * while clients are away: a user's unread messages are spread over the whole range of ids, among
 * everyone else's, rather than lying next to each other.
 */
export function seedStorm(file: string, prefix: string, pairs: number, seen: number, behind: number): SeededStorm {
  return withDatabase(file, (s) => {
    const rounds = seen + behind;
    const startMs = Date.now() - rounds * pairs - 1000;
    const createdAt = new Date(startMs - 60_000).toISOString();
    const usernames = Array.from({ length: 2 * pairs }, (_, i) => `${prefix}${i}`);
    const userIds = usernames.map((name) => s.user(name, createdAt));
    const chatIds = Array.from({ length: pairs }, (_, p) => s.chat(userIds[2 * p]!, userIds[2 * p + 1]!, createdAt));
    let firstId = 0;
    let next = 0;
    for (let r = 0; r < rounds; r++) {
      for (let p = 0; p < pairs; p++) {
        const k = r * pairs + p;
        const at = new Date(startMs + k).toISOString();
        const id = s.message(chatIds[p]!, userIds[2 * p + (r % 2)]!, `Seeded message number ${r} of this chat`, at);
        if (k === 0) next = id;
        // The job finds each expected message by arithmetic: the ids must follow each other.
        if (id !== next++) throw new Error(`seedStorm: message ids are not consecutive (${id} after ${next - 2})`);
        if (r === seen) firstId ||= id;
        if (r === seen - 1) for (const user of [userIds[2 * p]!, userIds[2 * p + 1]!]) s.read(chatIds[p]!, user, id);
        if (r === rounds - 1) s.last(chatIds[p]!, id, at);
      }
    }
    // Every user has read its chat's seen messages: the last of them is the last id before the unread ones.
    return { usernames, chatIds, after: (firstId || next) - 1, firstId: firstId || next };
  });
}
