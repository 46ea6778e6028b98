import { existsSync, readFileSync } from 'node:fs';
import { SourceMaps } from './sourcemaps.js';

/** V8's .cpuprofile (what `node --cpu-prof` and the inspector's Profiler.stop give). */
export interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }>;
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** self time by function */
  self: Array<{ fn: string; ms: number }>;
  /** self time by package / source file / V8 bucket */
  areas: Array<{ area: string; ms: number }>;
  /** inclusive time of the project's own functions (src/, jobs/) */
  inclusive: Array<{ fn: string; ms: number }>;
}

const root = process.cwd();

export function shortUrl(url: string): string {
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  if (u.startsWith(`${root}/`)) return u.slice(root.length + 1);
  return u;
}

function area(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'V8 garbage collector';
    if (fn === '(idle)') return 'idle (waiting: I/O, timers)';
    if (fn === '(program)') return 'V8/native (program)';
    return `native ${fn || '(anonymous)'}`;
  }
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (u.startsWith('node:')) return u.split('/')[0];
  if (u.startsWith(`${root}/`)) return u.slice(root.length + 1);
  return u;
}

/** `name file:line`, the line taken from the source map when the code was compiled (tsx). */
export function frameKey(
  f: { functionName: string; url: string; lineNumber: number; columnNumber?: number },
  maps?: SourceMaps,
): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const line = maps?.line(f.url, f.lineNumber, f.columnNumber ?? 0) ?? f.lineNumber + 1;
  return `${name} ${shortUrl(f.url)}:${line}`;
}

export function summarizeProfile(profile: CpuProfile, top = 25, maps?: SourceMaps): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map<number, string>();
  for (const n of profile.nodes) keyOf.set(n.id, frameKey(n.callFrame, maps));
  const self = new Map<string, number>();
  const areas = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const id = profile.samples[i];
    const node = byId.get(id);
    if (!node) continue;
    total += dt;
    const key = keyOf.get(id) as string;
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = area(node.callFrame.url, node.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const url = n.callFrame.url;
      if (!/\/(src|jobs)\//.test(url) || url.includes('/node_modules/')) continue;
      const k = keyOf.get(cur) as string;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const sorted = <K extends string>(m: Map<string, number>, name: K) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, ms]) => ({ [name]: k, ms }) as { [P in K]: string } & { ms: number });
  return {
    totalMs: total,
    self: sorted(self, 'fn'),
    areas: sorted(areas, 'area'),
    inclusive: sorted(inclusive, 'fn'),
  };
}

export function formatSummary(summary: ProfileSummary, title: string, top = 25): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(1, summary.totalMs)).toFixed(1).padStart(5)} %`;
  const ms = (v: number) => `${Math.round(v).toLocaleString('en-US').padStart(8)} ms`;
  const lines = [
    `${title}: ${Math.round(summary.totalMs).toLocaleString('en-US')} ms sampled on the main thread`,
  ];
  lines.push('  self time by area:');
  for (const a of summary.areas.slice(0, 12)) lines.push(`    ${ms(a.ms)} ${pct(a.ms)}  ${a.area}`);
  lines.push('  self time by function:');
  for (const f of summary.self.slice(0, top)) lines.push(`    ${ms(f.ms)} ${pct(f.ms)}  ${f.fn}`);
  lines.push('  inclusive time, project functions (src/, jobs/):');
  for (const f of summary.inclusive.slice(0, top)) lines.push(`    ${ms(f.ms)} ${pct(f.ms)}  ${f.fn}`);
  return lines.join('\n');
}

/** `npm run bench -- cpuprofile FILE [--top N]`: summarizes any .cpuprofile. */
export async function main(argv: readonly string[]): Promise<void> {
  const file = argv.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error('usage: npm run bench -- cpuprofile FILE.cpuprofile [--top N]');
    process.exitCode = 2;
    return;
  }
  const i = argv.indexOf('--top');
  const top = i >= 0 ? Number(argv[i + 1]) : 30;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  // `sync --profile` writes LEG-PHASE.cpuprofile and LEG-sourcemaps.json (TypeScript lines of tsx-compiled code).
  const mapsFile = file.replace(/-[^-]+\.cpuprofile$/, '-sourcemaps.json');
  const maps =
    mapsFile !== file && existsSync(mapsFile)
      ? SourceMaps.fromJSON(JSON.parse(readFileSync(mapsFile, 'utf8')))
      : undefined;
  console.log(formatSummary(summarizeProfile(profile, top, maps), file, top));
}
