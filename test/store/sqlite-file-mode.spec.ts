import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, pingDatabase } from '../../src/store/orm.js';

describe('SQLite files are private (issue 12 item 6)', () => {
  it('creates the database file, and so its -wal and -shm files, readable by its owner only', async () => {
    const dir = path.resolve('.data/test', `mode-${randomBytes(4).toString('hex')}`);
    const file = path.join(dir, 'gateway.sqlite');
    const orm = await openDatabase({ kind: 'sqlite', file });
    try {
      await pingDatabase(orm);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) {
        if (existsSync(f)) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      }
      expect(existsSync(`${file}-wal`)).toBe(true);
    } finally {
      await orm.close(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
