/**
 * labctl host check / start / stop on real daemons.
 *
 * On this machine's shared control plane (other people use it concurrently) the test only reads, and checks that
 * `host start` is a true no-op: exit 0, every component "already", no chassis key written, no daemon restarted.
 * Cold start, restart of a single daemon and stop are exercised for real inside a private mount + network + pid
 * namespace (tmpfs over OVS/OVN's run, db and log directories, tini as init), so the shared daemons never notice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { LabctlError } from '../../src/errors.js';
import { assertHostReady, getChassisName, probeHost } from '../../src/host/probe.js';
import type { HostReport } from '../../src/host/report.js';
import type { PlanOvn } from '../../src/plan/types.js';
import { buildOnce, CLI, daemonsUp, labctl, ROOT, sh } from '../helpers/labctl.js';

const up = await daemonsUp();

const DEFAULT_OVN: PlanOvn = {
  encap: { type: 'geneve', ip: '127.0.0.1' },
  datapath: 'auto',
  bridge: 'br-int',
};

const PIDFILES = [
  '/var/run/openvswitch/ovsdb-server.pid',
  '/var/run/openvswitch/ovs-vswitchd.pid',
  '/var/run/ovn/ovnnb_db.pid',
  '/var/run/ovn/ovnsb_db.pid',
  '/var/run/ovn/ovn-northd.pid',
  '/var/run/ovn/ovn-controller.pid',
];
const pids = () => PIDFILES.map((f) => (existsSync(f) ? readFileSync(f, 'utf8').trim() : '-'));
const chassisKeys = () => sh('ovs-vsctl', ['--timeout=5', 'get', 'Open_vSwitch', '.', 'external_ids']);

beforeAll(async () => {
  if (up) await buildOnce();
});

describe.runIf(up)('labctl host on the running control plane (read-only)', () => {
  it('host check --json: every required component ok, the right chassis, registered in SB', async () => {
    const r = await labctl(['host', 'check', '--json'], { timeoutMs: 30_000 });
    expect(r.exitCode, r.stderr || r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as HostReport;
    expect(report.ok).toBe(true);
    const bad = report.checks.filter((c) => c.required && !c.ok);
    expect(bad, JSON.stringify(bad)).toEqual([]);
    for (const id of [
      'dockerd',
      'ovsdb-server',
      'ovs-vswitchd',
      'ovn-nb',
      'ovn-sb',
      'ovn-northd',
      'ovn-controller',
      'br-int',
      'sb-connection',
      'chassis.registered',
    ]) {
      expect(report.checks.find((c) => c.id === id)?.ok, id).toBe(true);
    }
    const systemId = (
      await sh('ovs-vsctl', ['--timeout=5', 'get', 'Open_vSwitch', '.', 'external_ids:system-id'])
    ).replace(/"/g, '');
    expect(report.chassis).toBe(systemId);
    const sbNames = await sh('ovn-sbctl', [
      '--timeout=5',
      '--bare',
      '--columns=name',
      'find',
      'Chassis',
      `name=${systemId}`,
    ]);
    expect(sbNames).toBe(systemId);
    // no kernel module here: the report says so and picks the userspace datapath
    if (!existsSync('/sys/module/openvswitch')) expect(report.datapath).toBe('netdev');
  });

  it('host check prints a table and exits 0', async () => {
    const r = await labctl(['host', 'check'], { timeoutMs: 30_000 });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok\s+ovs-vswitchd/m);
    expect(r.stdout).toMatch(/host ready: chassis /);
  });

  it('host start is idempotent: exit 0, everything already running, no key written, no daemon restarted', async () => {
    const [keysBefore, pidsBefore] = [await chassisKeys(), pids()];
    const r = await labctl(['host', 'start', '--json'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      changed: boolean;
      steps: { id: string; status: string }[];
    };
    expect(out.ok).toBe(true);
    expect(out.changed).toBe(false);
    expect(out.steps.map((s) => s.id)).toEqual([
      'dockerd',
      'ovsdb-server',
      'datapath',
      'ovs-vswitchd',
      'ovn-central',
      'chassis-keys',
      'br-int',
      'ovn-controller',
      'chassis',
      'neigh-table',
    ]);
    expect(out.steps.filter((s) => s.status !== 'already')).toEqual([]);
    expect(await chassisKeys()).toBe(keysBefore);
    expect(pids()).toEqual(pidsBefore);

    const text = await labctl(['host', 'start'], { timeoutMs: 60_000 });
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^ovs-vswitchd\s+already running$/m);
    expect(text.stdout).toMatch(/nothing to do/);
    // the datapath choice is said, with its reason, and it is the one br-int uses
    const bridgeType = (
      await sh('ovs-vsctl', ['--timeout=5', 'get', 'Bridge', 'br-int', 'datapath_type'])
    ).replace(/"/g, '');
    const picked = /^datapath\s+(system|netdev) \((auto|--datapath \w+|LABCTL_DATAPATH)[^)]*\)/m.exec(
      text.stdout,
    );
    expect(picked, text.stdout).not.toBeNull();
    expect(picked![1]).toBe(bridgeType || 'system');
    expect(text.stdout).toMatch(
      new RegExp(`host ready: chassis \\S+, datapath ${picked![1]} \\(nothing to do\\)`),
    );
  });

  it('assertHostReady: resolves fast on a ready host; a mismatching lab gets one line and the fix, nothing touched', async () => {
    const keysBefore = await chassisKeys();
    const t = Date.now();
    await assertHostReady(DEFAULT_OVN);
    expect(Date.now() - t).toBeLessThan(5000);

    const err = await assertHostReady({ ...DEFAULT_OVN, encap: { type: 'geneve', ip: '192.0.2.77' } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LabctlError);
    const e = err as LabctlError;
    expect(e.exitCode).toBe(2);
    expect(e.message).not.toContain('\n');
    expect(e.message).toMatch(/encap/);
    expect(e.hint).toBe('labctl host start --encap-type geneve --encap-ip 192.0.2.77');
    expect(await chassisKeys()).toBe(keysBefore);
  });

  it('probeHost and getChassisName agree with OVS', async () => {
    const [report, name] = await Promise.all([probeHost(), getChassisName()]);
    expect(name).toBe(report.chassis);
    expect(report.keys['system-id']).toBe(name);
  });
});

/**
 * A script for `unshare --mount --net --pid --fork --mount-proc docker-init --`: tmpfs over `dirs` (the places the
 * daemons keep state), then `body` (labctl host start/check/stop for real), which fills `out`. When it exits, the
 * pid namespace ends and takes every daemon it started with it; the mounts were private to it.
 */
