/**
 * The doctor at scale (issue 11, defect 3): on a healthy flat lab of 50 nodes the full mesh (every ordered pair ×
 * ICMP, UDP, TCP) must pass — the doctor's own probe burst used to overrun the host and report thousands of
 * failures — and one real fault in that lab must still be found with its cause. The lab is brought up with the
 * built CLI and taken down in afterAll, whatever happened; the fault (tx checksum offload back on inside one node)
 * is always undone.
 *
 * The host's neighbour (ARP) table is one table for every network namespace (gc_thresh3, 1024 by default): a
 * 50-node mesh needs 2450 entries. When the table cannot hold them, the truthful report is exactly one root
 * cause, neigh-table-full, with the sysctl that fixes it (`labctl doctor --fix` applies it), and nothing else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../checks/types.js';
import { readNeighTable } from '../../src/drivers/datapath-drops.js';
import { NeighBudget } from '../../src/probe/pace.js';
import { buildOnce, containerPid, daemonsUp, labctl, sh } from '../helpers/labctl.js';

const N = 50;
const LAB = 'scale50';
const dir = mkdtempSync(join(tmpdir(), 'labctl-scale-'));
const FILE = join(dir, `${LAB}.yml`);
const pad = (i: number) => String(i).padStart(2, '0');
writeFileSync(
  FILE,
  [
    `name: ${LAB}`,
    'defaults:',
    '  image: labctl/node',
    'networks:',
    '  net: { subnet: 10.236.0.0/24 }',
    'nodes:',
    ...Array.from({ length: N }, (_, i) => `  n${pad(i + 1)}: { interfaces: [net] }`),
    '',
  ].join('\n'),
);

let ready = false;

beforeAll(async () => {
  await buildOnce();
  ready = await daemonsUp(); // under CI a missing daemon throws: never a silent skip
  if (!ready) return;
  await labctl(['down', '--lab', LAB]); // leftovers of an interrupted run
  const r = await labctl(['up', '-f', FILE], { timeoutMs: 300_000 });
  if (r.exitCode !== 0)
    throw new Error(`labctl up -f ${FILE} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
}, 360_000);

afterAll(async () => {
  await labctl(['down', '--lab', LAB], { timeoutMs: 300_000 });
  rmSync(dir, { recursive: true, force: true });
}, 360_000);

async function doctor(): Promise<{ results: CheckResult[]; ms: number }> {
  const t0 = performance.now();
  const r = await labctl(
    [
      'doctor',
      '-f',
      FILE,
      '--layer',
      'dataplane',
      '--check',
      'dataplane.icmp,dataplane.udp,dataplane.tcp',
      '--json',
    ],
    {
      timeoutMs: 200_000,
    },
  );
  const ms = performance.now() - t0;
  const report = JSON.parse(r.stdout) as { checks: CheckResult[] };
  return { results: report.checks, ms };
}

const show = (rs: CheckResult[]) =>
  rs
    .slice(0, 20)
    .map((r) => `${r.status} ${r.id} ${r.subject} ${r.cause ?? ''} ${r.evidence ?? ''}`)
    .join('\n');

const pairs = (N * (N - 1)) / 2;
const tableFits = () => NeighBudget.fits(readNeighTable(), pairs);

describe(`doctor on a healthy flat lab of ${N} nodes`, () => {
  it('the full mesh passes: ICMP, UDP and TCP for every ordered pair', async (t) => {
    if (!ready) return t.skip();
    const fits = tableFits();
    // `labctl host start` (which CI's setup runs) raises the table: under CI the mesh must fit
    if (process.env.CI) expect(fits, 'labctl host start should have raised the neighbour table').toBe(true);
    const { results, ms } = await doctor();
    const probes = results.filter((r) => r.subject !== 'host neighbour table');
    if (fits) {
      const bad = results.filter((r) => r.status !== 'pass');
      expect(bad, show(bad)).toEqual([]);
      for (const proto of ['icmp', 'udp', 'tcp'])
        expect(probes.filter((r) => r.id === `dataplane.${proto}`)).toHaveLength(N * (N - 1));
      // paced, yet fast: the old burst took 36–60 s here and failed; the bench has the precise timings
      expect(ms).toBeLessThan(60_000);
    } else {
      // the host cannot hold the mesh's neighbour entries (unless a run just before left them there): that, and
      // only that, is the finding
      const roots = results.filter((r) => r.status === 'fail' || r.status === 'error');
      if (!roots.length) return;
      expect(
        roots.map((r) => r.cause),
        show(roots),
      ).toEqual(['neigh-table-full']);
      expect(roots[0]!.fix).toMatch(
        /^sysctl -w net\.ipv4\.neigh\.default\.gc_thresh2=\d+ net\.ipv4\.neigh\.default\.gc_thresh3=\d+$/,
      );
    }
  }, 240_000);

  it('tx checksum offload back on in one node: found with its cause, every other pair still passes', async (t) => {
    if (!ready) return t.skip();
    if (!tableFits()) {
      // under CI `labctl host start` raised the table; elsewhere the table finding above is the report
      if (process.env.CI) throw new Error('the neighbour table cannot hold the mesh: run labctl host start');
      return t.skip();
    }
    const bad = 'n37';
    const pid = await containerPid(`labctl.${LAB}.${bad}`);
    await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'on']);
    try {
      const { results } = await doctor();
      const notPass = results.filter((r) => r.status !== 'pass');
      expect(notPass.length, show(notPass)).toBeGreaterThan(0);
      for (const r of notPass) {
        const d = r.data as { from: string; to: string; proto: string };
        // only TCP and UDP of pairs that involve the broken node
        expect([d.from, d.to], show([r])).toContain(bad);
        expect(['tcp', 'udp'], show([r])).toContain(d.proto);
        if (r.status === 'fail') {
          expect(r.cause, show([r])).toBe('checksum-offload');
          expect(r.fix).toBe(`nsenter -t ${pid} -n ethtool -K eth1 tx off`);
        } else expect(r.status, show([r])).toBe('skip'); // follows from the same root
      }
      expect(
        results.filter((r) => r.status === 'fail' && r.cause === 'checksum-offload').length,
      ).toBeGreaterThan(0);
      // ICMP is untouched by checksum offload: every ICMP result passes, the broken node's included
      expect(results.filter((r) => r.id === 'dataplane.icmp' && r.status !== 'pass')).toEqual([]);
    } finally {
      await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'off']);
    }
  }, 240_000);
});
