import { expect, it } from 'vitest';
import type { AuditEntryRecord } from '../../src/app/ports/store.port.js';
import { describeEachDb, useStore } from '../support/db.js';

type NewEntry = Omit<AuditEntryRecord, 'id'>;

/** The audit log's store (src/store/audit.repository.ts): written at once, paged newest first. */
describeEachDb('audit repository: entries written at once, paged newest first per PBX', (leg) => {
  const t = useStore(leg);
  const entry = (pbxId: string, at: Date, patch: Partial<NewEntry> = {}): NewEntry => ({
    pbxId,
    keyId: null,
    role: 'admin',
    operation: 'updatePbx',
    arguments: { input: { name: 'x' } },
    outcome: 'OK',
    message: null,
    requestId: 'req-1',
    at,
    ...patch,
  });

  it('keeps an entry as written: arguments (nested), outcome, message and time', async () => {
    const pbxId = await t.pbx();
    const written = entry(pbxId, new Date('2030-01-01T00:00:00.123Z'), {
      arguments: { input: { clientSecret: '[REDACTED]', tags: ['a', 'b'], n: 3, on: true } },
      outcome: 'INVALID_INPUT',
      message: 'Zoë’s input was refused',
    });
    await t.store().audit.record(written);
    const page = await t.store().audit.page(pbxId, { first: 10 });
    expect(page.totalCount).toBe(1);
    const { id, ...rest } = (page.edges[0] as { node: AuditEntryRecord }).node;
    expect(rest).toEqual(written);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('writes at once, without flushing what else the unit of work holds', async () => {
    const pbxId = await t.pbx();
    const store = t.store();
    await store.audit.record(entry(pbxId, new Date()));
    // A second unit of work sees it immediately.
    expect((await t.store().audit.page(pbxId, { first: 1 })).totalCount).toBe(1);
  });

  it('pages newest first with opaque cursors, without gaps or repeats, entries of one millisecond in write order', async () => {
    const [pbxId, other] = [await t.pbx(), await t.pbx()];
    const sameMs = new Date('2030-02-02T02:02:02.002Z');
    for (let i = 0; i < 4; i++)
      await t
        .store()
        .audit.record(entry(pbxId, new Date(sameMs.getTime() - 1000 * (i + 1)), { requestId: `old-${i}` }));
    for (let i = 0; i < 5; i++)
      await t.store().audit.record(entry(pbxId, sameMs, { requestId: `same-${i}` }));
    await t.store().audit.record(entry(other, sameMs));

    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await t.store().audit.page(pbxId, { first: 4, after });
      expect(page.totalCount).toBe(9);
      seen.push(...page.edges.map((e) => e.node.requestId as string));
      if (!page.hasNextPage) break;
      after = page.endCursor;
    }
    expect(seen).toEqual([
      'same-4',
      'same-3',
      'same-2',
      'same-1',
      'same-0',
      'old-0',
      'old-1',
      'old-2',
      'old-3',
    ]);
  });
});
