/**
 * planHostStart / planHostStop: which commands `labctl host start|stop` would run for a given probe report.
 * The central property: a healthy host gets no command at all (idempotency), and a chassis key is only ever
 * written when it is missing or an option asks for another value.
 */
import { describe, expect, it } from 'vitest';
import { OVN_CTL, OVS_CTL } from '../../src/host/constants.js';
import {
  chooseDatapath,
  desiredChassisKeys,
  keyDiff,
  planConfigSteps,
  planHostStart,
  planHostStop,
  type StartFacts,
} from '../../src/host/plan.js';
import { evaluateHost, type HostFacts } from '../../src/host/report.js';
import { healthyFacts, MODULE, NO_MODULE } from './host-fixtures.js';

const facts = (over: Partial<StartFacts> = {}): StartFacts => ({
  systemd: false,
  kernel: NO_MODULE,
  newSystemId: 'vm-0123abcd',
  ...over,
});
const report = (over: Partial<HostFacts> = {}) => evaluateHost(healthyFacts(over));
const step = (steps: { id: string }[], id: string) =>
  steps.find((s) => s.id === id) as ReturnType<typeof planHostStart>['steps'][number];
const allCommands = (steps: { commands: readonly (readonly string[])[]; spawn?: unknown }[]) =>
  steps.flatMap((s) => [...s.commands, ...(s.spawn ? [['<spawn>']] : [])]);