function isolatedScript(dirs: string[], body: string): string {
  return `
import { execa } from ${JSON.stringify(join(ROOT, 'node_modules', 'execa', 'index.js'))};
for (const d of ${JSON.stringify(dirs)}) {
  await execa('mkdir', ['-p', d]);
  await execa('mount', ['-t', 'tmpfs', 'labctl-test', d]);
}
await execa('ip', ['link', 'set', 'lo', 'up']);
const cli = async (args) => {
  const r = await execa(process.execPath, [${JSON.stringify(CLI)}, ...args], { reject: false, timeout: 120000 });
  return { args, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
};
const get = async (args) => (await execa('ovs-vsctl', ['--timeout=5', ...args], { reject: false })).stdout.replace(/"/g, '');
const out = {};
${body}
console.log('@@' + JSON.stringify(out));
`;
}

const OVS_OVN_DIRS = [
  '/run/openvswitch',
  '/run/ovn',
  '/etc/openvswitch',
  '/var/lib/openvswitch',
  '/var/lib/ovn',
  '/var/log/openvswitch',
  '/var/log/ovn',
  '/etc/ovn',
];

interface Cli {
  exitCode: number;
  stdout: string;
  stderr: string;
}
/** What the isolated scripts record: CLI results and plain strings, by the names the scripts use. */
type CliKey =
  | 'coldCheck'
  | 'coldStart'
  | 'again'
  | 'vswitchdOnly'
  | 'encap'
  | 'stop'
  | 'stoppedCheck'
  | 'restart'
  | 'finalStop'
  | 'start'
  | 'check';
type StrKey = 'systemId' | 'sbEncap' | 'systemIdAfter' | 'encapAfter' | 'log';
type Out = Record<CliKey, Cli> & Record<StrKey, string>;

async function runIsolated(script: string): Promise<Out> {
  const init = ['/usr/bin/docker-init', '/usr/bin/tini', '/usr/sbin/tini'].find((p) => existsSync(p));
  expect(
    init,
    'tini (docker-init from docker.io) reaps the daemons inside the test pid namespace',
  ).toBeDefined();
  const r = await execa(
    'unshare',
    [
      '--mount',
      '--net',
      '--pid',
      '--fork',
      '--mount-proc',
      init!,
      '--',
      process.execPath,
      '--input-type=module',
      '-e',
      script,
    ],
    { reject: false, timeout: 240_000, stdin: 'ignore' },
  );
  const line = String(r.stdout)
    .split('\n')
    .find((l) => l.startsWith('@@'));
  expect(line, `${r.stdout}\n${r.stderr}`).toBeDefined();
  return JSON.parse(line!.slice(2)) as Out;
}

const json = (r: Cli) =>
  JSON.parse(r.stdout) as { ok: boolean; changed: boolean; steps: { id: string; status: string }[] };
const statuses = (r: Cli) => Object.fromEntries(json(r).steps.map((s) => [s.id, s.status]));

