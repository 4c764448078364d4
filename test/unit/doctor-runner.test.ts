/** The doctor runner's pure parts: check selection, root-cause analysis (followsFrom), ordering, summary. */
import { describe, expect, it } from 'vitest';
import { analyze, groupByRoot, summarize } from '../../checks/analyze.js';
import { FactError } from '../../checks/facts.js';
import { type DoctorCheck, type DoctorContext, runChecks, selectChecks } from '../../checks/runner.js';
import type { Cause, CheckResult, Layer } from '../../checks/types.js';

const NODES = ['web', 'db', 'client'];

function r(
  id: string,
  subject: string,
  status: CheckResult['status'],
  cause?: string,
  extra: Partial<CheckResult> = {},
): CheckResult {
  const layer = id.split('.')[0] as Layer;
  return {
    id,
    layer,
    subject,
    status,
    ...(cause ? { cause: cause as Cause } : {}),
    ...(status === 'fail' ? { evidence: 'seen', fix: 'do it' } : {}),
    ...extra,
  };
}

const ORDER = [
  'host.ovsdb',
  'host.ovn-controller',
  'host.chassis',
  'wiring.container',
  'wiring.veth',
  'wiring.address',
  'wiring.offload',
  'wiring.routes',
  'wiring.ovs-port',
  'wiring.binding',
  'dataplane.tcp',
];
const opts = { checkOrder: (id: string) => ORDER.indexOf(id), nodes: NODES };

