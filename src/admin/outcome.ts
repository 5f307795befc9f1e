/** A command's outcome for the operator: what to print, and whether it failed. */
export interface Outcome {
  ok: boolean;
  lines: string[];
}

export const failed = (...lines: string[]): Outcome => ({ ok: false, lines });
