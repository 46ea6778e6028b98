import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { COLD_START_MS } from '../support/process.js';
import { removeTestDataDir, testDataDir } from './sandbox-test.helpers.js';

afterAll(() => removeTestDataDir());

describe('npm run sandbox (src/sandbox/cli.ts)', () => {
  it(
    'prints one JSON line with what a client needs, answers, and stops cleanly on SIGTERM',
    async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/sandbox/cli.ts',
          '--port',
          '0',
          '--users',
          '30',
          '--seed',
          '42',
          '--auto-sign-in',
          '--data-dir',
          testDataDir(),
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const lines = createInterface({ input: child.stdout });
      const first = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const info = JSON.parse(first) as Record<string, string>;
      expect(Object.keys(info).sort()).toEqual(
        [
          'adminToken',
          'adminUrl',
          'authorityHost',
          'caFile',
          'clientId',
          'clientSecret',
          'graphBaseUrl',
          'tenantId',
        ].sort(),
      );
      expect(info.authorityHost).toMatch(/^https:\/\/localhost:\d+$/);
      expect(info.graphBaseUrl).toBe(`${info.authorityHost}/v1.0`);

      const agent = new Agent({ connect: { ca: readFileSync(info.caFile as string, 'utf8') } });
      const res = await request(
        `${info.authorityHost}/${info.tenantId}/v2.0/.well-known/openid-configuration`,
        { dispatcher: agent },
      );
      expect(res.statusCode).toBe(200);
      await res.body.json();
      await agent.close();

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const more: string[] = [];
      lines.on('line', (l) => more.push(l));
      expect(more).toEqual([]);
    },
    COLD_START_MS,
  );
});
