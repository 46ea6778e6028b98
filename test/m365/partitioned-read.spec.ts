import { describe, expect, it } from 'vitest';
import type { GraphPage } from '../../src/m365/graph-paging.js';
import { chain, PageQueue, runAll, Slots, slotted } from '../../src/m365/partitioned-read.js';

/**
 * The partitioned full read's plumbing (issue 16 item 2): a read its consumer stops (the run
 * was aborted, or failed on an earlier page) sends no more requests than those already under
 * way. The fetcher stands for Graph: chains of pages, each request counted.
 */
function graph(chains: number, pagesEach: number) {
  let requests = 0;
  const fetch = async (url: string): Promise<GraphPage> => {
    requests++;
    const [chainId, page] = url.split('/').map(Number) as [number, number];
    return {
      value: [{ id: `${chainId}-${page}` }],
      nextLink: page + 1 < pagesEach ? `${chainId}/${page + 1}` : undefined,
    };
  };
  const firsts = Array.from({ length: chains }, (_, c) => `${c}/0`);
  return { fetch, firsts, requests: () => requests };
}

function read(g: ReturnType<typeof graph>, slots: Slots) {
  const queue = new PageQueue<string>();
  const pf = slotted(g.fetch, slots, queue);
  const settled = runAll(queue, g.firsts, async (first) => {
    for await (const page of chain(pf, first, queue)) queue.push(String(page.value[0]?.id));
  });
  return { queue, settled };
}

describe('partitioned read plumbing', () => {
  it('reads every page of every chain when the consumer drains it all', async () => {
    const g = graph(4, 10);
    const { queue, settled } = read(g, new Slots(2));
    const ids: string[] = [];
    for await (const id of queue.drain()) ids.push(id);
    await settled;
    expect(ids).toHaveLength(40);
    expect(new Set(ids).size).toBe(40);
    expect(g.requests()).toBe(40);
  });

  it('stops asking for pages once the consumer stops draining', async () => {
    const g = graph(4, 10);
    const { queue, settled } = read(g, new Slots(1));
    for await (const _ of queue.drain()) break; // the run aborted after its first page
    await settled;
    // the request that gave the first page, and at most one per chain already given its slot
    expect(g.requests()).toBeLessThanOrEqual(1 + 4);
    expect(queue.wanted).toBe(false);
  });

  it('stops the other chains when one fails, and the consumer sees that failure', async () => {
    const g = graph(4, 10);
    const failing = async (url: string) => {
      if (url === '2/3') throw new Error('Graph said no');
      return g.fetch(url);
    };
    const queue = new PageQueue<string>();
    const pf = slotted(failing, new Slots(1), queue);
    const settled = runAll(queue, g.firsts, async (first) => {
      for await (const page of chain(pf, first, queue)) queue.push(String(page.value[0]?.id));
    });
    await expect(
      (async () => {
        for await (const _ of queue.drain());
      })(),
    ).rejects.toThrow('Graph said no');
    await settled;
    expect(g.requests()).toBeLessThan(40);
  });
});

describe('Slots', () => {
  it("gives a freed slot to a task marked first before the others waiting (a huge group's ranges)", async () => {
    const slots = new Slots(1);
    const order: string[] = [];
    let release!: () => void;
    const busy = slots.run(() => new Promise<void>((resolve) => (release = resolve)));
    const tasks = [
      slots.run(async () => void order.push('a')),
      slots.run(async () => void order.push('b')),
      slots.run(async () => void order.push('urgent'), true),
    ];
    release();
    await Promise.all([busy, ...tasks]);
    expect(order).toEqual(['urgent', 'a', 'b']);
  });
});
