/**
 * Platforms other than this project's own machines, on simulated facts: a host whose Docker came from Docker's own
 * packages (docker-ce + containerd.io), and a host with the openvswitch kernel module (Ubuntu runners, most
 * developer machines). What host install, host start's datapath choice and the doctor's host checks decide there.
 */
import { describe, expect, it } from 'vitest';
import { CHECKS } from '../../checks/registry.js';
import type { DoctorContext } from '../../checks/runner.js';
import { runChecks } from '../../checks/runner.js';
import { DOCKER_PACKAGE, HOST_PACKAGES } from '../../src/host/constants.js';
import { installedVersionsFromDpkgQuery, planInstall } from '../../src/host/install.js';
import { datapathChoice, datapathFromEnv, planHostStart, type StartFacts } from '../../src/host/plan.js';
import { evaluateHost, type HostExpectations, type HostFacts } from '../../src/host/report.js';
import { healthyFacts, MODULE, NO_MODULE } from './host-fixtures.js';

const LOADABLE = { loaded: false, available: true, detail: 'openvswitch module available (not loaded)' };

/** `dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\t${Version}\n'` as an Ubuntu 24.04 runner answers it. */
const UBUNTU_DOCKER_CE = [
  'docker.io\tun \t',
  'docker-ce\tii \t5:28.0.4-1~ubuntu.24.04~noble',
  'moby-engine\tun \t',
  'docker-engine\tun \t',
  'containerd.io\tii \t1.7.27-1',
  ...HOST_PACKAGES.filter((p) => p !== DOCKER_PACKAGE).map((p) => `${p}\tii \t1.0`),
  '',
].join('\n');

function dockerFacts(dpkg: string, extra: { dockerd?: string; answers?: string } = {}) {
  const versions = installedVersionsFromDpkgQuery(dpkg);
  return {
    installed: new Set(versions.keys()),
    docker: {
      packages: Object.fromEntries(
        [...versions].filter(([p]) =>
          /^(docker\.io|docker-ce|moby-engine|docker-engine|containerd\.io)$/.test(p),
        ),
      ),
      ...extra,
    },
  };
}

describe('host install with a Docker from any package', () => {
  it('docker-ce + containerd.io listed by dpkg, daemon answering: nothing is installed for Docker', () => {
    const f = dockerFacts(UBUNTU_DOCKER_CE, { dockerd: '/usr/bin/dockerd', answers: '28.0.4' });
    expect(f.docker.packages).toEqual({
      'docker-ce': '5:28.0.4-1~ubuntu.24.04~noble',
      'containerd.io': '1.7.27-1',
    });
    const plan = planInstall(HOST_PACKAGES, f.installed, f.docker);
    expect(plan.missing).toEqual([]);
    expect(plan.docker).toMatchObject({ present: true, install: false });
    expect(plan.docker.detail).toContain('docker-ce 5:28.0.4');
    expect(plan.docker.detail).toContain('daemon answers: Docker 28.0.4');
  });

  it('docker-ce present but OVS/OVN missing: exactly those, never docker.io (it conflicts with containerd.io)', () => {
    const dpkg = UBUNTU_DOCKER_CE.replace('openvswitch-switch\tii ', 'openvswitch-switch\tun ').replace(
      'ovn-host\tii ',
      'ovn-host\trc ',
    );
    const f = dockerFacts(dpkg, { dockerd: '/usr/bin/dockerd' }); // daemon stopped: host start starts it
    const plan = planInstall(HOST_PACKAGES, f.installed, f.docker);
    expect(plan.missing).toEqual(['openvswitch-switch', 'ovn-host']);
    expect(plan.docker.install).toBe(false);
    expect(plan.docker.detail).toContain('daemon not answering');
  });

  it('a dockerd that answers from a package dpkg does not know (static binaries, snap) is accepted too', () => {
    const f = dockerFacts(UBUNTU_DOCKER_CE.replace(/^(docker-ce|containerd\.io)\tii /gm, '$1\tun '), {
      answers: '27.5.1',
    });
    expect(f.docker.packages).toEqual({});
    expect(planInstall(HOST_PACKAGES, f.installed, f.docker).missing).toEqual([]);
  });

  it('containerd.io without an engine: docker.io is not planned (it conflicts); the reason says so', () => {
    const f = dockerFacts(UBUNTU_DOCKER_CE.replace(/^docker-ce\tii /m, 'docker-ce\tun '));
    const plan = planInstall(HOST_PACKAGES, f.installed, f.docker);
    expect(plan.missing).toEqual([]);
    expect(plan.docker).toMatchObject({ present: false, install: false });
    expect(plan.docker.conflict).toMatch(/containerd\.io 1\.7\.27-1 .* without a Docker engine/);
  });

  it('no Docker at all: docker.io is installed; Debian with docker.io: nothing', () => {
    const none = dockerFacts(UBUNTU_DOCKER_CE.replace(/^(docker-ce|containerd\.io)\tii /gm, '$1\tun '));
    const plan = planInstall(HOST_PACKAGES, none.installed, none.docker);
    expect(plan.missing).toEqual(['docker.io']);
    expect(plan.docker).toMatchObject({ present: false, install: true });
    const debian = dockerFacts(
      HOST_PACKAGES.map((p) => `${p}\tii \t${p === 'docker.io' ? '20.10.24+dfsg1-1+deb12u1' : '1'}`).join(
        '\n',
      ),
      { answers: '20.10.24+dfsg1' },
    );
    expect(planInstall(HOST_PACKAGES, debian.installed, debian.docker)).toMatchObject({
      missing: [],
      docker: { present: true, install: false },
    });
  });
});

