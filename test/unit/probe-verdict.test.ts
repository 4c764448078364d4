/**
 * The data-plane verdicts, decided by the pure functions of src/probe/verdict.ts on what production builds: the
 * plan compiled from the fixture labs, its probe targets (planTargets) made records by the session's own
 * newRecord, outcomes shaped as the agent returns them, ovn-trace output captured on this machine and parsed by
 * the production parser, and the NB rows compared with the plan's ACLs by evidence.ts. gatherEvidence is checked
 * for reading what each decision needs, and nothing it does not.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { NbLabState } from '../../src/drivers/ovn.js';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { type Evidence, gatherEvidence, missingAclsOf } from '../../src/probe/evidence.js';
import type { ProbeResult } from '../../src/probe/protocol.js';
import { buildResults } from '../../src/probe/results.js';
import type { DataplaneContext, DataplaneRun, ProbeRecord } from '../../src/probe/run-types.js';
import { newRecord } from '../../src/probe/session.js';
import { DOCTOR_PORT, planTargets } from '../../src/probe/targets.js';
import { type AclRef, parseTrace, type TraceRun } from '../../src/probe/trace.js';
import { type DecideEnv, decideVerdict, type TraceEvidence } from '../../src/probe/verdict.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures', 'dataplane');

function planOf(name: string): Plan {
  const { lab, diagnostics } = checkLab(readFileSync(join(fixtures, `${name}.yml`), 'utf8'), `${name}.yml`);
  if (!lab) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return compilePlan(lab);
}

const PIDS = new Map([
  ['web', 4101],
  ['db', 4102],
  ['client', 4103],
  ['out', 4104],
]);

function envOf(plan: Plan, extra: Partial<DecideEnv> = {}): DecideEnv {
  return { plan, labFile: 'labs/x.yml', pids: PIDS, counters: new Map(), ...extra };
}

/** The record of one target, as the session makes it, with the outcome the agent gave. */
function record(
  plan: Plan,
  subject: string,
  result: ProbeResult,
  more: Partial<ProbeRecord> = {},
): ProbeRecord {
  const t = planTargets(plan).find((x) => newRecord(x).subject === subject);
  if (!t) throw new Error(`no target ${subject} in ${planTargets(plan).map((x) => newRecord(x).subject)}`);
  const r = newRecord(t);
  // the session resolves a mesh target's port to its listener's
  if (t.kind === 'mesh' && t.proto !== 'icmp') {
    r.port = DOCTOR_PORT;
    r.listener = { proto: t.proto, want: DOCTOR_PORT, port: DOCTOR_PORT };
  }
  r.attempts = 1;
  r.result = result;
  return Object.assign(r, more);
}

const traceRun = (file: string, outport?: string): TraceRun => {
  const output = readFileSync(join(fixtures, `trace-${file}.txt`), 'utf8');
  return { verdict: parseTrace(output, outport), command: `ovn-trace … (${file})`, output };
};

const timeout: ProbeResult = { outcome: 'timeout', ms: 2500, sent: 3 };
const icmpPass: ProbeResult = { outcome: 'pass', ms: 0.4, from: '10.0.1.10' };