describe('analyze: root causes and symptoms', () => {
  it('ovn-controller down: the host root explains port-unbound everywhere and the chassis row; offload stays a root', () => {
    const out = analyze(
      [
        r('wiring.binding', 'web.eth1', 'fail', 'port-unbound'),
        r('wiring.binding', 'db.eth1', 'fail', 'port-unbound'),
        r('wiring.offload', 'client.eth1', 'fail', 'checksum-offload'),
        r('host.ovsdb', 'ovsdb-server', 'pass'),
        r('host.ovn-controller', 'ovn-controller', 'fail', 'ovn-controller-down'),
        r('host.chassis', 'chassis', 'fail', 'chassis-not-registered'),
        r('dataplane.tcp', 'client→web tcp/80', 'fail', 'checksum-offload'),
      ],
      opts,
    );
    const roots = out.filter((x) => x.status === 'fail');
    expect(roots.map((x) => `${x.id} ${x.subject}`)).toEqual([
      'host.ovn-controller ovn-controller',
      'wiring.offload client.eth1',
    ]);
    // root causes first, in layer order
    expect(out[0]!.id).toBe('host.ovn-controller');
    expect(out[1]!.id).toBe('wiring.offload');
    const by = (id: string, s: string) => out.find((x) => x.id === id && x.subject === s)!;
    for (const [id, s] of [
      ['host.chassis', 'chassis'],
      ['wiring.binding', 'web.eth1'],
      ['wiring.binding', 'db.eth1'],
    ] as const) {
      const x = by(id, s);
      expect(x.status).toBe('skip');
      expect(x.followsFrom).toBe('host.ovn-controller ovn-controller');
      expect(x.cause).toBeUndefined();
      expect(x.fix).toBeUndefined();
      expect(x.evidence).toBe('seen');
      expect((x.data?.symptom as { cause?: string } | undefined)?.cause).toBe(
        id === 'host.chassis' ? 'chassis-not-registered' : 'port-unbound',
      );
    }
    // a data-plane failure follows from a lower-layer failure of one of its nodes (the first in order: the host root)
    expect(by('dataplane.tcp', 'client→web tcp/80').followsFrom).toBe('host.ovn-controller ovn-controller');
    expect(summarize(out)).toEqual({ total: 7, passed: 1, failed: 2, warned: 0, following: 4, skipped: 0 });
  });

  it('a stopped container explains every failure of its own node only, errors from its unreadable netns included', () => {
    const out = analyze(
      [
        r('wiring.container', 'web', 'fail', 'container-not-running'),
        r('wiring.container', 'db', 'pass'),
        r('wiring.veth', 'web.eth1', 'fail', 'link-missing'),
        r('wiring.veth', 'db.eth1', 'fail', 'link-down'),
        r('wiring.offload', 'web.eth1', 'error', undefined, {
          evidence: 'could not run: container of node web is not running',
          data: { node: 'web', iface: 'eth1', unavailable: 'netns' },
        }),
        r('wiring.routes', 'web', 'fail', 'route-missing'),
        r('wiring.routes', 'db', 'fail', 'route-missing'),
      ],
      opts,
    );
    const roots = out
      .filter((x) => x.status === 'fail' || x.status === 'error')
      .map((x) => `${x.cause} ${x.subject}`);
    // db's link-down is its own root cause; db's missing route follows from it (the kernel drops a down device's routes)
    expect(roots).toEqual(['container-not-running web', 'link-down db.eth1']);
    expect(out.find((x) => x.id === 'wiring.routes' && x.subject === 'db')!.followsFrom).toBe(
      'wiring.veth db.eth1',
    );
    for (const x of out.filter((y) => y.subject.startsWith('web') && y.id !== 'wiring.container'))
      expect(x.followsFrom, `${x.id} ${x.subject}`).toBe('wiring.container web');
  });

  it('an interface-level root does not explain another interface of the same node', () => {
    const out = analyze(
      [
        r('wiring.veth', 'web.eth1', 'fail', 'link-missing', { data: { node: 'web', iface: 'eth1' } }),
        r('wiring.ovs-port', 'web.eth2', 'fail', 'iface-id-mismatch', {
          data: { node: 'web', iface: 'eth2' },
        }),
        r('wiring.ovs-port', 'web.eth1', 'fail', 'iface-id-mismatch', {
          data: { node: 'web', iface: 'eth1' },
        }),
      ],
      opts,
    );
    expect(out.filter((x) => x.status === 'fail').map((x) => `${x.id} ${x.subject}`)).toEqual([
      'wiring.veth web.eth1',
      'wiring.ovs-port web.eth2',
    ]);
    expect(out.find((x) => x.subject === 'web.eth1' && x.id === 'wiring.ovs-port')!.followsFrom).toBe(
      'wiring.veth web.eth1',
    );
  });

  it('symptoms point to the ultimate root, through a chain', () => {
    const out = analyze(
      [
        r('wiring.container', 'web', 'fail', 'container-not-running'),
        r('wiring.veth', 'web.eth1', 'fail', 'link-missing'),
        r('wiring.ovs-port', 'web.eth1', 'fail', 'iface-id-mismatch'),
        r('wiring.binding', 'web.eth1', 'fail', 'port-unbound'),
      ],
      opts,
    );
    expect(out.filter((x) => x.followsFrom).map((x) => x.followsFrom)).toEqual([
      'wiring.container web',
      'wiring.container web',
      'wiring.container web',
    ]);
  });

  it('an unrelated earlier failure does not swallow a later one (cause table)', () => {
    const out = analyze(
      [
        r('wiring.offload', 'web.eth1', 'fail', 'checksum-offload'),
        r('wiring.binding', 'web.eth1', 'fail', 'port-unbound'),
      ],
      opts,
    );
    expect(out.every((x) => x.status === 'fail' && !x.followsFrom)).toBe(true);
  });

  it('errors of one unreadable global source: the first is the root, or the host root that explains it', () => {
    const ovsErr = (id: string, s: string) =>
      r(id, s, 'error', undefined, {
        evidence: 'could not run: ovs-vsctl: no answer',
        data: { unavailable: 'ovs' },
      });
    const alone = analyze(
      [
        ovsErr('wiring.ovs-port', 'web.eth1'),
        ovsErr('wiring.ovs-port', 'db.eth1'),
        ovsErr('wiring.binding', 'web.eth1'),
      ],
      opts,
    );
    expect(alone.filter((x) => x.status === 'error')).toHaveLength(1);
    expect(alone.filter((x) => x.followsFrom === 'wiring.ovs-port web.eth1')).toHaveLength(2);
    const withHost = analyze(
      [r('host.ovsdb', 'ovsdb-server', 'fail', 'ovsdb-down'), ovsErr('wiring.ovs-port', 'web.eth1')],
      opts,
    );
    expect(withHost[1]!.followsFrom).toBe('host.ovsdb ovsdb-server');
  });

  it('a preset followsFrom is resolved to the root, or dropped when its target did not fail', () => {
    const out = analyze(
      [
        r('host.ovsdb', 'ovsdb-server', 'fail', 'ovsdb-down'),
        r('host.chassis', 'chassis', 'fail', 'chassis-not-registered', {
          followsFrom: 'host.ovsdb ovsdb-server',
        }),
        r('host.ovn-controller', 'ovn-controller', 'fail', 'ovn-controller-down', {
          followsFrom: 'host.nothing x',
        }),
      ],
      opts,
    );
    expect(out.find((x) => x.id === 'host.chassis')!.followsFrom).toBe('host.ovsdb ovsdb-server');
    // ovsdb-down explains ovn-controller-down by the table, whatever the preset said
    expect(out.find((x) => x.id === 'host.ovn-controller')!.followsFrom).toBe('host.ovsdb ovsdb-server');
    const passed = analyze(
      [
        r('host.ovsdb', 'ovsdb-server', 'pass'),
        r('host.chassis', 'chassis', 'skip', undefined, { followsFrom: 'host.ovsdb ovsdb-server' }),
      ],
      opts,
    );
    expect(passed[1]!.followsFrom).toBeUndefined();
  });

  it('warnings are neither roots nor symptoms, and do not fail the run', () => {
    const out = analyze(
      [
        r('host.ovsdb', 'ovsdb-server', 'warn', undefined, { evidence: 'slow' }),
        r('wiring.binding', 'web.eth1', 'pass'),
      ],
      opts,
    );
    expect(summarize(out)).toMatchObject({ failed: 0, warned: 1 });
    expect(groupByRoot(out)).toEqual([]);
  });
});