describe('planHostStart', () => {
  it('everything running with the right keys: every step "none", no command at all', () => {
    const { steps, desired } = planHostStart(report(), facts());
    expect(steps.map((s) => [s.id, s.action])).toEqual([
      ['dockerd', 'none'],
      ['ovsdb-server', 'none'],
      ['datapath', 'none'],
      ['ovs-vswitchd', 'none'],
      ['ovn-central', 'none'],
      ['chassis-keys', 'none'],
      ['br-int', 'none'],
      ['ovn-controller', 'none'],
      ['chassis', 'none'],
    ]);
    expect(allCommands(steps)).toEqual([]);
    expect(desired).toEqual({
      'system-id': 'chassis-a',
      'ovn-remote': 'unix:/var/run/ovn/ovnsb_db.sock',
      'ovn-encap-type': 'geneve',
      'ovn-encap-ip': '127.0.0.1',
      'ovn-bridge-datapath-type': 'netdev',
    });
  });

  it('the same on a systemd host: still nothing to do', () => {
    expect(allCommands(planHostStart(report(), facts({ systemd: true })).steps)).toEqual([]);
  });

  it('cold host without systemd: dockerd spawned, ovs-ctl for ovsdb-server only, ovs-vswitchd directly, ovn-ctl', () => {
    const down = { ok: false, detail: 'down' };
    const r = report({
      docker: down,
      ovsdb: down,
      vswitchd: down,
      nb: down,
      sb: { ...down, remote: 'unix:/var/run/ovn/ovnsb_db.sock' },
      northd: down,
      controller: down,
      connection: undefined,
    });
    const { steps } = planHostStart(r, facts({ storedKeys: { 'system-id': 'kept-id', hostname: 'vm' } }));
    expect(step(steps, 'dockerd').spawn?.argv).toEqual(['dockerd']);
    expect(step(steps, 'dockerd').spawn?.log).toBe('/var/log/labctl/dockerd.log');
    // the stored system-id survives the restart: ovs-ctl writes whatever --system-id says
    expect(step(steps, 'ovsdb-server').commands).toEqual([
      [OVS_CTL, '--no-ovs-vswitchd', '--system-id=kept-id', 'start'],
    ]);
    const vswitchd = step(steps, 'ovs-vswitchd').commands[0]!;
    expect(vswitchd.slice(0, 5)).toEqual([
      'ovs-vswitchd',
      '--pidfile',
      '--detach',
      '--monitor',
      '--log-file',
    ]);
    expect(allCommands(steps).some((c) => c[0] === OVS_CTL && !c.includes('--no-ovs-vswitchd'))).toBe(false);
    expect(step(steps, 'ovn-central').commands).toEqual([[OVN_CTL, 'start_northd']]);
    expect(step(steps, 'ovn-controller').commands).toEqual([[OVN_CTL, 'start_controller']]);
    expect(step(steps, 'chassis').action).toBe('wait');
    // keys are planned against the stored database (and re-decided against the live one once it runs)
    expect(step(steps, 'chassis-keys').action).toBe('set');
    expect(step(steps, 'chassis-keys').detail).not.toContain('system-id');
  });

  it('a brand-new host gets a generated system-id', () => {
    const r = report({ ovsdb: { ok: false, detail: 'down' } });
    const { steps, desired } = planHostStart(r, facts());
    expect(desired['system-id']).toBe('vm-0123abcd');
    expect(step(steps, 'ovsdb-server').commands[0]).toContain('--system-id=vm-0123abcd');
  });

  it('systemd host: units, except ovs-vswitchd without the kernel module (the unit would try to load it)', () => {
    const down = { ok: false, detail: 'down' };
    const r = report({
      docker: down,
      ovsdb: down,
      vswitchd: down,
      nb: down,
      northd: down,
      controller: down,
      connection: undefined,
    });
    const { steps } = planHostStart(r, facts({ systemd: true }));
    expect(step(steps, 'dockerd').commands).toEqual([['systemctl', 'start', 'docker']]);
    expect(step(steps, 'ovsdb-server').commands).toEqual([['systemctl', 'start', 'ovsdb-server']]);
    expect(step(steps, 'ovs-vswitchd').commands[0]![0]).toBe('ovs-vswitchd');
    expect(step(steps, 'ovn-central').commands).toEqual([['systemctl', 'start', 'ovn-central']]);
    expect(step(steps, 'ovn-controller').commands).toEqual([['systemctl', 'start', 'ovn-host']]);

    const withModule = planHostStart(
      evaluateHost({ ...healthyFacts({ vswitchd: down }), kernelModule: MODULE }),
      facts({ systemd: true, kernel: MODULE }),
    );
    expect(step(withModule.steps, 'ovs-vswitchd').commands).toEqual([['systemctl', 'start', 'ovs-vswitchd']]);
  });

  it('a hung dockerd (ping yes, /info no) is not started a second time', () => {
    const r = report({ docker: { ok: false, hung: true, detail: 'hung' } });
    expect(r.dockerHung).toBe(true);
    const { steps } = planHostStart(r, facts());
    expect(step(steps, 'dockerd')).toMatchObject({ action: 'skip', commands: [] });
    expect(step(steps, 'dockerd').spawn).toBeUndefined();
    expect(r.checks.find((c) => c.id === 'dockerd')?.fix).toMatch(/restart dockerd/);
  });

  it('only the broken component is started', () => {
    const { steps } = planHostStart(
      report({ controller: { ok: false, detail: 'down' }, connection: undefined }),
      facts(),
    );
    expect(allCommands(steps)).toEqual([[OVN_CTL, 'start_controller']]);
  });

  it('--encap-ip changes exactly that key; nothing is restarted', () => {
    const { steps } = planHostStart(report(), facts(), { encapIp: '10.0.0.5' });
    expect(allCommands(steps)).toEqual([
      [
        'ovs-vsctl',
        '--timeout=10',
        '--no-wait',
        'set',
        'Open_vSwitch',
        '.',
        'external_ids:ovn-encap-ip="10.0.0.5"',
      ],
    ]);
    expect(step(steps, 'chassis').action).toBe('wait');
  });

  it('--remote to another central: no local central is started, ovn-remote is set', () => {
    const r = report({ nb: { ok: false, detail: 'down' }, northd: { ok: false, detail: 'down' } });
    const { steps } = planHostStart(r, facts(), { remote: 'tcp:10.0.0.1:6642' });
    expect(step(steps, 'ovn-central').action).toBe('skip');
    expect(allCommands(steps)).toEqual([
      [
        'ovs-vsctl',
        '--timeout=10',
        '--no-wait',
        'set',
        'Open_vSwitch',
        '.',
        'external_ids:ovn-remote="tcp:10.0.0.1:6642"',
      ],
    ]);
  });

  it('--datapath system without the kernel module is refused before anything runs', () => {
    expect(() => planHostStart(report(), facts(), { datapath: 'system' })).toThrow(/kernel module/);
    expect(() => planHostStart(report(), facts(), { encapIp: 'not-an-ip' })).toThrow(/encap-ip/);
  });

  it('br-int with datapath_type system on a host without the module is switched to netdev', () => {
    const f = healthyFacts();
    f.ovsdb.bridges = [{ name: 'br-int', datapathType: 'system' }];
    const { steps } = planHostStart(evaluateHost(f), facts());
    expect(step(steps, 'br-int').commands).toEqual([
      ['ovs-vsctl', '--timeout=10', '--no-wait', 'set', 'Bridge', 'br-int', 'datapath_type=netdev'],
    ]);
  });

  it('a missing ovn-bridge-datapath-type is set to netdev without the module', () => {
    const f = healthyFacts();
    delete f.ovsdb.externalIds!['ovn-bridge-datapath-type'];
    const { steps } = planHostStart(evaluateHost(f), facts());
    expect(step(steps, 'chassis-keys').commands).toEqual([
      [
        'ovs-vsctl',
        '--timeout=10',
        '--no-wait',
        'set',
        'Open_vSwitch',
        '.',
        'external_ids:ovn-bridge-datapath-type="netdev"',
      ],
    ]);
  });

  it('system datapath with a loadable but unloaded module: modprobe first', () => {
    const avail = { loaded: false, available: true, detail: 'available' };
    const f = healthyFacts({ kernelModule: avail });
    f.ovsdb.externalIds!['ovn-bridge-datapath-type'] = 'system';
    f.ovsdb.bridges = [{ name: 'br-int', datapathType: 'system' }];
    const { steps } = planHostStart(evaluateHost(f), facts({ kernel: avail }));
    expect(step(steps, 'kernel-module').commands).toEqual([['modprobe', 'openvswitch']]);
  });
});