describe('acl-drop', () => {
  const plan = planOf('expect');
  const r = () => record(plan, 'client→web tcp/80', timeout, { icmp: icmpPass, attempts: 2, first: timeout });
  const dropped = (acl?: AclRef): TraceEvidence => ({
    legs: [{ leg: 'request', run: traceRun('acl-drop', 'dp-smoke.web.eth1'), outport: 'dp-smoke.web.eth1' }],
    ...(acl ? { acl } : {}),
  });
  const foreign: AclRef = {
    uuid: '593633f5-1111-2222-3333-444455556666',
    name: '',
    direction: 'to-lport',
    priority: 3000,
    match: 'outport == "dp-smoke.web.eth1" && ip4.src == 10.0.2.2 && tcp.dst == 22',
    action: 'drop',
    externalIds: {},
    owner: { kind: 'switch', name: 'dp-expect.vpc-a' },
  };

  it('an ACL that is not the lab’s: named with its stage, fixed by acl-del', () => {
    const v = decideVerdict(envOf(plan), r(), {
      checksum: { offSrc: false, offDst: false },
      trace: dropped(foreign),
    });
    expect(v.status).toBe('fail');
    expect(v.cause).toBe('acl-drop');
    expect(v.evidence).toContain(
      'ls_out_acl (egress of dp-smoke.vpc-a, table 4, logical flow 593633f5, priority 3000)',
    );
    expect(v.evidence).toContain('ACL 593633f5 (to-lport priority 3000 drop:');
    expect(v.evidence).toMatch(/\(not from lab\.yml\)$/);
    expect(v.fix).toBe(
      'ovn-nbctl acl-del dp-expect.vpc-a to-lport 3000 "outport == \\"dp-smoke.web.eth1\\" && ip4.src == 10.0.2.2 && tcp.dst == 22"',
    );
    expect(v.data).toMatchObject({ trace: { leg: 'request', stage: 'ls_out_acl' }, acl: { own: false } });
  });

  it('the lab’s own policy blocking what expect says passes: the fix is the lab file, not acl-del', () => {
    const own = { ...foreign, externalIds: { 'labctl-lab': 'dp-expect', 'labctl-policy': '0' } };
    const v = decideVerdict(envOf(plan), r(), { checksum: {}, trace: dropped(own) });
    expect(v.cause).toBe('acl-drop');
    expect(v.evidence).toContain(
      "that is the lab's own policy #0 (policies[0]) while expect says this should pass",
    );
    expect(v.fix).toBe(
      'edit policies in labs/x.yml (policies[0] blocks client→web tcp/80) or change the expect entry, then labctl up -f labs/x.yml',
    );
  });

  it('without the ACL row: the trace’s own match is the evidence, and no fix is made up', () => {
    const v = decideVerdict(envOf(plan), r(), { checksum: {}, trace: dropped() });
    expect(v.cause).toBe('acl-drop');
    expect(v.evidence).toContain("by the flow's match: outport ==");
    expect(v.fix).toBeUndefined();
  });

  it('a trace that delivers both ways is no cause: the failure stays, with the drop counters that rose', () => {
    const snap = (lost: number) => ({ at: 0, lost, ports: {}, coverage: {}, veths: {}, errors: [] });
    const env = envOf(plan, { drops: { before: snap(2), after: snap(42) } });
    const v = decideVerdict(env, r(), {
      checksum: {},
      trace: {
        legs: [
          { leg: 'request', run: traceRun('delivered', 'dp-smoke.web.eth1'), outport: 'dp-smoke.web.eth1' },
          { leg: 'reply', run: traceRun('reply', 'dp-smoke.client.eth1'), outport: 'dp-smoke.client.eth1' },
        ],
      },
    });
    expect(v.status).toBe('fail');
    expect(v.cause).toBeUndefined();
    expect(v.evidence).toContain('ovn-trace delivers the request; ovn-trace delivers the reply');
    expect(v.evidence).toContain(
      'probed again alone at a low rate: still no answer; drop counters during the run:',
    );
  });
});

