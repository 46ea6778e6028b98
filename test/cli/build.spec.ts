import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TEST_SECRET_KEY, uniquePrefix } from '../support/gateway.js';
import { startCompiled } from '../support/process.js';

/**
 * Production runs compiled JavaScript (issue 10 A): `npm run build` (tsc -p tsconfig.build.json)
 * and `npm start` (node on the output). The build goes to a directory of its own under .data/test/,
 * inside the project: node finds node_modules and package.json ("type": "module") from there, as
 * it does from dist/; the developer's dist/ is left alone.
 */
const require = createRequire(import.meta.url);
const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };

describe('npm run build && npm start (issue 10 A)', () => {
  const id = randomBytes(4).toString('hex');
  const outDir = path.resolve('.data/test', `build-${id}`);
  const file = path.resolve('.data/test', `build-${id}.sqlite`);

  afterAll(() => {
    rmSync(outDir, { recursive: true, force: true });
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  });

  it('compiles src/ and jobs/; the compiled gateway starts, migrates, answers /healthz and exits 0 on SIGTERM', async () => {
    // `npm start` runs dist/src/main.js: the same file of this build.
    const start = /\bnode\b.*\bdist\/(\S+\.js)/.exec(pkg.scripts.start);
    expect(start, `npm start: ${pkg.scripts.start}`).not.toBeNull();
    expect(pkg.scripts.build).toContain('tsc -p tsconfig.build.json');
    mkdirSync(path.dirname(outDir), { recursive: true });
    await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], {
      timeout: 90_000,
    });
    const main = path.join(outDir, (start as RegExpExecArray)[1]);
    expect(existsSync(main)).toBe(true);
    // Only what production needs is compiled.
    expect(existsSync(path.join(outDir, 'jobs'))).toBe(true);
    expect(existsSync(path.join(outDir, 'test'))).toBe(false);
    expect(existsSync(path.join(outDir, 'bench'))).toBe(false);

    const proc = startCompiled(
      main,
      ['--role', 'all'],
      {
        DATABASE_URL: `sqlite:${file}`,
        REDIS_URL: inject('redisUrl'),
        QUEUE_PREFIX: uniquePrefix('build'),
        SECRET_KEY: TEST_SECRET_KEY,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        NODE_ENV: 'production',
      },
      // Logged once the database (migrated) and Redis answered: the server listened before that.
      /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"gateway started"/,
      30_000,
    );
    try {
      const url = (await proc.match)[1];
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      // The database opened and the migrations (listed in src/store/migrations/*/index.ts) ran from the build.
      const ready = await fetch(`${url}/readyz`);
      expect(await ready.json()).toMatchObject({ database: 'ok', redis: 'ok' });
      expect(ready.status).toBe(200);
    } finally {
      proc.child.kill('SIGTERM');
    }
    const exit = await proc.exited;
    expect(exit.code, proc.output()).toBe(0);
    expect(proc.output()).toContain('"msg":"stopped"');
  }, 120_000);
});
