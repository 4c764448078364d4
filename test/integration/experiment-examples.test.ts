/**
 * The five reference labs' scenarios (issue 13): each example comes up, `labctl run` of its scenario holds every
 * expectation the lab file sets (exit 0), with what each scenario exists to show asserted on the JSON report, and
 * down leaves zero residue. The examples' READMEs show the same commands and a real result.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, daemonsUp, labctl, ROOT, residue } from '../helpers/labctl.js';

const up = await daemonsUp();

interface Flow {
  name: string;
  sent: number;
  lost: number;
  received: number;
  error: string | null;
  recovered_ms: (number | null)[];
  tcp: { outcome: string; connected: boolean } | null;
}
interface Report {
  ok: boolean;
  error: string | null;
  flows: Flow[];
  steps: { step: string; ok: boolean; detail: string }[];
}

const CASES: { lab: string; scenario: string; check: (r: Report) => void }[] = [
  {
    lab: 'ovn-vpc',
    scenario: 'flap',
    check: (r) => {
      const ping = r.flows.find((f) => f.name === 'ping')!;
      expect(ping.lost).toBeGreaterThanOrEqual(15);
      expect(r.flows.find((f) => f.name === 'sess')!.tcp?.outcome).toBe('survived');
    },
  },
  {
    lab: 'service-migration',
    scenario: 'migrate',
    check: (r) => {
      const ping = r.flows.find((f) => f.name === 'ping')!;
      expect(ping.received).toBeGreaterThan(25);
      expect(ping.lost).toBeLessThanOrEqual(2);
      // the session to the old instance cannot survive: the new one never saw it
      expect(r.flows.find((f) => f.name === 'sess')!.tcp?.outcome).not.toBe('survived');
    },
  },
  {
    lab: 'mtd',
    scenario: 'rotate',
    check: (r) => {
      const old = r.flows.find((f) => f.name === 'old-ping')!;
      const fresh = r.flows.find((f) => f.name === 'new-ping')!;
      // the old address answered before the rotation and never after it; the new one did after it
      expect(old.received).toBeGreaterThan(10);
      expect(old.recovered_ms[2]).toBeNull();
      expect(fresh.recovered_ms[2]).not.toBeNull();
      expect(fresh.lost).toBeGreaterThan(10);
    },
  },
  {
    lab: 'address-change',
    scenario: 'readdress',
    check: (r) => {
      expect(r.flows.find((f) => f.name === 'sess')!.tcp?.outcome).toMatch(/^(reset|stalled)$/);
    },
  },
  {
    lab: 'tcp-migration',
    scenario: 'move',
    check: (r) => {
      // new connections land on server1 before the move and on server2 after it
      expect(r.steps[0]!.detail).toContain('server1');
      expect(r.steps[3]!.detail).toContain('server2');
      expect(r.flows[0]!.tcp?.connected).toBe(true);
    },
  },
];

describe.runIf(up)("the reference labs' scenarios", () => {
  beforeAll(async () => {
    await buildOnce();
  });
  afterAll(async () => {
    for (const c of CASES) await labctl(['down', '--lab', c.lab]);
  });

  for (const c of CASES)
    it(`${c.lab}: labctl run ${c.scenario} holds its thresholds`, async () => {
      const file = join(ROOT, 'examples', c.lab, 'lab.yml');
      try {
        await labctl(['down', '--lab', c.lab]);
        const u = await labctl(['up', '-f', file]);
        expect(u.exitCode, u.stderr).toBe(0);
        const r = await labctl(['run', c.scenario, '-f', file, '--json'], { timeoutMs: 120_000 });
        const report = JSON.parse(r.stdout) as Report;
        expect(report.error, JSON.stringify(report.steps)).toBeNull();
        for (const f of report.flows) expect(f.error, f.name).toBeNull();
        c.check(report);
        expect(r.exitCode, r.stdout).toBe(0);
      } finally {
        const d = await labctl(['down', '--lab', c.lab]);
        expect(d.exitCode, d.stderr).toBe(0);
        expect(await residue(c.lab)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
      }
    }, 240_000);
});