describe('checksum-offload', () => {
  const plan = planOf('expect');
  it('tx offload on at the sender: fix it there, in its netns', () => {
    const r = record(plan, 'client→web tcp/80', timeout, { icmp: icmpPass });
    const v = decideVerdict(envOf(plan), r, { checksum: { offSrc: true, offDst: false } });
    expect(v.cause).toBe('checksum-offload');
    expect(v.fix).toBe('nsenter -t 4103 -n ethtool -K eth1 tx off');
    expect(v.evidence).toMatch(
      /^ICMP passes; web TcpInCsumErrors unknown during the probes; tx-checksumming on on client eth1/,
    );
    expect(v.data).toMatchObject({
      fixNode: 'client',
      fixIface: 'eth1',
      counter: 'TcpInCsumErrors',
      txOffload: true,
    });
  });

  it('offload unreadable, but the receiver counted bad checksums: the reply’s sender when it is the target side', () => {
    const r = record(plan, 'client→web tcp/80', timeout, { icmp: icmpPass });
    const counters = new Map([
      ['client', { before: { TcpInCsumErrors: 5 }, after: { TcpInCsumErrors: 8 } }],
      ['web', { before: { TcpInCsumErrors: 0 }, after: { TcpInCsumErrors: 0 } }],
    ]);
    const v = decideVerdict(envOf(plan, { counters }), r, { checksum: { offSrc: false } });
    expect(v.cause).toBe('checksum-offload');
    expect(v.fix).toBe('nsenter -t 4101 -n ethtool -K eth1 tx off');
    expect(v.evidence).toContain('client TcpInCsumErrors +3 during the probes');
  });

  it('not when ICMP fails too: that is no checksum problem', () => {
    const r = record(plan, 'client→web tcp/80', timeout, { icmp: timeout });
    const v = decideVerdict(envOf(plan), r, { checksum: { offSrc: true } });
    expect(v.cause).toBeUndefined();
  });
});

describe('mtu-mismatch', () => {
  const plan = planOf('expect');
  it('small ping passes, the don’t-fragment one does not: restore the planned MTU where it drifted', () => {
    const r = record(plan, 'client→web icmp', icmpPass, { big: timeout });
    const v = decideVerdict(envOf(plan), r, { mtus: [1500, 1400] });
    expect(v.cause).toBe('mtu-mismatch');
    expect(v.evidence).toBe(
      "56-byte ping answered in 0.4 ms, but a 1472-byte ping with don't-fragment no answer within 2500 ms; client eth1 mtu 1500, web eth1 mtu 1400 (planned 1500)",
    );
    expect(v.fix).toBe('nsenter -t 4101 -n ip link set dev eth1 mtu 1500');
    expect(v.data).toMatchObject({ bigSize: 1472, mtus: { 'client.eth1': 1500, 'web.eth1': 1400 } });
  });
  it('no end drifted from the plan: the lab file’s MTUs disagree', () => {
    const r = record(plan, 'client→web icmp', icmpPass, { big: timeout });
    const v = decideVerdict(envOf(plan), r, { mtus: [1500, 1500] });
    expect(v.fix).toMatch(/^give both ends the same mtu in labs\/x\.yml/);
  });
});

describe('no-listener', () => {
  const plan = planOf('expect');
  it('RST where the node’s own service must answer, the path delivered', () => {
    const r = record(plan, 'client→web tcp/80', {
      outcome: 'refused',
      ms: 0.5,
      code: 'ECONNREFUSED',
      from: '10.0.1.10:80',
    });
    expect(r.answer).toBe('node');
    const v = decideVerdict(envOf(plan), r, {
      trace: { legs: [{ leg: 'request', run: traceRun('delivered', 'dp-smoke.web.eth1') }] },
    });
    expect(v.cause).toBe('no-listener');
    expect(v.evidence).toBe('RST from 10.0.1.10:80: nothing listens on tcp/80 in web');
    expect(v.fix).toBe('start the service in web (it declares tcp/80 in listen, but nothing serves it)');
  });
  it('an ACL reject is acl-drop, not no-listener', () => {
    const r = record(plan, 'client→web tcp/80', { outcome: 'refused', ms: 0.5, code: 'ECONNREFUSED' });
    const v = decideVerdict(envOf(plan), r, {
      trace: { legs: [{ leg: 'request', run: traceRun('reject', 'dp-smoke.db.eth1') }] },
    });
    expect(v.cause).toBe('acl-drop');
  });
});

