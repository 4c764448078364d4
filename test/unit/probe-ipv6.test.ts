/**
 * The doctor over IPv6, from the plan alone: which pairs get IPv6 targets (dual-stack, IPv6-only, mixed), their
 * subjects, keys and logical paths, expect entries over both families, policy verdicts on IPv6 flows, ovn-trace's
 * IPv6 microflow, and the verdicts that depend on the family (checksum counter, MTU probe size). Plans are compiled
 * from IPv4 lab files and given IPv6 by `withV6` exactly as the plan contract spells it (PlanInterface.ip6/prefix6/
 * gateway6, PlanSwitch.subnet6, router port networks and policy CIDRs of both families).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { PolicyVerdicts } from '../../src/plan/policy-verdict.js';
import type { Plan } from '../../src/plan/types.js';
import { traceFlows } from '../../src/probe/evidence.js';
import type { ProbeResult } from '../../src/probe/protocol.js';
import type { ProbeRecord } from '../../src/probe/run-types.js';
import { bigOverhead, newRecord } from '../../src/probe/session.js';
import { DOCTOR_PORT, listenersFor, planTargets, routeFor, subjectOf } from '../../src/probe/targets.js';
import { type AclRef, microflow, parseTrace } from '../../src/probe/trace.js';
import { type DecideEnv, decideChecksum, decideMtu, decideVerdict } from '../../src/probe/verdict.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ovn-trace 23.03 output of IPv6 microflows, captured on a real lab (v6p-agent) with a hand-made IPv6 ACL */
const traceText = (name: string) =>
  readFileSync(join(root, 'test', 'fixtures', 'dataplane', `trace-ipv6-${name}.txt`), 'utf8');
const TWO_VPCS = readFileSync(join(root, 'test', 'fixtures', 'valid', 'two-vpcs.yml'), 'utf8');

function plan(text: string): Plan {
  const { lab, diagnostics } = checkLab(text, 'test.yml');
  if (!lab) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return compilePlan(lab);
}

/**
 * Give the networks in `nets` IPv6 (network i: fd00:<i+1>::/64, a host's address ::<its IPv4 host byte>, the router
 * ::1); `only`: those networks lose their IPv4 (an IPv6-only network: no ip on its interfaces).
 */
function withV6(p: Plan, nets: string[], only: string[] = []): Plan {
  const prefixOf = new Map(p.switches.map((s, i) => [s.network, `fd00:${i + 1}::`]));
  for (const s of p.switches) if (nets.includes(s.network)) s.subnet6 = `${prefixOf.get(s.network)}/64`;
  const v6Of = new Map<string, string>();
  for (const n of p.nodes)
    for (const i of n.interfaces) {
      if (!nets.includes(i.network)) continue;
      i.ip6 = `${prefixOf.get(i.network)}${i.ip!.split('.')[3]}`;
      i.prefix6 = 64;
      if (i.gateway) i.gateway6 = `${prefixOf.get(i.network)}1`;
      v6Of.set(`${n.name}`, i.ip6);
      if (only.includes(i.network)) {
        i.ip = '';
        delete i.gateway;
      }
    }
  for (const n of p.nodes)
    if (n.interfaces.every((i) => !i.ip)) n.routes = n.routes.filter((r) => r.via.includes(':'));
  for (const r of p.routers)
    for (const port of r.ports)
      if (nets.includes(port.network)) port.networks.push(`${prefixOf.get(port.network)}1/64`);
  for (const pol of p.policies ?? [])
    for (const end of [pol.from, pol.to])
      for (const node of end.nodes ?? (v6Of.has(end.ref) ? [end.ref] : []))
        if (v6Of.has(node)) end.cidrs.push(`${v6Of.get(node)}/128`);
  return p;
}

const withoutExpect = (text: string) => text.replace(/^expect:[\s\S]*?(?=^\S|(?![\s\S]))/m, '');

