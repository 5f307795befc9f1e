import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';

/** The subset of a tap test these helpers need. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestServer {
  app: FastifyInstance;
  config: Config;
  /** `http://127.0.0.1:<port>` */
  url: string;
  wsUrl: string;
}

export interface Session {
  token: string;
  user: { id: number; username: string };
}

/**
 * A server on 127.0.0.1, port 0, over a fresh database that is removed afterwards: a temporary
 * SQLite file, or with `postgres: true` a schema of its own in TEST_DATABASE_URL.
 */
export async function startServer(
  t: Teardown,
  env: Record<string, string> = {},
  options: { postgres?: boolean } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dm-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const databaseUrl = options.postgres ? await postgresSchema(t) : `sqlite:${path.join(dir, 'chat.db')}`;
  const config = testConfig(dir, { DATABASE_URL: databaseUrl, ...env });
  const app = await buildApp(config, { logger: false });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { app, config, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
}

/** A test server's configuration: data in `dir` (SQLite unless `env` names another database), quiet, no rate limits. */
export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: `sqlite:${path.join(dir, 'chat.db')}`,
    DATA_DIR: dir,
    JWT_SECRET: 'test-secret-that-is-long-enough-for-production',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_AUTH: '0',
    RATE_LIMIT_API: '0',
    RATE_LIMIT_SEND: '0',
    ...env,
  });
}

export const postgresUrl = process.env.TEST_DATABASE_URL;

/** A URL of TEST_DATABASE_URL that works in a fresh schema of its own, dropped when the test ends. */
export async function postgresSchema(t: Teardown): Promise<string> {
  if (!postgresUrl) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    await client.query(`drop schema ${schema} cascade`);
    await client.end();
  });
  const url = new URL(postgresUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** JSON over HTTP against the listening server, as a client would. */
export async function request(
  server: TestServer,
  method: string,
  route: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(server.url + route, {
    method,
    headers,
    body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

export async function login(server: TestServer, username: string, password?: string): Promise<Session> {
  const res = await request(server, 'POST', '/v1/login', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Logs in each name and starts a direct chat between the first two. */
export async function pair(server: TestServer, a = 'alice', b = 'bob') {
  const alice = await login(server, a);
  const bob = await login(server, b);
  const res = await request(server, 'POST', '/v1/chats/initiate', { token: alice.token, body: { target_username: b } });
  return { alice, bob, chatId: res.body.chat_id as number };
}
