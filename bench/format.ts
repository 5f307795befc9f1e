import type { LatencySummary } from './stats.js';

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

/** Milliseconds with the precision that matters at each scale. */
export function ms(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n < 10) return n.toFixed(2);
  if (n < 100) return n.toFixed(1);
  return Math.round(n).toLocaleString('en-US');
}

export const latency = (s: LatencySummary) => `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)}`;

export const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : '–');

export interface Row {
  metric: string;
  server?: string;
  baseline?: string;
  ratio?: string;
  target?: string;
  /** Whether the target is met; absent when the row has no target. */
  ok?: boolean;
}

/** A plain-text table: aligned columns, one row per figure. */
export function table(rows: readonly Row[]): string {
  const header: Row = { metric: 'metric', server: 'server', baseline: 'baseline', ratio: 'ratio', target: 'target', ok: undefined };
  const cells = (r: Row) => [
    r.metric,
    r.server ?? '',
    r.baseline ?? '',
    r.ratio ?? '',
    r.target ?? '',
    r === header ? 'met' : r.ok === undefined ? '' : r.ok ? 'yes' : 'NO',
  ];
  const all = [header, ...rows].map(cells);
  const widths = all[0]!.map((_, col) => Math.max(...all.map((line) => line[col]!.length)));
  const render = (line: string[]) =>
    line
      .map((cell, col) => (col === 0 || col === 4 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [render(all[0]!), rule, ...all.slice(1).map(render)].join('\n');
}