describe('IPv6 targets', () => {
  it('dual-stack: every pair is probed over both families; IPv4 targets are exactly what they were', () => {
    const v4 = planTargets(plan(TWO_VPCS));
    const p = withV6(plan(TWO_VPCS), ['vpc-a', 'vpc-b']);
    const all = planTargets(p);
    const v6 = all.filter((t) => t.family === 6);
    // IPv4 unchanged: same keys, subjects and addresses, no family field
    expect(all.filter((t) => t.family === undefined)).toEqual(v4);
    const mesh6 = v6.filter((t) => t.kind === 'mesh');
    // every ordered pair, three protocols; the mesh's client→web icmp6 is left out: expect[1] repeats it
    expect(mesh6).toHaveLength(3 * 2 * 3 - 1);
    expect(
      planTargets(withV6(plan(withoutExpect(TWO_VPCS)), ['vpc-a', 'vpc-b'])).filter((t) => t.family === 6),
    ).toHaveLength(18);
    expect(new Set(mesh6.map((t) => subjectOf(t)))).toContain('client→web tcp6');
    expect(v6.map((t) => newRecord(t).subject).filter((s) => s.startsWith('client→web'))).toEqual([
      'client→web udp6',
      'client→web tcp6',
      'client→web tcp6/80',
      'client→web icmp6',
      'client→web tcp6/22',
    ]);
    expect(new Set(all.map((t) => t.key)).size).toBe(all.length);
    // the routed IPv6 path: client's IPv6 address, the router port's MAC as next hop, web's reply path back
    const t = mesh6.find((x) => x.from === 'client' && x.to === 'web' && x.proto === 'tcp')!;
    const web = p.nodes.find((n) => n.name === 'web')!.interfaces[0]!;
    const client = p.nodes.find((n) => n.name === 'client')!.interfaces[0]!;
    expect(t.dstIp).toBe(web.ip6);
    expect(t.fwd).toMatchObject({ node: 'client', ip: client.ip6, routed: true });
    const rp = p.routers[0]!.ports.find((x) => x.network === 'vpc-b')!;
    expect(t.fwd!.ethDst).toBe(rp.mac);
    expect(t.rev).toMatchObject({ node: 'web', ip: web.ip6, routed: true });
    // same switch: the peer's MAC
    const same = mesh6.find((x) => x.from === 'db' && x.to === 'web')!;
    expect(same.fwd).toMatchObject({ routed: false, ethDst: web.mac });
    // the listeners are the same (one dual-stack socket per port answers both families)
    expect(listenersFor(all)).toEqual(listenersFor(v4));
  });

  it('mixed: a pair gets IPv6 targets only when both ends have IPv6 on a shared routed domain', () => {
    const p = withV6(plan(withoutExpect(TWO_VPCS)), ['vpc-a']);
    const v6 = planTargets(p).filter((t) => t.family === 6);
    expect([...new Set(v6.map((t) => `${t.from}>${t.to}`))].sort()).toEqual(['db>web', 'web>db']);
    // client has no IPv6: no route to an IPv6 address
    expect(routeFor(p.nodes.find((n) => n.name === 'client')!, 'fd00:1::10')).toBeUndefined();
  });

  it('IPv6-only network: the pair is probed over IPv6 alone, routed through the router by gateway6', () => {
    const p = withV6(plan(withoutExpect(TWO_VPCS)), ['vpc-a', 'vpc-b'], ['vpc-b']);
    const from = planTargets(p).filter((t) => t.from === 'client');
    expect(from.length).toBe(2 * 3);
    expect(from.every((t) => t.family === 6 && !t.skip && t.fwd?.routed)).toBe(true);
    expect(from.map((t) => newRecord(t).subject)).toContain('client→db udp6');
  });

  it('expect entries naming a node apply to both families (expect:N and expect:N:6); the blocked one too', () => {
    const p = withV6(plan(TWO_VPCS), ['vpc-a', 'vpc-b']);
    const exp = planTargets(p).filter((t) => t.kind === 'expect');
    expect(exp.map((t) => t.key)).toEqual([
      'expect:0',
      'expect:0:6',
      'expect:1',
      'expect:1:6',
      'expect:2',
      'expect:2:6',
      'expect:3',
      'expect:3:6',
    ]);
    const blocked6 = exp.find((t) => t.key === 'expect:3:6')!;
    expect(blocked6).toMatchObject({ expect: 'blocked', family: 6, expectIndex: 3, port: 22 });
    expect(newRecord(blocked6).subject).toBe('client→web tcp6/22');
  });
});

