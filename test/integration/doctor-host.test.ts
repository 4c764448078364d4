/**
 * labctl doctor, host layer, on the real daemons. These faults touch the machine's shared control plane, which
 * other labs use too: each is kept as short as the assertion needs, and undone in finally whatever happens
 * (ovn-controller started again, br-int and the chassis key back to netdev).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, daemonsUp, labctl, sh, shMaybe } from '../helpers/labctl.js';

const LAB = 'dr-host';
const OVN_CTL = '/usr/share/ovn/scripts/ovn-ctl';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-doctor-host-'));
const LAB_FILE = join(tmp, 'lab.yml');
writeFileSync(
  LAB_FILE,
  `name: ${LAB}
defaults: { image: labctl/node }
networks:
  net: { subnet: 10.62.1.0/24 }
nodes:
  a: { interfaces: [net] }
  b: { interfaces: [net] }
`,
);

interface Result {
  id: string;
  layer: string;
  subject: string;
  status: string;
  cause?: string;
  evidence?: string;
  fix?: string;
  followsFrom?: string;
}
interface Report {
  lab: string;
  ok: boolean;
  checks: Result[];
  summary: { total: number; failed: number; following: number };
  fixes?: { id: string; changed?: string; error?: string }[];
}

/** doctor --json on the lab; the host and wiring layers unless extra names --layer itself */
async function doctor(extra: string[] = []): Promise<{ exitCode: number; report: Report }> {
  const layers = extra.includes('--layer') ? [] : ['--layer', 'host,wiring'];
  const r = await labctl(['doctor', '-f', LAB_FILE, ...layers, '--json', ...extra]);
  try {
    return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as Report };
  } catch {
    throw new Error(`doctor did not print JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
}
const roots = (rep: Report) => rep.checks.filter((c) => c.status === 'fail' || c.status === 'error');
const show = (rep: Report) => JSON.stringify(roots(rep), null, 1);

async function controllerAnswers(): Promise<boolean> {
  return (await shMaybe('ovn-appctl', ['-T', '3', '-t', 'ovn-controller', 'version'])).ok;
}
async function ensureController(): Promise<void> {
  if (!(await controllerAnswers())) await shMaybe(OVN_CTL, ['start_controller'], 30_000);
}
async function restoreNetdev(): Promise<void> {
  await shMaybe('ovs-vsctl', [
    '--timeout=10',
    'set',
    'Open_vSwitch',
    '.',
    'external_ids:ovn-bridge-datapath-type=netdev',
    '--',
    'set',
    'Bridge',
    'br-int',
    'datapath_type=netdev',
  ]);
}

describe.runIf(up)('labctl doctor: host layer on the real daemons', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await ensureController();
    await restoreNetdev();
    await labctl(['down', '--lab', LAB]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('healthy host: every host check passes, with the daemons, keys, connection, chassis and datapath', async () => {
    const { exitCode, report } = await doctor(['--layer', 'host']);
    expect(exitCode, show(report)).toBe(0);
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    for (const id of [
      'host.dockerd',
      'host.ovsdb',
      'host.ovs-vswitchd',
      'host.ovn-nb',
      'host.ovn-sb',
      'host.ovn-northd',
      'host.ovn-controller',
      'host.chassis-keys',
      'host.sb-connection',
      'host.chassis',
      'host.datapath',
    ])
      expect(byId.get(id)?.status, id).toBe('pass');
    expect(byId.get('host.sb-connection')?.evidence).toBe('connected');
    expect(byId.get('host.datapath')?.evidence).toContain('netdev');
    expect(report.checks.every((c) => c.layer === 'host')).toBe(true);
  });

  it('ovn-controller stopped → ovn-controller-down is the one root cause; the wiring follows from it; --fix starts it', async () => {
    try {
      await sh(OVN_CTL, ['stop_controller'], 30_000);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const rs = roots(report);
      expect(
        rs.map((r) => `${r.id} ${r.cause}`),
        show(report),
      ).toEqual(['host.ovn-controller ovn-controller-down']);
      expect(report.summary.failed).toBe(1);
      const key = 'host.ovn-controller ovn-controller';
      const following = report.checks.filter((c) => c.followsFrom);
      expect(following.length).toBeGreaterThan(0);
      for (const c of following) {
        expect(c.followsFrom).toBe(key);
        expect(c.status).toBe('skip');
        expect(c.cause).toBeUndefined();
      }
      // the ports' bindings are among the symptoms, not extra failures
      expect(
        following
          .filter((c) => c.id === 'wiring.binding')
          .map((c) => c.subject)
          .sort(),
      ).toEqual(['a.eth1', 'b.eth1']);
      // the human report counts one failure and groups the rest under it
      const human = await labctl(['doctor', '-f', LAB_FILE, '--layer', 'host,wiring']);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toMatch(
        new RegExp(
          `^1/${report.summary.total} checks failed \\(${report.summary.following} more follow from it`,
          'm',
        ),
      );
      expect(human.stdout).toContain('1. ovn-controller-down: host.ovn-controller ovn-controller');

      const fixed = await doctor(['--fix']);
      expect(fixed.exitCode, show(fixed.report)).toBe(0);
      expect(fixed.report.fixes?.find((f) => f.id === 'host.ovn-controller')?.changed).toContain(
        'ovn-controller',
      );
      expect(await controllerAnswers()).toBe(true);
    } finally {
      await ensureController();
    }
  });

  it('br-int switched to datapath_type=system (no kernel module here) → datapath-unsupported; --fix restores netdev', async () => {
    // ovn-controller puts br-int back to its ovn-bridge-datapath-type at once, so the key is switched with it.
    try {
      await sh('ovs-vsctl', [
        '--timeout=10',
        'set',
        'Open_vSwitch',
        '.',
        'external_ids:ovn-bridge-datapath-type=system',
        '--',
        'set',
        'Bridge',
        'br-int',
        'datapath_type=system',
      ]);
      const { exitCode, report } = await doctor(['--layer', 'host']);
      await restoreNetdev().catch(() => undefined); // the window for every other lab ends here
      expect(exitCode).toBe(1);
      const rs = roots(report);
      expect(
        rs.map((r) => r.cause),
        show(report),
      ).toEqual(['datapath-unsupported']);
      expect(rs[0]!.evidence).toMatch(/system.*kernel module/);
      const dp = report.checks.find((c) => c.id === 'host.datapath');
      expect(dp?.followsFrom ?? dp?.cause).toBeTruthy();
    } finally {
      await restoreNetdev();
    }
  });

  it('--fix repairs datapath-unsupported through the host start logic', async () => {
    try {
      await sh('ovs-vsctl', [
        '--timeout=10',
        'set',
        'Open_vSwitch',
        '.',
        'external_ids:ovn-bridge-datapath-type=system',
        '--',
        'set',
        'Bridge',
        'br-int',
        'datapath_type=system',
      ]);
      const fixed = await doctor(['--layer', 'host', '--fix']);
      expect(fixed.exitCode, show(fixed.report)).toBe(0);
      expect(fixed.report.fixes?.some((f) => f.changed)).toBe(true);
      expect(await sh('ovs-vsctl', ['get', 'Bridge', 'br-int', 'datapath_type'])).toBe('netdev');
    } finally {
      await restoreNetdev();
    }
  });

  it('exit 2 when doctor cannot run: no lab file and no saved state', async () => {
    const r = await labctl(['doctor', '-f', join(tmp, 'missing.yml'), '--json']);
    expect(r.exitCode).toBe(2);
    expect(JSON.parse(r.stdout).ok).toBe(false);
    const s = await labctl(['doctor', '--lab', 'dr-no-such-lab']);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toContain('no saved state');
  });

  it('--lab uses the saved plan, without the lab file', async () => {
    const r = await labctl(['doctor', '--lab', LAB, '--layer', 'wiring', '--json']);
    expect(r.exitCode, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).lab).toBe(LAB);
  });
});
