/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self and inclusive time per function,
 * and self time per file of the server (dist/src/…), per npm package, or per Node internal module.
 * Also a command: `node dist/bench/profile.js <file.cpuprofile> [top]`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Hotspot {
  name: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Time not idle: the share of the profile the process was busy. */
  busyMs: number;
  selfByFunction: Hotspot[];
  inclusiveByFunction: Hotspot[];
  /** Inclusive time of the server's own functions (dist/src): where its time goes, by its own names. */
  inclusiveInServer: Hotspot[];
  selfByGroup: Hotspot[];
}

/** The newest `.cpuprofile` in `dir` written at or after `since` (ms since the epoch). */
export function newestProfile(dir: string, since: number): string | undefined {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.cpuprofile'))
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).mtimeMs >= since)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0];
}

/** `src/messages/batch-store.js`, `fastify`, `@fastify/websocket`, `node:internal/streams`, `(native)`. */
export function groupOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  if (url.startsWith('node:')) return url.split('/').slice(0, 3).join('/');
  return url.replace(/^file:\/\//, '');
}

function shortWhere(url: string, line: number): string {
  if (url === '') return '';
  const group = groupOf(url, '');
  const file = url.slice(url.lastIndexOf('/') + 1);
  const place = group.endsWith(file) ? group : `${group} ${file}`;
  return `${place}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  const keyOf = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${shortWhere(n.callFrame.url, n.callFrame.lineNumber)}`;
  const self = new Map<string, number>();
  const groups = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') idleUs += us;
    self.set(keyOf(node), (self.get(keyOf(node)) ?? 0) + us);
    const group = groupOf(node.callFrame.url, node.callFrame.functionName);
    groups.set(group, (groups.get(group) ?? 0) + us);
    // Inclusive: every distinct function on the sample's stack, once even when recursive.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const ranked = (m: Map<string, number>, skip: (key: string) => boolean): Hotspot[] =>
    [...m]
      .filter(([key]) => !skip(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => {
        const [name, where] = key.split('\u0000');
        return { name: name!, where: where ?? '', ms: us / 1000, percent: (100 * us) / busyUs };
      });
  const pseudo = (key: string) => /^\((idle|root|program)\)/.test(key);
  return {
    file,
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    selfByFunction: ranked(self, (k) => k.startsWith('(idle)')),
    // Frames that are on every stack say nothing; what matters is below them.
    inclusiveByFunction: ranked(inclusive, (k) => pseudo(k) || k.includes('processTicksAndRejections') || k.includes('listOnTimeout')),
    inclusiveInServer: ranked(inclusive, (k) => !k.includes('\u0000src/')),
    selfByGroup: ranked(groups, (k) => k === '(idle)'),
  };
}

export function formatProfile(p: ProfileSummary, top = 15): string {
  const lines = [`profile ${p.file}`, `  ${(p.totalMs / 1000).toFixed(1)} s sampled, ${(p.busyMs / 1000).toFixed(1)} s busy; % of busy time`];
  const list = (title: string, spots: Hotspot[]) => {
    lines.push(`  ${title}`);
    for (const h of spots.slice(0, top)) lines.push(`    ${h.percent.toFixed(1).padStart(5)}%  ${h.ms.toFixed(0).padStart(6)} ms  ${h.name}${h.where ? `  ${h.where}` : ''}`);
  };
  list('self time by file / package', p.selfByGroup);
  list('self time by function', p.selfByFunction);
  list('inclusive time by function of the server (dist/src)', p.inclusiveInServer);
  return lines.join('\n');
}

// As a command: summarize a profile file.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 15);
  console.log(formatProfile(summarizeProfile(file, Math.max(top, 20)), top));
}
