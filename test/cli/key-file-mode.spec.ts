import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, withDemoSecretKey } from '../../src/config.js';
import { createSqliteDatabase, type TestDatabase } from '../support/db.js';
import { TEST_SECRET_KEY } from '../support/gateway.js';
import { databaseUrl, runScript } from '../support/process.js';

/**
 * Issue 12 item 6: key files the gateway writes are readable by their owner only (0600), and
 * so pass its own check at start: the demo's key file made on first run, and the file
 * `keys rotate-secret-key` writes the new key to.
 */
describe('key files are written 0600 (issue 12 item 6)', () => {
  let dir: string;
  let db: TestDatabase;
  const mode = (file: string) => statSync(file).mode & 0o777;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'epg-key-mode-'));
    db = await createSqliteDatabase();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it.skipIf(process.platform === 'win32')('the demo key file, made on first run', () => {
    const file = path.join(dir, 'demo', 'secret.key');
    const env = withDemoSecretKey({}, file);
    expect(env.SECRET_KEY_FILE).toBe(file);
    expect(mode(file)).toBe(0o600);
    expect(() => loadConfig(env, [])).not.toThrow();
  });

  it.skipIf(process.platform === 'win32')(
    'the key file `keys rotate-secret-key` writes the new key to',
    async () => {
      const file = path.join(dir, 'rotated.key');
      writeFileSync(file, `${TEST_SECRET_KEY}\n`, { mode: 0o600 });
      const res = await runScript('src/cli/keys.ts', ['rotate-secret-key', '--settle-ms', '0'], {
        DATABASE_URL: databaseUrl(db.config),
        SECRET_KEY_FILE: file,
        LOG_LEVEL: 'silent',
      });
      expect(res.code, res.stderr).toBe(0);
      expect(mode(file)).toBe(0o600);
      expect(loadConfig({ SECRET_KEY_FILE: file }, []).secretKey.previous).toHaveLength(1);
    },
    60_000,
  );
});