describe('policy verdicts on IPv6 flows', () => {
  const p = withV6(plan(TWO_VPCS), ['vpc-a', 'vpc-b']);
  const v = PolicyVerdicts.of(p);
  it('a node policy blocks its IPv6 flow too; other ports pass', () => {
    expect(
      v.verdict({ srcIp: 'fd00:2::2', dstNode: 'web', dstIp: 'fd00:1::10', proto: 'tcp', port: 22 }),
    ).toMatchObject({
      result: 'blocked',
      policy: { index: 0 },
    });
    expect(
      v.verdict({ srcIp: 'fd00:2:0:0::2', dstNode: 'web', dstIp: 'fd00:1::10', proto: 'tcp', port: 22 })
        .result,
    ).toBe('blocked');
    expect(
      v.verdict({ srcIp: 'fd00:2::2', dstNode: 'web', dstIp: 'fd00:1::10', proto: 'tcp', port: 80 }).result,
    ).toBe('pass');
    const mesh22 = planTargets(p).filter(
      (t) => t.key.includes('tcp6') && t.from === 'client' && t.to === 'web',
    );
    expect(mesh22.every((t) => t.expect === 'pass')).toBe(true);
  });
  it('IPv6 CIDRs match IPv6 flows only, IPv4 CIDRs IPv4 flows only', () => {
    const only6 = new PolicyVerdicts([
      {
        index: 0,
        action: 'deny',
        from: { ref: 'fd00:2::/64', cidrs: ['fd00:2::/64'] },
        to: { ref: 'fd00:1::/64', cidrs: ['fd00:1::/64'] },
        proto: 'icmp',
      },
    ]);
    expect(only6.verdict({ srcIp: 'fd00:2::2', dstIp: 'fd00:1::10', proto: 'icmp' }).result).toBe('blocked');
    expect(only6.verdict({ srcIp: 'fd00:2::2', dstIp: 'fd00:3::10', proto: 'icmp' }).result).toBe('pass');
    expect(only6.verdict({ srcIp: '10.0.2.10', dstIp: '10.0.1.10', proto: 'icmp' }).result).toBe('pass');
  });
});