const startFacts = (kernel: StartFacts['kernel'], over: Partial<StartFacts> = {}): StartFacts => ({
  systemd: false,
  kernel,
  newSystemId: 'vm-0123abcd',
  ...over,
});
const down = { ok: false, detail: 'down' };
/** A host where nothing runs yet and no key was ever set (a fresh runner). */
const coldFacts = (): HostFacts =>
  healthyFacts({
    docker: down,
    ovsdb: down,
    vswitchd: down,
    nb: down,
    sb: { ...down, remote: 'unix:/var/run/ovn/ovnsb_db.sock' },
    northd: down,
    controller: down,
  });

describe('datapath auto with the kernel module', () => {
  it('a fresh host with the module loaded: system, said so; ovs-vswitchd through its systemd unit', () => {
    const { desired, steps, datapath } = planHostStart(
      evaluateHost({ ...coldFacts(), kernelModule: MODULE }),
      startFacts(MODULE, { systemd: true }),
    );
    expect(datapath).toEqual({ datapath: 'system', why: 'auto: openvswitch module loaded' });
    expect(desired['ovn-bridge-datapath-type']).toBe('system');
    expect(steps.find((s) => s.id === 'datapath')?.detail).toBe('system (auto: openvswitch module loaded)');
    expect(steps.find((s) => s.id === 'kernel-module')).toBeUndefined(); // already loaded
    expect(steps.find((s) => s.id === 'ovs-vswitchd')?.commands).toEqual([
      ['systemctl', 'start', 'ovs-vswitchd'],
    ]);
  });

  it('loadable but not loaded: system, with modprobe before ovs-vswitchd', () => {
    const { steps, datapath } = planHostStart(
      evaluateHost({ ...coldFacts(), kernelModule: LOADABLE }),
      startFacts(LOADABLE),
    );
    expect(datapath.datapath).toBe('system');
    const ids = steps.map((s) => s.id);
    expect(ids.indexOf('kernel-module')).toBeLessThan(ids.indexOf('ovs-vswitchd'));
    expect(steps.find((s) => s.id === 'kernel-module')?.commands).toEqual([['modprobe', 'openvswitch']]);
  });

  it('without the module: netdev, said so; a configured key is kept with the module; LABCTL_DATAPATH overrides auto', () => {
    expect(datapathChoice('auto', NO_MODULE, undefined, undefined)).toEqual({
      datapath: 'netdev',
      why: 'auto: no openvswitch kernel module',
    });
    expect(datapathChoice('auto', MODULE, 'netdev', 'netdev')).toEqual({
      datapath: 'netdev',
      why: 'auto: kept the configured ovn-bridge-datapath-type (openvswitch module loaded)',
    });
    expect(datapathChoice('netdev', MODULE, undefined, undefined, 'env')).toEqual({
      datapath: 'netdev',
      why: 'LABCTL_DATAPATH=netdev: openvswitch module loaded',
    });
    expect(datapathFromEnv({})).toBeUndefined();
    expect(datapathFromEnv({ LABCTL_DATAPATH: 'netdev' })).toBe('netdev');
    expect(() => datapathFromEnv({ LABCTL_DATAPATH: 'kernel' })).toThrow(/LABCTL_DATAPATH must be/);
    // a privileged container on a host with the module loaded: netdev as asked, no modprobe
    const { steps, datapath } = planHostStart(
      evaluateHost({ ...coldFacts(), kernelModule: MODULE }),
      startFacts(MODULE),
      { datapath: 'netdev' },
    );
    expect(datapath).toEqual({ datapath: 'netdev', why: '--datapath netdev: openvswitch module loaded' });
    expect(steps.find((s) => s.id === 'kernel-module')).toBeUndefined();
  });
});

