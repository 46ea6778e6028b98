import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PbxDocument } from '../generated/graphql.js';
import { gql, uniquePrefix } from '../support/gateway.js';
import { runScript, startScript } from '../support/process.js';

/**
 * Issue 11: after `npm run demo`, `npm run keys -- pbx-list` failed with "SECRET_KEY:
 * required". With DATABASE_URL, SECRET_KEY and SECRET_KEY_FILE unset, the keys commands read
 * what the demo wrote in the same directory (.data/gateway.sqlite, .data/secret.key).
 */
describe('npm run keys beside npm run demo, with no settings', () => {
  // A directory of its own under the project, so node_modules and tsconfig resolve from it.
  const dir = path.resolve('.data/test', `cli-demo-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const unset = ['DATABASE_URL', 'SECRET_KEY', 'SECRET_KEY_FILE'];
  const env = {
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: uniquePrefix('kdemo'),
    PORT: '0',
    LOG_LEVEL: 'warn',
  };
  const keys = (...args: string[]) =>
    runScript(path.resolve('src/cli/keys.ts'), args, env, { cwd: dir, unset });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says to run the demo first when there is no database yet', async () => {
    const res = await keys('pbx-list');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('No database at .data/gateway.sqlite');
    expect(res.stderr).toContain('npm run demo');
    expect(res.stderr).not.toContain('SECRET_KEY');
  });

  it("lists the demo's PBX and makes a key that works on the running demo", async () => {
    const demo = startScript(path.resolve('src/cli/demo.ts'), [], env, /Stop: Ctrl\+C/, 60_000, {
      cwd: dir,
      unset,
    });
    try {
      await demo.match;
      const out = demo.output();
      const pbxId = /^PBX_ID=(\S+)$/m.exec(out)?.[1] as string;
      const url = /^GRAPHQL_URL=(http:\/\/\S+)\/graphql$/m.exec(out)?.[1] as string;
      const listed = await keys('pbx-list');
      expect(listed.stderr).toBe('');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toBe(`${pbxId}\tDemo PBX\tUTC\n`);
      const made = await keys('key-create', '--pbx', pbxId, '--role', 'viewer');
      expect(made.code).toBe(0);
      expect((await gql(url, made.stdout.trim(), PbxDocument)).body.data?.pbx.id).toBe(pbxId);
      const listedKeys = await keys('key-list', '--pbx', pbxId);
      expect(listedKeys.stdout).toMatch(/\tADMIN\tdemo\t/);
      expect(listedKeys.stdout).toMatch(/\tVIEWER\t\t/);
    } finally {
      demo.child.kill('SIGINT');
      await demo.exited;
    }
  }, 90_000);
});
