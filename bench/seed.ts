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

  /** A direct chat of `a` and `b` with `count` messages, alternately from each, one second apart. */
  directChat(a: number, b: number, count: number, endMs: number): SeededChat {
    const startMs = endMs - count * 1000;
    const created = new Date(startMs - 1000).toISOString();
    const chatId = Number(this.insertChat.run(directKey(a, b), created, created).lastInsertRowid);
    this.insertMember.run(chatId, a, created);
    this.insertMember.run(chatId, b, created);
    let first = 0;
    let last = 0;
    for (let i = 0; i < count; i++) {
      const id = Number(this.insertMessage.run(chatId, i % 2 === 0 ? a : b, `Seeded message number ${i} of this chat`, new Date(startMs + i * 1000).toISOString()).lastInsertRowid);
      if (i === 0) first = id;
      last = id;
    }
    if (count > 0) {
      this.setLast.run(last, new Date(startMs + (count - 1) * 1000).toISOString(), chatId);
      // `a` has read half of the chat: unread counts have something to count.
      this.setRead.run(first + Math.floor((last - first) / 2), chatId, a);
      this.setRead.run(last, chatId, b);
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
