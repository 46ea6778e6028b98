import { afterAll, beforeAll, expect, it } from 'vitest';
import { SaveUserSyncRuleDocument } from '../generated/graphql.js';
import { describeEachDb } from '../support/db.js';
import { eventually, staysTrue } from '../support/wait.js';
import { type PbxClient, type Run, type SyncWorld, startSyncWorld, USER_RULE } from './sync-world.js';

/**
 * U8: a run's report names the Graph requests *it* made. The worker runs several PBXs at once
 * (sync queue concurrency) through one Graph reader; each run counts only its own requests.
 */
describeEachDb('runs of several PBXs at once each count their own Graph requests (U8)', (leg) => {
  let world: SyncWorld;

  beforeAll(async () => {
    // 2,500 users: three pages of 999, so a run makes several requests one after another.
    world = await startSyncWorld(leg, { users: 2500, groups: 5, seed: 23 });
  });
  afterAll(async () => {
    await world?.sandbox.admin.resetFaults();
    await world?.close();
  });

  /** Saves the user rule: the first, full run, not waited for. */
  async function startFullRun(pbx: PbxClient): Promise<string> {
    const saved = await pbx.ok(SaveUserSyncRuleDocument, { input: USER_RULE });
    const id = saved.saveUserSyncRule.initialRun?.id;
    if (!id) throw new Error('saving the user rule started no run');
    return id;
  }

  async function sandboxRequests(): Promise<number> {
    return (await world.sandbox.admin.stats()).graphRequests;
  }

  /**
   * The sandbox's request count once nothing else calls it: connecting a PBX queues Graph work
   * (subscriptions, schedules), so wait until no job is waiting or running on the gateway and
   * the count then holds still for 400 ms.
   */
  async function quietRequests(): Promise<number> {
    return eventually(
      async () => {
        for (const { name, counts } of await world.gateway.queues.counts())
          expect(counts.waiting + counts.active, `jobs of queue ${name}`).toBe(0);
        const now = await sandboxRequests();
        await staysTrue(async () => (await sandboxRequests()) === now, { for: 400, interval: 50 });
        return now;
      },
      { timeout: 30_000, interval: 50, message: 'Graph requests to stop' },
    );
  }

  it('U8 two first syncs running together report the requests each made, which add up to what Microsoft saw', async () => {
    const [a, b, c] = [await world.pbx(), await world.pbx(), await world.pbx()];
    // Every Graph answer takes a while, so the two runs overlap for all their length; no
    // throttling, so that no run makes a request more than another (a retried 429).
    await world.sandbox.admin.setFaults({ latencyMs: 100, throttling: false });

    // Alone: what a first sync of this directory takes.
    let before = await quietRequests();
    const alone = (await a.wait(await startFullRun(a))) as Run;
    expect(alone.status).toBe('SUCCEEDED');
    const own = alone.graphRequests as number;
    expect(own).toBeGreaterThan(2);
    expect(await sandboxRequests()).toBe(before + own);

    // Together: each reports the same count as alone, and the two add up to the sandbox's count.
    before = await quietRequests();
    const ids = await Promise.all([startFullRun(b), startFullRun(c)]);
    const runs = (await Promise.all(ids.map((id, i) => [b, c][i]?.wait(id)))) as Run[];
    for (const run of runs) expect(run.status).toBe('SUCCEEDED');
    const [rb, rc] = runs as [Run, Run];
    const overlap =
      Date.parse(rb.startedAt as string) < Date.parse(rc.finishedAt as string) &&
      Date.parse(rc.startedAt as string) < Date.parse(rb.finishedAt as string);
    expect(overlap, 'the two runs ran at the same time').toBe(true);
    expect(rb.graphRequests).toBe(own);
    expect(rc.graphRequests).toBe(own);
    expect(await sandboxRequests()).toBe(before + 2 * own);
    // Three connects and three first syncs of a 2,500-user directory whose every Graph answer
    // is held 100 ms: about 8 s on an idle machine, several times that beside CPU hogs.
  }, 90_000);
});