/** NB rows holding these of the plan's ACLs, each on its switch (the shape ovn.readLab returns). */
function nbWith(acls: Plan['acls']): NbLabState {
  const switches = [...new Set(acls.map((a) => a.switch))];
  const uuid = (i: number) => `acl-${i}`;
  return {
    switches: switches.map((name) => ({
      uuid: `sw-${name}`,
      name,
      externalIds: {},
      otherConfig: {},
      acls: acls.map((a, i) => (a.switch === name ? uuid(i) : '')).filter(Boolean),
      ports: [],
      loadBalancers: [],
    })),
    acls: acls.map((a, i) => ({
      uuid: uuid(i),
      direction: a.direction,
      priority: a.priority,
      match: a.match,
      action: a.action,
      name: '',
      externalIds: a.externalIds,
    })),
    ports: [],
    routers: [],
    routerPorts: [],
    routes: [],
    nat: [],
    loadBalancers: [],
  } as unknown as NbLabState;
}

describe('unexpected-reachability and blocked as expected (policies, no expect)', () => {
  const plan = planOf('policies');
  const answered: ProbeResult = { outcome: 'pass', ms: 0.7, from: '10.87.1.2:47000' };

  it('the baseline: a policy blocks it and it is blocked → pass naming the policy', () => {
    const r = record(plan, 'out→web tcp', timeout);
    expect(r.target.expect).toBe('blocked');
    const v = decideVerdict(envOf(plan), r, {});
    expect(v.status).toBe('pass');
    expect(v.evidence).toBe(
      `blocked as expected: no answer within 2500 ms while the doctor's tcp listener on web port ${DOCTOR_PORT} was up; policies[0] { deny: { from: ext, to: inside } } blocks it`,
    );
  });

  it('answered although its policy blocks it, the policy’s ACL gone from NB: converge (labctl up)', () => {
    const r = record(plan, 'out→web tcp', answered);
    // the NB as the lab left it, minus policy 0's ACLs (what `ovn-nbctl acl-del` leaves)
    const nb = nbWith(plan.acls.filter((a) => a.externalIds['labctl-policy'] !== '0'));
    const missing = missingAclsOf(plan, plan.policies!.find((p) => p.index === 0)!, nb);
    expect(missing.length).toBe(plan.acls.filter((a) => a.externalIds['labctl-policy'] === '0').length);
    expect(missing.length).toBeGreaterThan(0);
    const v = decideVerdict(envOf(plan), r, { missingAcls: missing });
    expect(v.status).toBe('fail');
    expect(v.cause).toBe('unexpected-reachability');
    expect(v.evidence).toMatch(
      /^the doctor's token came back from 10\.87\.1\.\d+:47000 in 0\.7 ms: reachable, but policies\[0\] \{ deny: \{ from: ext, to: inside \} \} blocks out→web tcp; its ACL is missing from the northbound DB/,
    );
    expect(v.fix).toBe('labctl up -f labs/x.yml');
    expect(v.data).toMatchObject({ policy: 0, missingAcls: missing });
    // every ACL in place: the same verdict, saying they are there
    expect(
      missingAclsOf(plan, plan.policies!.find((p) => p.index === 0)!, { ...nb, acls: [], switches: [] }),
    ).toHaveLength(missing.length);
  });

  it('an expect entry answered where it expects a block: the policy to add', () => {
    const ex = planOf('expect');
    const r = record(ex, 'client→web tcp/22', { outcome: 'pass', ms: 0.3, from: '10.0.1.10:22' });
    const v = decideVerdict(envOf(ex), r, {});
    expect(v.cause).toBe('unexpected-reachability');
    expect(v.fix).toBe(
      'add a policy to labs/x.yml: { deny: { from: client, to: web, proto: tcp, port: 22 } } (or change the expect entry), then labctl up',
    );
  });
});

