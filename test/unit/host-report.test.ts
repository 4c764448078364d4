/**
 * evaluateHost: the rows, their order (lowest layer first), cause codes and fixes, from raw facts — no daemons.
 */
import { describe, expect, it } from 'vitest';
import { parseMonitorTitle } from '../../src/drivers/daemon-probes.js';
import { describeFailure, expectationsFor } from '../../src/host/probe.js';
import { evaluateHost, firstFailure, type HostFacts, type HostReport } from '../../src/host/report.js';
import { healthyFacts, MODULE } from './host-fixtures.js';

const row = (r: HostReport, id: string) => {
  const c = r.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no row ${id}`);
  return c;
};
const failing = (r: HostReport) => r.checks.filter((c) => c.required && !c.ok).map((c) => c.id);

describe('evaluateHost', () => {
  it('a healthy host: every required row ok, the chassis named, netdev without the module', () => {
    const r = evaluateHost(healthyFacts());
    expect(r.ok).toBe(true);
    expect(failing(r)).toEqual([]);
    expect(r.chassis).toBe('chassis-a');
    expect(r.datapath).toBe('netdev');
    expect(r.embedded).toBe(true);
    expect(r.checks.map((c) => c.id)).toEqual([
      'root',
      'tools',
      'tools.optional',
      'kernel.openvswitch',
      'dockerd',
      'ovsdb-server',
      'ovs-vswitchd',
      'ovn-nb',
      'ovn-sb',
      'ovn-northd',
      'ovn-controller',
      'chassis.system-id',
      'chassis.ovn-remote',
      'chassis.encap',
      'chassis.datapath-type',
      'br-int',
      'sb-connection',
      'chassis.registered',
    ]);
    // the absent kernel module is information, not a failure
    expect(row(r, 'kernel.openvswitch')).toMatchObject({ ok: false, required: false });
    expect(describeFailure(r)).toBeUndefined();
  });

  it('ovsdb-server down: it is the root cause; the chassis rows are blocked by it, not failures of their own', () => {
    const r = evaluateHost(
      healthyFacts({
        ovsdb: { ok: false, detail: 'database connection failed (No such file or directory)' },
      }),
    );
    expect(r.ok).toBe(false);
    expect(firstFailure(r)).toMatchObject({
      id: 'ovsdb-server',
      cause: 'ovsdb-down',
      fix: 'labctl host start',
    });
    for (const id of ['chassis.system-id', 'chassis.encap', 'br-int']) {
      expect(row(r, id)).toMatchObject({ ok: false, blockedBy: 'ovsdb-server', cause: 'ovsdb-down' });
    }
    expect(r.chassis).toBeUndefined();
  });

  it('each daemon maps to its cause code', () => {
    const cases: [Partial<HostFacts>, string, string][] = [
      [{ docker: { ok: false, detail: 'no socket' } }, 'dockerd', 'docker-unreachable'],
      [{ vswitchd: { ok: false, detail: 'cannot read pidfile' } }, 'ovs-vswitchd', 'ovs-vswitchd-down'],
      [{ northd: { ok: false, detail: 'cannot read pidfile' } }, 'ovn-northd', 'ovn-northd-down'],
      [
        { controller: { ok: false, detail: 'cannot read pidfile' }, connection: undefined },
        'ovn-controller',
        'ovn-controller-down',
      ],
      [{ nb: { ok: false, detail: 'no such file' } }, 'ovn-nb', 'ovn-nb-down'],
    ];
    for (const [over, id, cause] of cases) {
      const r = evaluateHost(healthyFacts(over));
      expect(firstFailure(r), id).toMatchObject({ id, cause, fix: 'labctl host start' });
    }
  });

  it('ovn-controller down: the southbound connection row follows from it', () => {
    const r = evaluateHost(
      healthyFacts({ controller: { ok: false, detail: 'down' }, connection: undefined }),
    );
    expect(row(r, 'sb-connection')).toMatchObject({
      blockedBy: 'ovn-controller',
      cause: 'ovn-controller-down',
    });
  });

  it('not root comes first and says how to fix it; "permission denied" from the daemons follows from it', () => {
    const r = evaluateHost(healthyFacts({ root: false }));
    expect(firstFailure(r)).toMatchObject({ id: 'root', cause: 'not-root' });
    expect(firstFailure(r)?.fix).toMatch(/root/);
    const denied = { ok: false, detail: 'database connection failed (Permission denied)' };
    const r2 = evaluateHost(
      healthyFacts({ root: false, ovsdb: denied, vswitchd: { ok: false, detail: 'down' } }),
    );
    expect(r2.checks.find((c) => c.id === 'ovsdb-server')).toMatchObject({
      blockedBy: 'root',
      cause: 'not-root',
    });
    // a daemon that is really down stays its own failure
    expect(r2.checks.find((c) => c.id === 'ovs-vswitchd')).toMatchObject({ cause: 'ovs-vswitchd-down' });
    expect(r2.checks.find((c) => c.id === 'ovs-vswitchd')?.blockedBy).toBeUndefined();
  });

  it('missing tools → labctl host install; missing optional tools only warn', () => {
    const r = evaluateHost(
      healthyFacts({ tools: { ip: true, ethtool: false }, optionalTools: { conntrack: false } }),
    );
    expect(firstFailure(r)).toMatchObject({
      id: 'tools',
      cause: 'tools-missing',
      fix: 'labctl host install',
    });
    expect(row(r, 'tools').detail).toContain('ethtool');
    const r2 = evaluateHost(healthyFacts({ optionalTools: { conntrack: false } }));
    expect(r2.ok).toBe(true);
    expect(row(r2, 'tools.optional')).toMatchObject({ ok: false, required: false });
  });

  it('no ovn-bridge-datapath-type without the kernel module is datapath-unsupported (ovn-controller would make br-int system)', () => {
    const f = healthyFacts();
    delete f.ovsdb.externalIds!['ovn-bridge-datapath-type'];
    const r = evaluateHost(f);
    expect(firstFailure(r)).toMatchObject({ id: 'chassis.datapath-type', cause: 'datapath-unsupported' });
    // with the module, the default (system) is fine
    expect(evaluateHost({ ...f, kernelModule: MODULE }).ok).toBe(true);
  });

  it('br-int with datapath_type system on a host without the module fails; with the module it is fine', () => {
    const f = healthyFacts();
    f.ovsdb.bridges = [{ name: 'br-int', datapathType: '' }];
    expect(firstFailure(evaluateHost(f))).toMatchObject({ id: 'br-int', cause: 'datapath-unsupported' });
    expect(evaluateHost({ ...f, kernelModule: MODULE }).ok).toBe(true);
  });

  it('br-int missing: bridge-missing while ovn-controller runs', () => {
    const f = healthyFacts();
    f.ovsdb.bridges = [];
    expect(firstFailure(evaluateHost(f))).toMatchObject({ id: 'br-int', cause: 'bridge-missing' });
  });

  it('missing encap keys → encap-missing', () => {
    const f = healthyFacts();
    delete f.ovsdb.externalIds!['ovn-encap-ip'];
    const bad = firstFailure(evaluateHost(f));
    expect(bad).toMatchObject({ id: 'chassis.encap', cause: 'encap-missing' });
    expect(bad?.detail).toContain('ovn-encap-ip');
  });

  it('SB disconnected → sb-disconnected', () => {
    const r = evaluateHost(healthyFacts({ connection: { ok: true, detail: 'not connected' } }));
    expect(firstFailure(r)).toMatchObject({ id: 'sb-connection', cause: 'sb-disconnected' });
  });

  it('chassis not in SB → chassis-not-registered; a stale chassis holding our encap → chassis-id-mismatch naming it', () => {
    const f = healthyFacts();
    f.sb = { ...f.sb, chassis: [], encaps: [] };
    expect(firstFailure(evaluateHost(f))).toMatchObject({
      id: 'chassis.registered',
      cause: 'chassis-not-registered',
    });

    const g = healthyFacts();
    g.sb = {
      ...g.sb,
      chassis: [{ name: 'old-id', hostname: 'other' }],
      encaps: [{ type: 'geneve', ip: '127.0.0.1', chassis: 'old-id' }],
    };
    const bad = firstFailure(evaluateHost(g));
    expect(bad).toMatchObject({ id: 'chassis.registered', cause: 'chassis-id-mismatch' });
    expect(bad?.fix).toContain('old-id');

    const h = healthyFacts();
    h.sb = {
      ...h.sb,
      chassis: [{ name: 'renamed', hostname: 'vm' }],
      encaps: [{ type: 'geneve', ip: '10.0.0.9', chassis: 'renamed' }],
    };
    expect(firstFailure(evaluateHost(h))).toMatchObject({ cause: 'chassis-id-mismatch' });
  });

  it('registered with another encap → encap-missing', () => {
    const f = healthyFacts();
    f.sb = { ...f.sb, encaps: [{ type: 'geneve', ip: '10.1.1.1', chassis: 'chassis-a' }] };
    expect(firstFailure(evaluateHost(f))).toMatchObject({ id: 'chassis.registered', cause: 'encap-missing' });
  });

  it('a remote central: NB and ovn-northd are not this host’s job; SB down is sb-disconnected with a reachability fix', () => {
    const f = healthyFacts({ nb: undefined, northd: undefined });
    f.ovsdb.externalIds!['ovn-remote'] = 'tcp:10.0.0.1:6642';
    f.sb = { ...f.sb, ok: false, detail: 'connection refused', remote: 'tcp:10.0.0.1:6642' };
    const r = evaluateHost(f);
    expect(r.embedded).toBe(false);
    expect(row(r, 'ovn-nb')).toMatchObject({ ok: true, required: false });
    expect(row(r, 'ovn-northd')).toMatchObject({ ok: true, required: false });
    const bad = firstFailure(r);
    expect(bad).toMatchObject({ id: 'ovn-sb', cause: 'sb-disconnected' });
    expect(bad?.fix).toContain('tcp:10.0.0.1:6642');
  });

  it('a lab’s expectations: encap, datapath and remote must match what the host has', () => {
    const base = { encap: { type: 'geneve', ip: '127.0.0.1' }, datapath: 'auto' as const, bridge: 'br-int' };
    expect(evaluateHost(healthyFacts(), expectationsFor(base)).ok).toBe(true);

    const encap = firstFailure(
      evaluateHost(healthyFacts(), expectationsFor({ ...base, encap: { type: 'geneve', ip: '10.0.0.5' } })),
    );
    expect(encap).toMatchObject({ id: 'chassis.encap', cause: 'encap-missing' });
    expect(encap?.fix).toBe('labctl host start --encap-type geneve --encap-ip 10.0.0.5');

    const sys = firstFailure(evaluateHost(healthyFacts(), expectationsFor({ ...base, datapath: 'system' })));
    expect(sys).toMatchObject({ id: 'chassis.datapath-type', cause: 'datapath-unsupported' });
    expect(sys?.fix).toMatch(/ovn\.datapath: netdev/);

    const remote = firstFailure(
      evaluateHost(healthyFacts(), expectationsFor({ ...base, remote: 'tcp:10.0.0.1:6642' })),
    );
    expect(remote).toMatchObject({ id: 'chassis.ovn-remote', cause: 'sb-disconnected' });
    expect(remote?.fix).toBe('labctl host start --remote tcp:10.0.0.1:6642');

    // unix:/run/… is the same socket as unix:/var/run/…
    expect(
      evaluateHost(healthyFacts(), expectationsFor({ ...base, remote: 'unix:/run/ovn/ovnsb_db.sock' })).ok,
    ).toBe(true);
  });

  it('describeFailure: one line with the lowest broken component, its cause, and the fix', () => {
    const r = evaluateHost(
      healthyFacts({
        vswitchd: { ok: false, detail: 'cannot read pidfile' },
        controller: { ok: false, detail: 'x' },
        connection: undefined,
      }),
    );
    const d = describeFailure(r);
    expect(d?.message).toMatch(/^host not ready: ovs-vswitchd: cannot read pidfile \[ovs-vswitchd-down\]/);
    expect(d?.message).not.toContain('\n');
    expect(d?.fix).toBe('labctl host start');
  });
});

describe('ovs-vswitchd crashes its monitor recovered from', () => {
  it('reads the monitor title: no crash, one crash, several', () => {
    expect(parseMonitorTitle('ovs-vswitchd: monitoring pid 11761 (healthy)')).toBeUndefined();
    expect(
      parseMonitorTitle(
        'ovs-vswitchd: monitoring pid 11816 (1 crashes: pid 11761 died, killed (Segmentation fault))',
      ),
    ).toEqual({ count: 1, last: 'pid 11761 died, killed (Segmentation fault)' });
    expect(
      parseMonitorTitle(
        'ovs-vswitchd: monitoring pid 20 (3 crashes: pid 19 died, killed (Aborted), core dumped)',
      ),
    ).toEqual({ count: 3, last: 'pid 19 died, killed (Aborted), core dumped' });
    expect(parseMonitorTitle('ovs-vswitchd --pidfile --detach')).toBeUndefined();
  });

  it('a recovered crash passes but is said, with what died and where the log is', () => {
    const r = evaluateHost(
      healthyFacts({
        vswitchd: {
          ok: true,
          detail: 'ovs-vswitchd (Open vSwitch) 3.1.0',
          crashes: { count: 1, last: 'pid 19 died, killed (Aborted)' },
        },
      }),
    );
    const row = r.checks.find((c) => c.id === 'ovs-vswitchd');
    expect(row?.ok).toBe(true);
    expect(row?.detail).toContain(
      'restarted by its monitor after 1 crash (last: pid 19 died, killed (Aborted);',
    );
    expect(row?.detail).toContain('/var/log/openvswitch/ovs-vswitchd.log');
  });
});
