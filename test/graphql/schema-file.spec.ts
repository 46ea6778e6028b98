import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildGatewaySchema, printGatewaySchema } from '../../src/graphql/schema.js';
import { COLD_START_MS, runScript } from '../support/process.js';

describe('committed schema: schema/schema.graphql matches the resolvers', () => {
  it('schema/schema.graphql is exactly what the resolvers emit', async () => {
    const committed = readFileSync('schema/schema.graphql', 'utf8');
    expect(printGatewaySchema(await buildGatewaySchema())).toBe(committed);
  });

  it(
    '`schema:check` fails when the file and the code differ, and passes when they agree',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'epg-schema-'));
      const stale = path.join(dir, 'schema.graphql');
      // A resolver changed without re-emitting looks, from the check's side, like a file that differs.
      writeFileSync(stale, readFileSync('schema/schema.graphql', 'utf8').replace('pbx: Pbx!', 'pbx: Pbx'));
      const bad = await runScript('src/cli/schema.ts', ['check', '--file', stale], {});
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('out of date');
      const good = await runScript('src/cli/schema.ts', ['check'], {});
      expect(good.code).toBe(0);
    },
    2 * COLD_START_MS,
  );
});
