import { type ChildProcess, spawn } from 'node:child_process';
import type { DatabaseConfig } from '../../src/store/orm.js';

/**
 * What one new Node process that loads the app through tsx may take to be ready on a loaded
 * two-core machine: about 3 s of CPU, nearly all of it module loading (measured with
 * --cpu-prof on src/cli/demo.ts), becomes tens of seconds of wall time beside CPU hogs and
 * the other test worker. Waits are still on the process's own output; tests that start such
 * processes size their timeouts with this, once per process they start.
 */
export const COLD_START_MS = 60_000;

export function databaseUrl(db: DatabaseConfig): string {
  return db.kind === 'sqlite' ? `sqlite:${db.file}` : db.url;
}

/**
 * node runs the script itself (`node --import tsx`), with no tsx wrapper process in between:
 * a signal sent to the child reaches the script. SIGKILL matters: a wrapper cannot relay it,
 * and the script would live on, orphaned, after the test saw it "killed".
 */
function spawnScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  opts: ScriptOptions = {},
): ChildProcess {
  const merged: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of opts.unset ?? []) delete merged[name];
  return spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', script, ...args], {
    env: merged,
    cwd: opts.cwd,
    stdio: 'pipe',
  });
}

/** Where a script runs (a directory under the project, so `tsx` and node_modules resolve), and variables it must not see. */
export interface ScriptOptions {
  cwd?: string;
  unset?: string[];
  /** Options for node itself, before the script (e.g. `--cpu-prof`, which NODE_OPTIONS may not hold). */
  nodeArgs?: string[];
}

/** Runs a CLI script to completion; resolves with its exit code and output. */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  opts: ScriptOptions = {},
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawnScript(script, args, env, opts);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running script and waits for a stdout line matching `ready`. */
export function startScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = COLD_START_MS,
  opts: ScriptOptions = {},
) {
  return watchScript(spawnScript(script, args, env, opts), ready, timeoutMs);
}

/**
 * Starts a compiled script with plain node (no tsx loader, NODE_OPTIONS cleared), e.g. the
 * build's `dist/src/main.js`, and waits for a stdout line matching `ready`.
 */
export function startCompiled(
  script: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 30_000,
  opts: Pick<ScriptOptions, 'nodeArgs'> = {},
) {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], {
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: 'pipe',
  });
  return watchScript(child, ready, timeoutMs);
}

function watchScript(child: ChildProcess, ready: RegExp, timeoutMs: number) {
  let out = '';
  const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, at: Date.now() })),
  );
  const match = new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready:\n${out}`));
    });
  });
  return { child, match, exited, output: () => out };
}

export { freePort } from '../../src/net.js';
