import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { WorkerAnswer, WorkerOptions, WorkerRequest } from './sqlite-worker.js';

// The worker's file sits beside this one: .ts when run from the sources (tests), .js from dist/.
const WORKER_URL = new URL(`./sqlite-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * SQLite through Kysely with the connection in a worker thread. better-sqlite3 is synchronous: on
 * the main thread every query, and above all every durable COMMIT (an fsync), would stop the event
 * loop, and with it reading frames and delivering messages. Here they only wait for their answer.
 */
export class WorkerSqliteDialect implements Dialect {
  constructor(private readonly options: WorkerOptions) {}

  createAdapter() {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new WorkerSqliteDriver(this.options);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}

class WorkerSqliteDriver implements Driver {
  private connection: WorkerConnection | null = null;
  /** SQLite has one connection: a transaction holds it until it commits or rolls back. */
  private held: Promise<void> | null = null;
  private release: (() => void) | null = null;

  constructor(private readonly options: WorkerOptions) {}

  async init(): Promise<void> {
    this.connection = await WorkerConnection.start(this.options);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    while (this.held) await this.held;
    this.held = new Promise((resolve) => (this.release = resolve));
    return this.connection!;
  }

  async releaseConnection(): Promise<void> {
    const release = this.release;
    this.held = null;
    this.release = null;
    release?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    await this.connection?.close();
  }
}

class WorkerConnection implements DatabaseConnection {
  /** The worker answers in the order it was asked. */
  private readonly waiting: { resolve: (answer: WorkerAnswer) => void; reject: (err: Error) => void }[] = [];
  private failure: Error | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (answer: WorkerAnswer) => this.waiting.shift()?.resolve(answer));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => this.fail(new Error('The database worker has stopped')));
  }

  static start(options: WorkerOptions): Promise<WorkerConnection> {
    const worker = new Worker(WORKER_URL, { workerData: options });
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (first: { ready?: true; fatal?: string }) => {
        worker.off('error', reject);
        if (first.fatal !== undefined) {
          void worker.terminate();
          reject(new Error(`Cannot open the SQLite database: ${first.fatal}`));
        } else {
          resolve(new WorkerConnection(worker));
        }
      });
    });
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const answer = await this.ask({ sql: query.sql, parameters: query.parameters });
    if ('error' in answer) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
    return answer as QueryResult<R>;
  }

  // eslint-disable-next-line require-yield -- the server never streams; Kysely's interface asks for it
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming queries are not supported');
  }

  async close(): Promise<void> {
    if (this.failure) return;
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.postMessage({ close: true } satisfies WorkerRequest);
    await exited;
  }

  private ask(request: WorkerRequest): Promise<WorkerAnswer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(request);
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.splice(0)) waiter.reject(err);
  }
}