describe('chassis keys', () => {
  it('desiredChassisKeys keeps what is set and fills the defaults', () => {
    expect(
      desiredChassisKeys({ 'system-id': 'x', 'ovn-encap-ip': '10.1.1.1' }, {}, NO_MODULE, 'new'),
    ).toEqual({
      'system-id': 'x',
      'ovn-remote': 'unix:/var/run/ovn/ovnsb_db.sock',
      'ovn-encap-type': 'geneve',
      'ovn-encap-ip': '10.1.1.1',
      'ovn-bridge-datapath-type': 'netdev',
    });
    expect(desiredChassisKeys({}, {}, NO_MODULE, 'new')['system-id']).toBe('new');
  });

  it('chooseDatapath: netdev without the module; with it, the request, else the key, else the bridge, else system', () => {
    expect(chooseDatapath('system', NO_MODULE, undefined, undefined)).toBe('netdev');
    expect(chooseDatapath('auto', NO_MODULE, 'system', 'system')).toBe('netdev');
    expect(chooseDatapath('netdev', MODULE, 'system', undefined)).toBe('netdev');
    expect(chooseDatapath('auto', MODULE, 'netdev', undefined)).toBe('netdev');
    expect(chooseDatapath(undefined, MODULE, undefined, 'netdev')).toBe('netdev');
    expect(chooseDatapath('auto', MODULE, undefined, undefined)).toBe('system');
  });

  it('keyDiff treats unix:/run and unix:/var/run as the same remote', () => {
    const desired = desiredChassisKeys({}, {}, NO_MODULE, 'id');
    expect(keyDiff({ ...desired, 'ovn-remote': 'unix:/run/ovn/ovnsb_db.sock' }, desired)).toEqual({});
  });

  it('planConfigSteps: a bridge still missing is waited for, not created', () => {
    const desired = desiredChassisKeys({}, {}, NO_MODULE, 'id');
    const [, bridge] = planConfigSteps(desired, { name: 'br-int', exists: false }, desired);
    expect(bridge).toMatchObject({ action: 'wait', commands: [] });
  });
});

describe('planHostStop', () => {
  it('stops OVN, then OVS, and leaves dockerd alone without --docker', () => {
    const steps = planHostStop(report(), { systemd: false });
    expect(steps.map((s) => [s.id, s.action])).toEqual([
      ['ovn-controller', 'stop'],
      ['ovn-central', 'stop'],
      ['ovs-vswitchd', 'stop'],
      ['dockerd', 'skip'],
    ]);
    expect(allCommands(steps)).toEqual([
      [OVN_CTL, 'stop_controller'],
      [OVN_CTL, 'stop_northd'],
      [OVS_CTL, 'stop'],
    ]);
  });

  it('--docker stops dockerd too; components already down are left alone', () => {
    const down = { ok: false, detail: 'down' };
    const steps = planHostStop(
      report({
        controller: down,
        connection: undefined,
        nb: down,
        northd: down,
        sb: { ...down, remote: 'unix:/var/run/ovn/ovnsb_db.sock' },
      }),
      { systemd: true },
      { docker: true },
    );
    expect(steps.map((s) => [s.id, s.action])).toEqual([
      ['ovn-controller', 'none'],
      ['ovn-central', 'none'],
      ['ovs-vswitchd', 'stop'],
      ['dockerd', 'stop'],
    ]);
    expect(step(steps, 'dockerd').commands).toEqual([['systemctl', 'stop', 'docker.socket', 'docker']]);
  });

  it('a remote central is never stopped from here', () => {
    const f = healthyFacts({ nb: undefined, northd: undefined });
    f.ovsdb.externalIds!['ovn-remote'] = 'tcp:10.0.0.1:6642';
    f.sb = { ...f.sb, remote: 'tcp:10.0.0.1:6642' };
    expect(step(planHostStop(evaluateHost(f), { systemd: false }), 'ovn-central').action).toBe('skip');
  });
});
