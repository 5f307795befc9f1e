import type { Row } from '../format.js';
import type { BenchOptions } from '../options.js';

export interface ScenarioResult {
  rows: Row[];
  /** Everything measured, for the JSON file (figures, not formatted text). */
  data: Record<string, unknown>;
}

export interface Context {
  options: BenchOptions;
  /** A new empty folder under the bench's temporary root, removed at the end of the run. */
  tempDir(label: string): string;
  log(line: string): void;
  /**
   * Waits (up to WAIT_QUIET) for other processes to leave the CPU before a timed measurement,
   * warns when they did not; returns their CPU use in % of a core.
   */
  quiet(what: string): Promise<number>;
}

export type Scenario = (ctx: Context) => Promise<ScenarioResult>;
