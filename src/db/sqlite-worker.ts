import { parentPort, workerData } from 'node:worker_threads';
import type { SqliteSynchronous } from '../config.js';
import { openSqlite, withStatementCache } from './sqlite.js';

/** The thread that owns the SQLite connection: runs each query it is sent, in order. */

export interface WorkerOptions {
  file: string;
  synchronous: SqliteSynchronous;
}

export type WorkerRequest = { sql: string; parameters: readonly unknown[] } | { close: true };

export type WorkerAnswer =
  | { rows: unknown[] }
  | { rows: []; numAffectedRows: bigint; insertId: bigint }
  | { error: { message: string; code?: string } };

const port = parentPort!;
const { file, synchronous } = workerData as WorkerOptions;

try {
  const connection = openSqlite(file, synchronous);
  const db = withStatementCache(connection);
  port.on('message', (request: WorkerRequest) => {
    if ('close' in request) {
      connection.close();
      port.close();
      return;
    }
    port.postMessage(run(db, request));
  });
  port.postMessage({ ready: true });
} catch (err) {
  port.postMessage({ fatal: (err as Error).message });
}

function run(db: ReturnType<typeof withStatementCache>, { sql, parameters }: { sql: string; parameters: readonly unknown[] }): WorkerAnswer {
  try {
    const statement = db.prepare(sql);
    if (statement.reader) return { rows: statement.all(parameters) };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  } catch (err) {
    return { error: { message: (err as Error).message, code: (err as { code?: string }).code } };
  }
}
