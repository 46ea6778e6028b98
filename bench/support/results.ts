import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * What every benchmark leaves behind: `bench/results/<name>.json` (issue 10 B), one file per
 * benchmark, the last run's. `npm run bench:readme` (bench/readme-table.ts) builds the README's
 * performance section from these files. BENCH_RESULTS_DIR writes them elsewhere (e.g. while
 * trying a bench at small sizes, whose figures do not belong in the README).
 */
export interface BenchResult<F = unknown> {
  bench: string;
  /** `git rev-parse --short HEAD`, plus "+dirty" when tracked files differ from it (bench/results/ aside) */
  commit: string;
  machine: BenchMachine;
  /** when the file was written (ISO 8601) */
  date: string;
  /** 1, 5 and 15-minute load averages when the file was written: the machine is shared */
  loadAverage: number[];
  /** the command that was run, to run it again */
  command: string;
  /** the options the bench ran with, defaults included */
  args: Record<string, unknown>;
  figures: F;
}

export interface BenchMachine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  node: string;
  platform: string;
}

export function resultsDir(): string {
  return path.resolve(process.env.BENCH_RESULTS_DIR ?? 'bench/results');
}

export function commitMeasured(): string {
  const git = (...a: string[]) => spawnSync('git', a, { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown';
  // Untracked files do not count (a worktree may hold a node_modules link, a scratch file...);
  // neither do the result files themselves.
  const status = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results');
  const dirty = status.status !== 0 || status.stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+dirty' : ''}`;
}

export function machine(): BenchMachine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Writes `<results dir>/<name>.json` and says where. */
export function writeResults<F>(
  name: string,
  run: { command: string; args: Record<string, unknown>; figures: F },
): BenchResult<F> {
  const result: BenchResult<F> = {
    bench: name,
    commit: commitMeasured(),
    machine: machine(),
    date: new Date().toISOString(),
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    command: run.command,
    args: run.args,
    figures: run.figures,
  };
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, formatted(name, `${JSON.stringify(result, null, 2)}\n`));
  console.log(`\nfigures written to ${path.relative(process.cwd(), file) || file}`);
  return result;
}

/**
 * The JSON as the project's formatter writes it (biome puts short arrays on one line), so that
 * `npm run lint` passes on freshly written results; as JSON.stringify wrote it when biome is not there.
 */
function formatted(name: string, json: string): string {
  const biome = path.resolve('node_modules/.bin/biome');
  if (!existsSync(biome)) return json;
  // The path only tells biome which rules apply: a path in the project, wherever the file goes.
  const out = spawnSync(biome, ['format', `--stdin-file-path=bench/results/${name}.json`], {
    input: json,
    encoding: 'utf8',
  });
  return out.status === 0 && out.stdout ? out.stdout : json;
}

/** Every `<name>.json` of the results directory, by name. */
export function readResults(dir = resultsDir()): Map<string, BenchResult> {
  const out = new Map<string, BenchResult>();
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    return out;
  }
  for (const f of files.sort()) {
    const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as BenchResult;
    out.set(r.bench ?? f.slice(0, -5), r);
  }
  return out;
}

/** `npm run bench -- <name> <argv…>` as one line (quoted where needed). */
export function benchCommand(name: string, argv: readonly string[]): string {
  const quoted = argv.map((a) => (/^[\w.,=:/@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return ['npm run bench --', name, ...quoted].join(' ');
}
