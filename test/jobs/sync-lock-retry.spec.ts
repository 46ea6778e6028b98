import { describe, expect, it } from 'vitest';
import {
  SYNC_LOCK_FIRST_RETRY_MS,
  SYNC_LOCK_RETRY_MS,
  syncLockRetryMs,
} from '../../jobs/processors/sync-directory.processor.js';

/**
 * Issue 16: a change run queued while its PBX's last run writes its report finds the lock
 * free tens of milliseconds later; it looks again soon, then less and less often, never
 * less often than every SYNC_LOCK_RETRY_MS.
 */
describe('how soon a run waiting for its PBX lock looks again', () => {
  it('first after SYNC_LOCK_FIRST_RETRY_MS, doubling, up to SYNC_LOCK_RETRY_MS', () => {
    expect(SYNC_LOCK_FIRST_RETRY_MS).toBeLessThanOrEqual(50);
    const waits = Array.from({ length: 10 }, (_, i) => syncLockRetryMs(i + 1));
    expect(waits[0]).toBe(SYNC_LOCK_FIRST_RETRY_MS);
    expect(waits[1]).toBe(2 * SYNC_LOCK_FIRST_RETRY_MS);
    for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeGreaterThanOrEqual(waits[i - 1]);
    expect(waits.at(-1)).toBe(SYNC_LOCK_RETRY_MS);
    expect(syncLockRetryMs(0)).toBe(SYNC_LOCK_FIRST_RETRY_MS);
    expect(syncLockRetryMs(1000)).toBe(SYNC_LOCK_RETRY_MS);
  });
});