describe('gatherEvidence reads what the decision needs', () => {
  const plan = planOf('expect');
  function fake(offSrc: boolean | undefined) {
    const calls: string[] = [];
    const ev = {
      txOffload: async (node: string, iface: string) => {
        calls.push(`offload ${node}.${iface}`);
        return node === 'client' ? offSrc : false;
      },
      traceOf: async () => {
        calls.push('trace');
        return { legs: [] };
      },
      mtu: async (node: string) => {
        calls.push(`mtu ${node}`);
        return 1500;
      },
      nb: async () => {
        calls.push('nb');
        return undefined;
      },
    } as unknown as Evidence;
    return { ev, calls };
  }

  it('TCP silent with offload on: the ends’ offload, and no trace (the cause is found)', async () => {
    const { ev, calls } = fake(true);
    const e = await gatherEvidence(
      ev,
      envOf(plan),
      record(plan, 'client→web tcp/80', timeout, { icmp: icmpPass }),
    );
    expect(e).toEqual({ checksum: { offSrc: true, offDst: false } });
    expect(calls).toEqual(['offload client.eth1', 'offload web.eth1']);
  });
  it('TCP silent, offload off: then the trace', async () => {
    const { ev, calls } = fake(false);
    await gatherEvidence(ev, envOf(plan), record(plan, 'client→web tcp/80', timeout, { icmp: icmpPass }));
    expect(calls).toEqual(['offload client.eth1', 'offload web.eth1', 'trace']);
  });
  it('a passing probe needs nothing; a failed don’t-fragment ping needs the MTUs', async () => {
    const { ev, calls } = fake(false);
    expect(await gatherEvidence(ev, envOf(plan), record(plan, 'client→web icmp', icmpPass))).toEqual({});
    expect(calls).toEqual([]);
    const e = await gatherEvidence(
      ev,
      envOf(plan),
      record(plan, 'client→web icmp', icmpPass, { big: timeout }),
    );
    expect(e).toEqual({ mtus: [1500, 1500] });
    expect(calls).toEqual(['mtu client', 'mtu web']);
  });
  it('answered although a policy blocks it: the NB rows (null when unreadable)', async () => {
    const pol = planOf('policies');
    const { ev, calls } = fake(false);
    const e = await gatherEvidence(ev, envOf(pol), record(pol, 'out→web tcp', { outcome: 'pass', ms: 1 }));
    expect(e).toEqual({ missingAcls: null });
    expect(calls).toEqual(['nb']);
  });
});

describe('the run-wide results', () => {
  const plan = planOf('policies');
  const run = (extra: Partial<DataplaneRun> = {}): DataplaneRun => ({
    plan,
    records: [],
    counters: new Map(),
    pids: PIDS,
    mode: 'broker',
    icmp: new Map(),
    timings: {},
    results: new Map(),
    pacing: {},
    ...extra,
  });
  const ctx = {} as DataplaneContext;

  it('nothing to probe: no placeholder "skipped" result, just none', async () => {
    const out = await buildResults(ctx, run());
    expect([...out.values()].flat()).toEqual([]);
    expect([...out.keys()]).toEqual([
      'dataplane.icmp',
      'dataplane.udp',
      'dataplane.tcp',
      'dataplane.service',
    ]);
  });

  it('a broker that could not start is a warning that says why', async () => {
    const error =
      'probe agent for broker 1 (web, db): exited (nsenter: cannot open /proc/99/ns/net: No such file or directory)';
    const out = await buildResults(
      ctx,
      run({ brokerFailures: [{ nodes: ['web', 'db'], error, fallback: 'local' }] }),
    );
    expect(out.get('dataplane.icmp')).toEqual([
      expect.objectContaining({
        subject: 'probe agents',
        status: 'warn',
        evidence: `the probe broker could not start for 2 nodes (${error}): they were probed by one agent each instead`,
      }),
    ]);
  });

  it('records become results of their check, with the verdict and the probe data', async () => {
    const t = planTargets(plan).find((x) => newRecord(x).subject === 'web→db icmp')!;
    const r = newRecord(t);
    r.attempts = 1;
    r.result = timeout;
    const out = await buildResults(ctx, run({ records: [r] }));
    expect(out.get('dataplane.icmp')).toEqual([
      expect.objectContaining({
        subject: 'web→db icmp',
        status: 'pass',
        evidence: expect.stringMatching(/^blocked as expected: no answer within 2500 ms; policies\[1\] /),
        data: expect.objectContaining({ from: 'web', to: 'db', proto: 'icmp', expect: 'blocked', policy: 1 }),
      }),
    ]);
  });
});
