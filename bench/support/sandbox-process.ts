import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { SandboxAdminClient } from '../../src/sandbox/admin-client.js';
import type { SandboxInfo } from '../../src/sandbox/index.js';

export interface SandboxProcess {
  info: SandboxInfo;
  pid: number;
  admin: SandboxAdminClient;
  /** From the sandbox CLI's --timing line: start-up time and RSS once seeded. */
  readyMs: number | null;
  readyRssMB: number | null;
  stop(): Promise<void>;
}

/**
 * The sandbox tenant in a process of its own: `src/sandbox/cli.ts` (what `npm run sandbox`
 * runs) started as `node --import tsx`, so that the child's pid is the sandbox itself (npm and
 * the tsx CLI would each add a wrapper process) and its memory is not the gateway's.
 * Throttling stays on (the CLI's default), as Microsoft's.
 */
export async function startSandboxProcess(opts: {
  users: number;
  groups: number;
  seed: number;
  latencyMs: number;
  dataDir: string;
  /** Contacts per user mailbox, shared mailboxes and their contacts (the CLI's seed options; default none). */
  contactsPerUser?: number;
  sharedMailboxes?: number;
  contactsPerMailbox?: number;
  /** Every seeded user's default Contacts folder is shared with the admin (the account that connects). */
  shareContactsWithAdmin?: boolean;
  execArgv?: string[];
  timeoutMs?: number;
}): Promise<SandboxProcess> {
  const args = [
    ...(opts.execArgv ?? []),
    '--import',
    'tsx',
    path.resolve('src/sandbox/cli.ts'),
    '--port',
    '0',
    '--users',
    String(opts.users),
    '--groups',
    String(opts.groups),
    '--seed',
    String(opts.seed),
    '--latency-ms',
    String(opts.latencyMs),
    '--data-dir',
    opts.dataDir,
    '--auto-sign-in',
    '--timing',
    ...(opts.contactsPerUser ? ['--contacts-per-user', String(opts.contactsPerUser)] : []),
    ...(opts.sharedMailboxes ? ['--shared-mailboxes', String(opts.sharedMailboxes)] : []),
    ...(opts.contactsPerMailbox ? ['--contacts-per-mailbox', String(opts.contactsPerMailbox)] : []),
    ...(opts.shareContactsWithAdmin ? ['--share-contacts-with-admin'] : []),
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let stderr = '';
  let timing: { readyMs?: number; rssMB?: number } = {};
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
    for (const line of String(d).split('\n')) {
      if (line.startsWith('{"readyMs"')) {
        try {
          timing = JSON.parse(line);
        } catch {
          // not the timing line after all
        }
      }
    }
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  let stopping = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      // Say so at once when the sandbox goes away on its own: every leg after it would fail.
      if (!stopping)
        console.error(
          `sandbox (pid ${child.pid}) exited by itself: code ${code}, signal ${signal}\n${stderr.slice(-4000)}`,
        );
      resolve(code);
    }),
  );
  const info = await new Promise<SandboxInfo>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the sandbox did not start in ${opts.timeoutMs ?? 180_000} ms:\n${stderr}`)),
      opts.timeoutMs ?? 180_000,
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as SandboxInfo);
      } catch (err) {
        reject(new Error(`unexpected sandbox output '${line}': ${(err as Error).message}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  // The timing line follows the info line on stderr; give it a moment.
  for (let i = 0; i < 20 && timing.readyMs === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  const admin = new SandboxAdminClient(info.adminUrl, info.adminToken, readFileSync(info.caFile, 'utf8'));
  return {
    info,
    pid: child.pid as number,
    admin,
    readyMs: timing.readyMs ?? null,
    readyRssMB: timing.rssMB ?? null,
    async stop() {
      stopping = true;
      await admin.close().catch(() => {});
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