describe('selectChecks and runChecks', () => {
  const mk = (id: string, layer: Layer, run: DoctorCheck['run']): DoctorCheck => ({
    id,
    layer,
    title: id,
    run,
  });
  const ctx = { plan: { lab: 'x', nodes: [{ name: 'web' }] } } as unknown as DoctorContext;

  it('selects by layer and id, lowest layer first, and refuses unknown ones', () => {
    const all = [
      mk('wiring.a', 'wiring', async () => []),
      mk('host.a', 'host', async () => []),
      mk('dataplane.a', 'dataplane', async () => []),
    ];
    expect(selectChecks(all).map((c) => c.id)).toEqual(['host.a', 'wiring.a', 'dataplane.a']);
    expect(selectChecks(all, { layers: ['host', 'wiring'] }).map((c) => c.id)).toEqual([
      'host.a',
      'wiring.a',
    ]);
    expect(selectChecks(all, { checks: ['wiring.a'] }).map((c) => c.id)).toEqual(['wiring.a']);
    expect(() => selectChecks(all, { checks: ['nope'] })).toThrow(/unknown check "nope"/);
    expect(() => selectChecks(all, { layers: ['kernel' as Layer] })).toThrow(/unknown layer/);
  });

  it("runs a layer concurrently, layers in order; a throw is an error result; ids and layers are the check's", async () => {
    const events: string[] = [];
    const slow = (id: string, ms: number): DoctorCheck =>
      mk(id, id.startsWith('host') ? 'host' : 'wiring', async () => {
        events.push(`start ${id}`);
        await new Promise((res) => setTimeout(res, ms));
        events.push(`end ${id}`);
        return [{ id: 'whatever', layer: 'dataplane', subject: id, status: 'pass' }];
      });
    const boom = mk('wiring.boom', 'wiring', async () => {
      throw new FactError('nb', 'cannot read the OVN northbound DB: timed out');
    });
    const run = await runChecks(ctx, [slow('wiring.b', 5), slow('host.a', 30), slow('host.b', 10), boom]);
    // both host checks started before either ended; wiring started after the host layer ended
    expect(events.slice(0, 2).sort()).toEqual(['start host.a', 'start host.b']);
    expect(events.indexOf('start wiring.b')).toBeGreaterThan(events.indexOf('end host.a'));
    const b = run.results.find((x) => x.subject === 'wiring.b')!;
    expect(b.id).toBe('wiring.b');
    expect(b.layer).toBe('wiring');
    const err = run.results.find((x) => x.id === 'wiring.boom')!;
    expect(err.status).toBe('error');
    expect(err.evidence).toContain('could not run: cannot read the OVN northbound DB');
    expect(err.data).toEqual({ unavailable: 'nb' });
    expect(run.ok).toBe(false);
    expect(run.summary.failed).toBe(1);
  });

  it('bounds a check that hangs', async () => {
    const hang = mk('host.hang', 'host', () => new Promise(() => undefined));
    const run = await runChecks(ctx, [hang], { checkTimeoutMs: 20 });
    expect(run.results[0]).toMatchObject({ id: 'host.hang', status: 'error' });
    expect(run.results[0]!.evidence).toMatch(/did not finish within/);
  });
});