describe.runIf(up)('labctl host start/stop from cold, in a private namespace', () => {
  it('starts everything, is idempotent, restarts only what died, keeps the system-id, and stops', async () => {
    const out = await runIsolated(
      isolatedScript(
        OVS_OVN_DIRS,
        `
out.coldCheck = await cli(['host', 'check', '--json']);
out.coldStart = await cli(['host', 'start', '--json']);
out.systemId = await get(['get', 'Open_vSwitch', '.', 'external_ids:system-id']);
out.again = await cli(['host', 'start', '--json']);
await execa('ovs-appctl', ['-t', 'ovs-vswitchd', 'exit'], { reject: false });
out.vswitchdOnly = await cli(['host', 'start', '--json']);
out.encap = await cli(['host', 'start', '--json', '--encap-ip', '127.0.0.2']);
out.sbEncap = (await execa('ovn-sbctl', ['--timeout=5', '--bare', '--columns=ip', 'list', 'Encap'], { reject: false })).stdout;
out.stop = await cli(['host', 'stop', '--json']);
out.stoppedCheck = await cli(['host', 'check', '--json']);
out.restart = await cli(['host', 'start', '--json']);
out.systemIdAfter = await get(['get', 'Open_vSwitch', '.', 'external_ids:system-id']);
out.encapAfter = await get(['get', 'Open_vSwitch', '.', 'external_ids:ovn-encap-ip']);
out.finalStop = await cli(['host', 'stop', '--json']);
`,
      ),
    );

    // cold: check says what is down, with causes, and exits 2
    const cold = out.coldCheck;
    expect(cold.exitCode).toBe(2);
    const coldReport = JSON.parse(cold.stdout) as HostReport;
    expect(coldReport.checks.find((c) => c.id === 'ovsdb-server')).toMatchObject({
      ok: false,
      cause: 'ovsdb-down',
    });
    expect(coldReport.checks.find((c) => c.id === 'ovn-controller')).toMatchObject({
      ok: false,
      cause: 'ovn-controller-down',
    });

    // cold start: every daemon started, keys set, chassis registered with a netdev br-int
    const start = out.coldStart;
    expect(start.exitCode, start.stderr).toBe(0);
    expect(statuses(start)).toMatchObject({
      dockerd: 'already',
      'ovsdb-server': 'started',
      'ovs-vswitchd': 'started',
      'ovn-central': 'started',
      'chassis-keys': 'set',
      'ovn-controller': 'started',
      chassis: 'waited',
    });
    expect(out.systemId).toMatch(/\S/);

    // idempotent
    const again = out.again;
    expect(again.exitCode).toBe(0);
    expect(json(again).changed).toBe(false);

    // only ovs-vswitchd was down: only it is started
    const only = out.vswitchdOnly;
    expect(only.exitCode, only.stderr).toBe(0);
    const s = statuses(only);
    expect(s['ovs-vswitchd']).toBe('started');
    expect(
      Object.entries(s).filter(([id, st]) => id !== 'ovs-vswitchd' && id !== 'chassis' && st !== 'already'),
    ).toEqual([]);

    // --encap-ip changes that key only, and the chassis re-registers with it
    const encap = out.encap;
    expect(encap.exitCode, encap.stderr).toBe(0);
    expect(statuses(encap)['chassis-keys']).toBe('set');
    expect(out.sbEncap).toBe('127.0.0.2');

    // stop, then start again: the stored system-id and encap survive
    const stop = out.stop;
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(statuses(stop)).toMatchObject({
      'ovn-controller': 'stopped',
      'ovn-central': 'stopped',
      'ovs-vswitchd': 'stopped',
      dockerd: 'skipped',
    });
    expect(out.stoppedCheck.exitCode).toBe(2);
    const restart = out.restart;
    expect(restart.exitCode, restart.stderr).toBe(0);
    expect(out.systemIdAfter).toBe(out.systemId);
    expect(out.encapAfter).toBe('127.0.0.2');
    expect(out.finalStop.exitCode).toBe(0);
  }, 300_000);

  it('dockerd too: spawned detached with its log in /var/log/labctl, stopped by host stop --docker', async () => {
    const out = await runIsolated(
      isolatedScript(
        [
          '/run',
          '/var/lib/docker',
          '/var/lib/containerd',
          '/var/log/labctl',
          ...OVS_OVN_DIRS.filter((d) => !d.startsWith('/run/')),
        ],
        `
out.start = await cli(['host', 'start', '--json']);
out.stop = await cli(['host', 'stop', '--docker', '--json']);
out.check = await cli(['host', 'check', '--json']);
out.log = (await execa('head', ['-c', '2000', '/var/log/labctl/dockerd.log'], { reject: false })).stdout;
`,
      ),
    );
    expect(out.start.exitCode, out.start.stderr).toBe(0);
    expect(statuses(out.start)).toMatchObject({
      dockerd: 'started',
      'ovsdb-server': 'started',
      'ovn-controller': 'started',
    });
    expect(out.log).toMatch(/level=/);
    expect(out.stop.exitCode, out.stop.stderr).toBe(0);
    expect(statuses(out.stop).dockerd).toBe('stopped');
    const after = JSON.parse(out.check.stdout) as HostReport;
    expect(after.checks.find((c) => c.id === 'dockerd')).toMatchObject({
      ok: false,
      cause: 'docker-unreachable',
    });
  }, 300_000);
});