/** The doctor's host checks on a report made from simulated facts. */
async function hostChecks(facts: HostFacts, expect_: HostExpectations = {}) {
  const report = evaluateHost(facts, expect_);
  const ctx = { plan: { nodes: [] }, facts: { hostReport: async () => report } } as unknown as DoctorContext;
  return (
    await runChecks(
      ctx,
      CHECKS.filter((c) => c.layer === 'host'),
    )
  ).results;
}

/** healthy facts on a kernel-datapath host: the key and br-int say system (br-int's '' is system too). */
const systemHost = (bridgeType: string) =>
  healthyFacts({
    kernelModule: MODULE,
    ovsdb: {
      ...healthyFacts().ovsdb,
      externalIds: { ...healthyFacts().ovsdb.externalIds, 'ovn-bridge-datapath-type': 'system' },
      bridges: [{ name: 'br-int', datapathType: bridgeType }],
    },
  });

describe("doctor's host checks with the kernel module", () => {
  it('system datapath with the module: every host check passes, br-int reported as system', async () => {
    for (const bridgeType of ['system', '']) {
      const rs = await hostChecks(systemHost(bridgeType), { datapath: 'auto' });
      expect(
        rs.filter((r) => r.status !== 'pass' && r.status !== 'skip'),
        bridgeType,
      ).toEqual([]);
      expect(rs.find((r) => r.id === 'host.datapath')?.evidence).toBe('datapath_type system');
      expect(
        rs.find((r) => r.id === 'host.chassis-keys' && r.subject === 'ovn-bridge-datapath-type')?.evidence,
      ).toBe('system');
    }
    // the module row itself is information: datapath system or netdev
    const report = evaluateHost(systemHost('system'));
    expect(report.ok).toBe(true);
    expect(report.datapath).toBe('system');
    expect(report.checks.find((c) => c.id === 'kernel.openvswitch')?.detail).toContain('system or netdev');
  });

  it('the same host without the module: datapath-unsupported, fixed by host start --datapath netdev', async () => {
    const facts = { ...systemHost('system'), kernelModule: NO_MODULE };
    const all = await hostChecks(facts);
    const rs = all.filter((r) => r.status === 'fail');
    // one root cause; br-int's unusable type is reported as following from it
    expect(rs.map((r) => `${r.id} ${r.cause}`)).toEqual(['host.chassis-keys datapath-unsupported']);
    expect(rs[0]!.fix).toBe('labctl host start --datapath netdev');
    const dp = all.find((r) => r.id === 'host.datapath');
    expect(dp?.status).not.toBe('pass');
    expect(dp?.followsFrom).toBe('host.chassis-keys ovn-bridge-datapath-type');
  });

  it('with the module, a lab asking for netdev on a system host names the switch', async () => {
    const rs = (await hostChecks(systemHost('system'), { datapath: 'netdev' })).filter(
      (r) => r.status === 'fail',
    );
    expect(rs.map((r) => `${r.subject} ${r.cause} ${r.fix}`)).toEqual([
      'ovn-bridge-datapath-type datapath-unsupported labctl host start --datapath netdev',
    ]);
  });
});
