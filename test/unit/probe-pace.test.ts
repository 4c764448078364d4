/** Pacing of the doctor's probes (src/probe/pace.ts) and the drop counters it cites (src/drivers/datapath-drops.ts). */
import { describe, expect, it } from 'vitest';
import { dropDelta, parseCoverageDrops, parseDpctlShow } from '../../src/drivers/datapath-drops.js';
import { NeighBudget, Pacer, pairGroups } from '../../src/probe/pace.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('Pacer', () => {
  it('never has more probes in flight than its window', async () => {
    const p = new Pacer({ initial: 3, max: 3, adaptive: false });
    let active = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        p.run(
          true,
          async () => {
            active++;
            most = Math.max(most, active);
            await new Promise((r) => setTimeout(r, 2));
            active--;
            return 1;
          },
          () => ['answer', 1],
        ),
      ),
    );
    expect(most).toBe(3);
    expect(p.stats.started).toBe(20);
    expect(p.stats.answered).toBe(20);
  });

  it('grows with answers and halves when a quarter of the recent probes go unanswered', async () => {
    const p = new Pacer({ initial: 4, max: 64, min: 2 });
    for (let i = 0; i < 20; i++) (await p.acquire(true)).done('answer', 1);
    expect(p.limit).toBeGreaterThan(4);
    const grown = p.limit;
    // losses of probes started before the cut count once: one halving per window of probes
    const tickets = await Promise.all(Array.from({ length: 12 }, () => p.acquire(true)));
    for (const t of tickets) t.done('silent');
    expect(p.stats.cuts).toBe(1);
    expect(p.limit).toBe(Math.floor(grown / 2));
  });

  it('one failing node among many (a few losses) does not slow the run down', async () => {
    const p = new Pacer({ initial: 16, max: 64 });
    for (let i = 0; i < 200; i++) (await p.acquire(true)).done(i % 20 === 0 ? 'silent' : 'answer', 1);
    expect(p.stats.cuts).toBe(0);
  });

  it('expected-blocked silence is no loss signal', async () => {
    const p = new Pacer({ initial: 8 });
    for (let i = 0; i < 40; i++) (await p.acquire(false)).done('silent');
    expect(p.stats.cuts).toBe(0);
  });

  it('a silent probe gives its slot back after the loss time, but keeps waiting for its answer', async () => {
    const p = new Pacer({ initial: 1, max: 1, adaptive: false, lossMinMs: 20, lossMaxMs: 20 });
    const slow = await p.acquire(true);
    const t0 = performance.now();
    const next = await p.acquire(true); // waits until the first is presumed lost
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    expect(p.stats.presumedLost).toBe(1);
    slow.done('answer', 30);
    next.done('answer', 1);
    expect(p.inFlight).toBe(0);
  });

  it('keeps a gap between starts (the low-rate re-probe)', async () => {
    const p = new Pacer({ initial: 4, max: 4, adaptive: false, gapMs: 10 });
    const t0 = performance.now();
    const starts: number[] = [];
    await Promise.all(
      Array.from({ length: 5 }, () =>
        p.run(
          true,
          async () => {
            starts.push(performance.now() - t0);
            await tick();
          },
          () => ['answer', 1],
        ),
      ),
    );
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(8);
  });
});

describe('NeighBudget', () => {
  it('is unbounded when every pair fits the table at once', () => {
    expect(NeighBudget.forTable({ gcThresh3: 65536, entries: 100 }, 19_900).perWindow).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(NeighBudget.fits({ gcThresh3: 65536, entries: 100 }, 19_900)).toBe(true);
  });

  it('bounds new pairs by half the free room of a small table', () => {
    const b = NeighBudget.forTable({ gcThresh3: 1024, entries: 24, reachableMs: 30_000 }, 1225);
    expect(NeighBudget.fits({ gcThresh3: 1024, entries: 24 }, 1225)).toBe(false);
    expect(b.perWindow).toBe(Math.floor((1024 - 24 - 103) / 2));
    expect(b.windowMs).toBe(51_000);
  });

  it('waits once the window is used up, and gives up past a deadline', async () => {
    let now = 0;
    const b = new NeighBudget(2, 30, () => now);
    expect(await b.admit()).toBe(true);
    expect(await b.admit()).toBe(true);
    expect(await b.admit(10)).toBe(false); // room again only at 30
    let third = false;
    const p = b.admit().then(() => {
      third = true;
    });
    await tick();
    expect(third).toBe(false);
    now = 31;
    await p;
    expect(third).toBe(true);
  });
});

describe('pairGroups', () => {
  it('groups both directions of a pair and spreads consecutive pairs over the nodes', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'];
    const items: { from: string; to: string; p: string }[] = [];
    for (const f of nodes)
      for (const t of nodes)
        if (f !== t) for (const p of ['icmp', 'udp', 'tcp']) items.push({ from: f, to: t, p });
    const groups = pairGroups(items, (x) => x);
    expect(groups).toHaveLength(15);
    for (const g of groups) {
      expect(g).toHaveLength(6);
      expect(new Set(g.map((x) => [x.from, x.to].sort().join()))).toHaveProperty('size', 1);
    }
    // the first three pairs (one round) involve six different nodes
    const first = groups.slice(0, 3).flatMap((g) => [g[0]!.from, g[0]!.to]);
    expect(new Set(first).size).toBeGreaterThanOrEqual(5);
  });
});

describe('drop counters', () => {
  it('parses dpctl/show -s and coverage/show, and names what rose', () => {
    const show = (lost: number, drop: number) => `netdev@ovs-netdev:
  lookups: hit:10 missed:2 lost:${lost}
  flows: 0
  port 1: lvaaa
    RX packets:204 errors:0 dropped:${drop} overruns:0 frame:0
    TX packets:213 errors:0 dropped:1 aborted:0 carrier:0
`;
    const a = parseDpctlShow(show(0, 0));
    expect(a).toEqual({ lost: 0, ports: { lvaaa: { rxDrop: 0, txDrop: 1 } } });
    const cov = parseCoverageDrops(
      'drop_action_of_pipeline    0.0/sec     0.000/sec        0.3256/sec   total: 1172\nnetdev_received  0.0/sec 1/sec 1/sec total: 5\n',
    );
    expect(cov).toEqual({ drop_action_of_pipeline: 1172 });
    const b = parseDpctlShow(show(3, 5));
    const d = dropDelta(
      {
        at: 0,
        ...a,
        coverage: cov,
        veths: {},
        errors: [],
        neigh: { gcThresh3: 1024, gcThresh2: 512, entries: 9, tableFulls: 10 },
      },
      {
        at: 1,
        ...b,
        coverage: { drop_action_of_pipeline: 1180 },
        veths: {},
        errors: [],
        neigh: { gcThresh3: 1024, gcThresh2: 512, entries: 1024, tableFulls: 50 },
      },
      ['lvaaa'],
    );
    expect(d.tableFulls).toBe(40);
    expect(d.rose).toEqual([
      'kernel neighbour table full +40 (arp_cache table_fulls)',
      'datapath upcalls lost +3',
      'drop_action_of_pipeline +8',
      'datapath port lvaaa rx dropped +5, tx dropped +0',
    ]);
  });
});
