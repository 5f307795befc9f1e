/**
 * Whether `err` is the database refusing a write because a unique index already holds its value,
 * on SQLite (better-sqlite3) or PostgreSQL: what an update, which has no `on conflict do nothing`,
 * reports when it loses a race for a unique value.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}
