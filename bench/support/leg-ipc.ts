import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * A bench leg in a child process of its own (a fresh process per database), talking to the
 * bench over Node's IPC channel: the leg asks (`ask(type, payload)`) and the bench answers
 * (a sandbox change, a lower bound ...); the leg ends with a `result` message, or `failed`.
 */
export type Ask = (type: string, payload?: unknown) => Promise<unknown>;

/** The leg's side: asks the bench and waits for its answer. */
export function askBench(): Ask {
  let next = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  process.on('message', (msg: { id?: number; result?: unknown; error?: string }) => {
    if (typeof msg?.id !== 'number') return;
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(msg.error));
    else w.resolve(msg.result);
  });
  return (type, payload) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      process.send?.({ id, type, payload });
    });
}

/**
 * How a leg runs the gateway's code: under tsx (the default: what `npm run demo` does), or
 * compiled by tsc as `npm start` runs it (`BENCH_GATEWAY_CODE=compiled`: tsconfig.bench.json
 * into .bench-build, run with `--enable-source-maps` like the start script). tsx's loader and
 * its transformed sources hold ~80 MB of RSS that a production process does not (measured:
 * an idle `--role all` gateway, 264 MB under tsx, 186 MB compiled), so memory figures meant to
 * say what production holds are taken compiled.
 */
export function legCode(): 'tsx' | 'compiled' {
  return process.env.BENCH_GATEWAY_CODE === 'compiled' ? 'compiled' : 'tsx';
}

const BUILD_DIR = '.bench-build';
let built = false;

/** The node arguments that run `script` (a .ts path) as `legCode()` says. */
function legArgs(script: string): string[] {
  if (legCode() === 'tsx') return ['--import', 'tsx', path.resolve(script)];
  return ['--enable-source-maps', compiledScript(script)];
}

/** `script` (a .ts path) compiled by tsc (tsconfig.bench.json, once per bench run): its .js path. */
export function compiledScript(script: string): string {
  if (!built) {
    const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.bench.json'], { stdio: 'inherit' });
    if (tsc.status !== 0) throw new Error('tsc -p tsconfig.bench.json failed');
    built = true;
  }
  return path.resolve(BUILD_DIR, script.replace(/\.ts$/, '.js'));
}

/**
 * The bench's side: runs `script` (under tsx or compiled, see `legCode`, with `nodeArgs`) with
 * `input` in BENCH_LEG, answers its questions with `answer`, and resolves with its `result`.
 */
export function runLegProcess<R>(
  script: string,
  input: unknown,
  nodeArgs: readonly string[],
  answer: (type: string, payload: unknown) => Promise<unknown> | unknown,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...legArgs(script)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, BENCH_LEG: JSON.stringify(input) },
    });
    let result: R | undefined;
    let failure: string | undefined;
    child.on('message', async (msg: { id?: number; type: string; payload?: unknown; error?: string }) => {
      if (msg.type === 'failed') {
        failure = msg.error;
        return;
      }
      try {
        let reply: unknown = null;
        if (msg.type === 'result') result = msg.payload as R;
        else reply = await answer(msg.type, msg.payload);
        child.send({ id: msg.id, result: reply });
      } catch (err) {
        child.send({ id: msg.id, error: (err as Error).message });
      }
    });
    child.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(failure ?? `the leg exited with ${code}`));
    });
  });
}