describe('IPv6 evidence and verdicts', () => {
  const p = withV6(plan(withoutExpect(TWO_VPCS)), ['vpc-a', 'vpc-b']);
  const targets = planTargets(p);
  const rec = (subject: string, result: ProbeResult, more: Partial<ProbeRecord> = {}): ProbeRecord => {
    const t = targets.find((x) => newRecord(x).subject === subject)!;
    const r = newRecord(t);
    if (t.proto !== 'icmp') {
      r.port = DOCTOR_PORT;
      r.listener = { proto: t.proto, want: DOCTOR_PORT, port: DOCTOR_PORT };
    }
    r.attempts = 1;
    r.result = result;
    return Object.assign(r, more);
  };
  const env = (extra: Partial<DecideEnv> = {}): DecideEnv => ({
    plan: p,
    labFile: 'lab.yml',
    pids: new Map([
      ['web', 11],
      ['db', 12],
      ['client', 13],
    ]),
    counters: new Map(),
    ...extra,
  });

  it('ovn-trace microflows: ip6.src/dst, hop limit as ip.ttl, icmp6 echo request 128 and reply 129', () => {
    const icmp = traceFlows(rec('client→web icmp6', { outcome: 'timeout', ms: 1500 }));
    expect(icmp.fwd!.flow).toMatch(
      /^inport == "[^"]+" && eth.src == [0-9a-f:]+ && eth.dst == [0-9a-f:]+ && ip6.src == fd00:2::\d+ && ip6.dst == fd00:1::10 && ip.ttl == 64 && icmp6.type == 128 && icmp6.code == 0$/,
    );
    expect(icmp.rev!.flow).toMatch(/ip6.src == fd00:1::10 && ip6.dst == fd00:2::\d+ .*icmp6.type == 129/);
    const tcp = traceFlows(rec('client→web tcp6', { outcome: 'timeout', ms: 1500 }));
    expect(tcp.fwd!.flow).toMatch(
      /ip6.dst == fd00:1::10 && ip.ttl == 64 && tcp.src == 49152 && tcp.dst == 47000$/,
    );
    // IPv4 is unchanged
    expect(
      microflow({
        inport: 'x',
        ethSrc: 'a',
        ethDst: 'b',
        ipSrc: '10.0.2.2',
        ipDst: '10.0.1.10',
        proto: 'icmp',
      }),
    ).toBe(
      'inport == "x" && eth.src == a && eth.dst == b && ip4.src == 10.0.2.2 && ip4.dst == 10.0.1.10 && ip.ttl == 64 && icmp4.type == 8 && icmp4.code == 0',
    );
  });

  it('checksum-offload over IPv6: UDP reads Udp6InCsumErrors, TCP the shared TcpInCsumErrors', () => {
    const counters = new Map([
      [
        'web',
        {
          before: { Udp6InCsumErrors: 2, TcpInCsumErrors: 5 },
          after: { Udp6InCsumErrors: 9, TcpInCsumErrors: 8 },
        },
      ],
    ]);
    const icmp: ProbeResult = { outcome: 'pass', ms: 0.3 };
    const udp = decideChecksum(
      env({ counters }),
      rec('client→web udp6', { outcome: 'timeout', ms: 1500 }, { icmp }),
      {},
    );
    expect(udp).toMatchObject({
      cause: 'checksum-offload',
      data: { counter: 'Udp6InCsumErrors', receiverDelta: 7 },
    });
    expect(udp!.fix).toBe('nsenter -t 13 -n ethtool -K eth1 tx off');
    const tcp = decideChecksum(
      env({ counters }),
      rec('client→web tcp6', { outcome: 'timeout', ms: 1500 }, { icmp }),
      {},
    );
    expect(tcp).toMatchObject({ data: { counter: 'TcpInCsumErrors', receiverDelta: 3 } });
  });

  it('mtu-mismatch over IPv6: the probe that fills the MTU is MTU − 48 bytes', () => {
    const r = rec(
      'client→web icmp6',
      { outcome: 'pass', ms: 0.4 },
      { big: { outcome: 'timeout', ms: 1500 } },
    );
    expect(bigOverhead(r.target)).toBe(48);
    expect(bigOverhead({})).toBe(28);
    const v = decideMtu(env(), r, [1500, 1400]);
    expect(v).toMatchObject({ cause: 'mtu-mismatch', data: { bigSize: 1452 } });
    expect(v.evidence).toMatch(
      /^56-byte ping \(ICMPv6\) answered .* 1452-byte ping with don't-fragment no answer/,
    );
    expect(decideVerdict(env(), r, { mtus: [1500, 1400] }).cause).toBe('mtu-mismatch');
  });

  it('acl-drop over IPv6: ovn-trace of the IPv6 packet stops in the ACL stage, the ACL is named, acl-del fixes it', () => {
    const output = traceText('acl-drop');
    const run = { verdict: parseTrace(output, 'v6p-agent.b.eth1'), command: 'ovn-trace …', output };
    expect(run.verdict).toMatchObject({ verdict: 'drop', step: { stage: 'ls_out_acl', lflow: 'b84ea0d0' } });
    const acl: AclRef = {
      uuid: 'b84ea0d0-1111-2222-3333-444455556666',
      name: 'v6p-test',
      direction: 'to-lport',
      priority: 1001,
      match: 'outport == "v6p-agent.b.eth1" && ip6 && tcp.dst == 47000',
      action: 'drop',
      externalIds: {},
      owner: { kind: 'switch', name: 'v6p-agent.net' },
    };
    const r = rec(
      'client→web tcp6',
      { outcome: 'timeout', ms: 2500 },
      { icmp: { outcome: 'pass', ms: 0.3 } },
    );
    const v = decideVerdict(env(), r, {
      checksum: { offSrc: false, offDst: false },
      trace: { legs: [{ leg: 'request', run, outport: 'v6p-agent.b.eth1' }], acl },
    });
    expect(v).toMatchObject({ status: 'fail', cause: 'acl-drop', data: { trace: { stage: 'ls_out_acl' } } });
    expect(v.evidence).toContain('ACL b84ea0d0 "v6p-test" (to-lport priority 1001 drop: outport ==');
    expect(v.fix).toBe(
      'ovn-nbctl acl-del v6p-agent.net to-lport 1001 "outport == \\"v6p-agent.b.eth1\\" && ip6 && tcp.dst == 47000"',
    );
    // the same packet without the ACL is delivered: no cause from the trace
    const ok = traceText('delivered');
    expect(parseTrace(ok, 'v6p-agent.b.eth1').verdict).toBe('delivered');
  });

  it('a stateful switch: a trace whose egress ct_next was taken as established ends in ct_commit(blocked) — a drop there', () => {
    // captured before runTrace gave --ct once per ct_next: the egress ACL marks the connection blocked and stops
    const v = parseTrace(traceText('stateful-est-drop'), 'v6p-dual.web.eth1');
    expect(v).toMatchObject({
      verdict: 'drop',
      step: { stage: 'ls_out_acl', lflow: '47d516f4', pipeline: 'egress' },
    });
  });
});

