/**
 * labctl doctor, host layer, on the real daemons. These faults touch the machine's shared control plane, which
 * other labs use too: each is kept as short as the assertion needs, and undone in finally whatever happens. What
 * the tests touch (br-int's datapath_type, the chassis key ovn-bridge-datapath-type, whether ovn-controller runs) is
 * recorded before the first test and put back exactly as found, not to an assumed value: on a host with the
 * openvswitch kernel module the datapath may well be system.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelModuleState } from '../../src/host/system.js';
import { buildOnce, daemonsUp, labctl, sh, shMaybe } from '../helpers/labctl.js';

const LAB = 'dr-host';
const OVN_CTL = '/usr/share/ovn/scripts/ovn-ctl';
const up = await daemonsUp();
/** The datapath type that needs the openvswitch kernel module: unusable here only when the module is absent. */
const kernel = await kernelModuleState();
const UNUSABLE_DATAPATH = kernel.available ? undefined : 'system';
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
/** What the tests change on the shared control plane, as it was before the first one. */
interface Found {
  /** br-int's datapath_type ('' = system) */
  bridgeDatapath: string;
  /** the Open_vSwitch row's external_ids:ovn-bridge-datapath-type; undefined = not set */
  keyDatapath: string | undefined;
  controllerRan: boolean;
}
let found: Found | undefined;

async function readFound(): Promise<Found> {
  const [bridge, key, controllerRan] = await Promise.all([
    sh('ovs-vsctl', ['--timeout=10', 'get', 'Bridge', 'br-int', 'datapath_type']),
    sh('ovs-vsctl', [
      '--timeout=10',
      '--if-exists',
      'get',
      'Open_vSwitch',
      '.',
      'external_ids:ovn-bridge-datapath-type',
    ]),
    controllerAnswers(),
  ]);
  const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, '$1');
  return {
    bridgeDatapath: unquote(bridge),
    keyDatapath: key.trim() ? unquote(key) : undefined,
    controllerRan,
  };
}

async function ensureController(): Promise<void> {
  if (found?.controllerRan !== false && !(await controllerAnswers()))
    await shMaybe(OVN_CTL, ['start_controller'], 30_000);
}

/**
 * Put the chassis key and br-int's datapath_type back as found, in one transaction, so ovn-controller (which
 * re-applies the key to br-int) never sees the two disagree. Throws when it cannot: a host left changed must show.
 */
async function restoreDatapath(): Promise<void> {
  if (!found) return;
  await sh('ovs-vsctl', [
    '--timeout=10',
    ...(found.keyDatapath === undefined
      ? ['remove', 'Open_vSwitch', '.', 'external_ids', 'ovn-bridge-datapath-type']
      : [
          'set',
          'Open_vSwitch',
          '.',
          `external_ids:ovn-bridge-datapath-type=${JSON.stringify(found.keyDatapath)}`,
        ]),
    '--',
    'set',
    'Bridge',
    'br-int',
    `datapath_type=${JSON.stringify(found.bridgeDatapath)}`,
  ]);
}

/** Switch the key and br-int to a datapath type this host cannot run (only called where one exists). */
async function breakDatapath(type: string): Promise<void> {
  await sh('ovs-vsctl', [
    '--timeout=10',
    'set',
    'Open_vSwitch',
    '.',
    `external_ids:ovn-bridge-datapath-type=${type}`,
    '--',
    'set',
    'Bridge',
    'br-int',
    `datapath_type=${type}`,
  ]);
}

describe.runIf(up)('labctl doctor: host layer on the real daemons', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    found = await readFound();
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    try {
      await ensureController();
      await restoreDatapath();
      await labctl(['down', '--lab', LAB]);
      if (found) expect(await readFound()).toEqual(found);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
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
    expect(byId.get('host.datapath')?.evidence).toContain(
      `datapath_type ${found?.bridgeDatapath || 'system'}`,
    );
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

  // With the openvswitch kernel module every datapath_type runs, so the fault cannot be made on such a host.
  it.runIf(UNUSABLE_DATAPATH)(
    'br-int switched to a datapath_type this host cannot run (system without the kernel module) → datapath-unsupported',
    async () => {
      // ovn-controller puts br-int back to its ovn-bridge-datapath-type at once, so the key is switched with it.
      try {
        await breakDatapath(UNUSABLE_DATAPATH!);
        const { exitCode, report } = await doctor(['--layer', 'host']);
        await restoreDatapath().catch(() => undefined); // the window for every other lab ends here
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
        await restoreDatapath();
      }
    },
  );

  it.runIf(UNUSABLE_DATAPATH)('--fix repairs datapath-unsupported through the host start logic', async () => {
    try {
      await breakDatapath(UNUSABLE_DATAPATH!);
      const fixed = await doctor(['--layer', 'host', '--fix']);
      expect(fixed.exitCode, show(fixed.report)).toBe(0);
      expect(fixed.report.fixes?.some((f) => f.changed)).toBe(true);
      // without the kernel module, host start's choice is the userspace datapath, for the key and the bridge
      expect(await sh('ovs-vsctl', ['get', 'Bridge', 'br-int', 'datapath_type'])).toBe('netdev');
      expect(
        await sh('ovs-vsctl', ['get', 'Open_vSwitch', '.', 'external_ids:ovn-bridge-datapath-type']),
      ).toBe('netdev');
    } finally {
      await restoreDatapath();
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
