import { frameKey } from './cpuprofile.js';
import type { SourceMaps } from './sourcemaps.js';

/**
 * V8's sampling heap profile (HeapProfiler.getSamplingProfile): the objects still alive at the
 * moment it is taken, sampled about every `samplingInterval` bytes, by the call stack that
 * allocated them.
 */
export interface SamplingHeapProfile {
  head: HeapNode;
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

export interface HeapSummary {
  totalBytes: number;
  /** live bytes by allocating function */
  self: Array<{ fn: string; bytes: number }>;
  /** live bytes allocated under each project function (src/, jobs/), callees included */
  inclusive: Array<{ fn: string; bytes: number }>;
}

export function summarizeHeapProfile(profile: SamplingHeapProfile, top = 15, maps?: SourceMaps): HeapSummary {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, stack: string[]): number => {
    const k = frameKey(node.callFrame, maps);
    self.set(k, (self.get(k) ?? 0) + node.selfSize);
    total += node.selfSize;
    const own = /\/(src|jobs)\//.test(node.callFrame.url) && !node.callFrame.url.includes('/node_modules/');
    const next = own && !stack.includes(k) ? [...stack, k] : stack;
    let sum = node.selfSize;
    for (const c of node.children) sum += walk(c, next);
    if (next !== stack) inclusive.set(k, (inclusive.get(k) ?? 0) + sum);
    return sum;
  };
  walk(profile.head, []);
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, bytes]) => ({ fn, bytes }));
  return { totalBytes: total, self: sorted(self), inclusive: sorted(inclusive) };
}

export function formatHeapSummary(summary: HeapSummary, title: string): string {
  const mb = (b: number) => `${(b / 1048576).toFixed(1).padStart(7)} MB`;
  const lines = [`${title}: ${mb(summary.totalBytes).trim()} live (sampled)`];
  lines.push('  live bytes by allocating function:');
  for (const f of summary.self) lines.push(`    ${mb(f.bytes)}  ${f.fn}`);
  lines.push('  live bytes allocated under project functions (callees included):');
  for (const f of summary.inclusive) lines.push(`    ${mb(f.bytes)}  ${f.fn}`);
  return lines.join('\n');
}
