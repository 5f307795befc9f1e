import { fileURLToPath } from 'node:url';
import { Managed, within } from './processes.js';
import type { FromLoadgen, IdleJob, IdleResult, Job, LoadJob, LoadResult, StormJob, StormResult, ToLoadgen } from './protocol.js';

const LOADGEN_MAIN = fileURLToPath(new URL('./loadgen.js', import.meta.url));

type Step = Extract<FromLoadgen, { type: 'step' }>;
type Mark = Extract<FromLoadgen, { type: 'mark' }>['mark'];

export interface JobHooks {
  /** Awaited at each pause of an idle job (the orchestrator reads the server's memory there). */
  onStep?: (step: Step) => Promise<void>;
  /** Called as the measured window of a load job opens and closes. */
  onMark?: (mark: Mark) => void;
}

/**
 * Runs one job in a fresh load-generator process and returns its result. The whole job is
 * bounded by `timeoutMs`; the generator is killed past it.
 */
export function runJob(job: IdleJob, timeoutMs: number, hooks: JobHooks): Promise<IdleResult>;
export function runJob(job: LoadJob, timeoutMs: number, hooks?: JobHooks): Promise<LoadResult>;
export function runJob(job: StormJob, timeoutMs: number, hooks?: JobHooks): Promise<StormResult>;
export async function runJob(job: Job, timeoutMs: number, hooks: JobHooks = {}): Promise<LoadResult | IdleResult | StormResult> {
  const proc = new Managed({ name: 'loadgen', args: [LOADGEN_MAIN], env: process.env, cwd: process.cwd(), ipc: true });
  const send = (message: ToLoadgen) => proc.child.send(message);
  const result = new Promise<LoadResult | IdleResult | StormResult>((resolve, reject) => {
    proc.child.on('message', (message: FromLoadgen) => {
      switch (message.type) {
        case 'mark':
          hooks.onMark?.(message.mark);
          break;
        case 'step':
          (hooks.onStep ?? (async () => {}))(message).then(
            () => send({ type: 'continue' }),
            (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
          );
          break;
        case 'done':
          resolve(message.result);
          break;
        case 'failed':
          reject(new Error(`load generator failed: ${message.error}`));
          break;
      }
    });
    void proc.exited.then(({ code, signal }) =>
      reject(new Error(`load generator exited (code ${code}, signal ${signal}) before reporting:\n${proc.tail.join('\n')}`)),
    );
  });
  send({ type: 'run', job });
  try {
    return await within(timeoutMs, `load generator (${job.kind})`, result);
  } finally {
    await proc.stop(5000);
  }
}