describe('a compiled dual-stack lab (the lab file with subnet6 / ip6)', () => {
  const LAB = `name: v6p-unit
defaults:
  image: labctl/node
networks:
  vpc-a: { subnet: 10.0.1.0/24, subnet6: "fd00:a::/64" }
  v6only: { subnet6: "fd00:b::/64" }
routers:
  edge: { links: [vpc-a, v6only] }
nodes:
  web:
    interfaces:
      - { network: vpc-a, ip: 10.0.1.10, ip6: "fd00:a::10" }
  db:
    interfaces: [vpc-a]
  host6:
    interfaces: [v6only]
policies:
  - { deny: { from: host6, to: web, proto: icmp } }
expect:
  - { from: db, to: "fd00:a:0::10", proto: tcp, port: 80 }
  - { from: db, to: 10.0.1.10, proto: icmp }
  - { from: host6, to: db, proto: udp, port: 53 }
`;
  const p = plan(LAB);
  const all = planTargets(p);
  it('an expect entry naming an IPv6 address is probed over IPv6 only, its node found whatever the spelling', () => {
    const e0 = all.filter((t) => t.expectIndex === 0);
    expect(e0).toHaveLength(1);
    expect(e0[0]).toMatchObject({ key: 'expect:0:6', family: 6, toNode: 'web', answer: 'doctor' });
    expect(e0[0]!.skip).toBeUndefined();
    expect(newRecord(e0[0]!).subject).toBe('db→fd00:a::10 tcp6/80'); // the address as validation normalised it
    // an IPv4 address: IPv4 only
    expect(all.filter((t) => t.expectIndex === 1).map((t) => t.key)).toEqual(['expect:1']);
    // a node from an IPv6-only node: IPv6 only, routed through edge
    const e2 = all.filter((t) => t.expectIndex === 2);
    expect(e2.map((t) => [t.key, t.family, t.fwd?.routed])).toEqual([['expect:2:6', 6, true]]);
  });
  it("the mesh: host6 pairs over IPv6 only; the lab's policy blocks host6→web ICMPv6, nothing else", () => {
    const mesh = all.filter((t) => t.kind === 'mesh');
    const subjects = mesh.map((t) => newRecord(t).subject);
    expect(subjects.filter((x) => x.startsWith('host6→web'))).toEqual([
      'host6→web icmp6',
      'host6→web udp6',
      'host6→web tcp6',
    ]);
    expect(mesh.filter((t) => t.expect === 'blocked').map((t) => newRecord(t).subject)).toEqual([
      'host6→web icmp6',
    ]);
    // db→web icmp over IPv4 is left out of the mesh: expect[1] repeats it exactly
    expect(mesh.filter((t) => t.from === 'db' && t.to === 'web').map((t) => newRecord(t).subject)).toEqual([
      'db→web udp',
      'db→web tcp',
      'db→web icmp6',
      'db→web udp6',
      'db→web tcp6',
    ]);
  });
});

describe('policies over IPv6 as compiled (network and CIDR ends)', () => {
  const p = plan(`name: v6p-pol
defaults:
  image: labctl/node
networks:
  a: { subnet: 10.0.1.0/24, subnet6: "fd00:a::/64" }
  b: { subnet6: "fd00:b::/64" }
routers:
  r: { links: [a, b] }
nodes:
  x: { interfaces: [a] }
  z: { interfaces: [a] }
  y: { interfaces: [b] }
policies:
  - { deny: { from: b, to: x, proto: icmp } }
  - { deny: { from: "fd00:a::/64", to: y } }
`);
  it('the mesh expects exactly what the ip6 ACLs do: y→x ICMPv6, and everything from network a to y', () => {
    const blocked = planTargets(p)
      .filter((t) => t.expect === 'blocked')
      .map((t) => newRecord(t).subject)
      .sort();
    expect(blocked).toEqual([
      'x→y icmp6',
      'x→y tcp6',
      'x→y udp6',
      'y→x icmp6',
      'z→y icmp6',
      'z→y tcp6',
      'z→y udp6',
    ]);
    // IPv4 between x and z is untouched by IPv6 CIDRs
    expect(planTargets(p).filter((t) => t.family === undefined && t.expect === 'blocked')).toEqual([]);
  });
});
