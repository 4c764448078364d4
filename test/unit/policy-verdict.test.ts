/** Policy verdicts from the plan alone: first match wins, stateful (asked for the starting direction only). */
import { describe, expect, it } from 'vitest';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { type Flow, PolicyVerdicts, policyText, policyVerdict } from '../../src/plan/policy-verdict.js';
import type { Plan } from '../../src/plan/types.js';

function plan(text: string): Plan {
  const { lab, diagnostics } = checkLab(text, 'test.yml');
  if (!lab) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return compilePlan(lab);
}

const ipOf = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)!.interfaces[0]!.ip!;

/** The flow `from` starts towards `to` (first interface of each). */
function flow(p: Plan, from: string, to: string, proto: Flow['proto'], port?: number): Flow {
  return {
    srcIp: ipOf(p, from),
    dstNode: to,
    dstIp: ipOf(p, to),
    proto,
    ...(port !== undefined ? { port } : {}),
  };
}

const ISSUE = `name: pol
networks:
  inside: { subnet: 10.86.1.0/24 }
  ext: { subnet: 10.86.2.0/24 }
routers:
  edge: { links: [inside, ext] }
nodes:
  web: { interfaces: [inside] }
  db: { interfaces: [inside] }
  out: { interfaces: [ext] }
policies:
  - { deny: { from: ext, to: inside } }
  - { deny: { from: web, to: db, proto: icmp } }
`;

describe('policy verdicts', () => {
  it("the issue's lab: ext→inside blocked in every protocol, web→db only ICMP; the reverse directions pass", () => {
    const p = plan(ISSUE);
    const v = PolicyVerdicts.of(p);
    const table: string[] = [];
    for (const a of ['web', 'db', 'out'])
      for (const b of ['web', 'db', 'out']) {
        if (a === b) continue;
        for (const proto of ['icmp', 'udp', 'tcp'] as const) {
          const r = v.verdict(flow(p, a, b, proto, proto === 'icmp' ? undefined : 47000));
          table.push(`${a}>${b} ${proto} ${r.result}${r.policy ? ` p${r.policy.index}` : ''}`);
        }
      }
    expect(table).toEqual([
      'web>db icmp blocked p1',
      'web>db udp pass',
      'web>db tcp pass',
      'web>out icmp pass',
      'web>out udp pass',
      'web>out tcp pass',
      'db>web icmp pass',
      'db>web udp pass',
      'db>web tcp pass',
      'db>out icmp pass',
      'db>out udp pass',
      'db>out tcp pass',
      'out>web icmp blocked p0',
      'out>web udp blocked p0',
      'out>web tcp blocked p0',
      'out>db icmp blocked p0',
      'out>db udp blocked p0',
      'out>db tcp blocked p0',
    ]);
  });

  it('the first matching policy wins, whichever its action', () => {
    const base = `name: order
networks:
  n: { subnet: 10.1.0.0/24 }
nodes:
  a: { interfaces: [n] }
  b: { interfaces: [n] }
policies:
`;
    const allowFirst = plan(
      `${base}  - { allow: { from: a, to: b, proto: tcp, port: 80 } }\n  - { deny: { from: a, to: b } }\n`,
    );
    expect(policyVerdict(allowFirst, flow(allowFirst, 'a', 'b', 'tcp', 80))).toMatchObject({
      result: 'pass',
      policy: { index: 0, action: 'allow' },
    });
    expect(policyVerdict(allowFirst, flow(allowFirst, 'a', 'b', 'tcp', 81))).toMatchObject({
      result: 'blocked',
      policy: { index: 1 },
    });
    expect(policyVerdict(allowFirst, flow(allowFirst, 'a', 'b', 'icmp')).result).toBe('blocked');
    // b starts its own connections: no policy is about b → a
    expect(policyVerdict(allowFirst, flow(allowFirst, 'b', 'a', 'tcp', 80))).toEqual({ result: 'pass' });

    const denyFirst = plan(
      `${base}  - { deny: { from: a, to: b } }\n  - { allow: { from: a, to: b, proto: tcp, port: 80 } }\n`,
    );
    expect(policyVerdict(denyFirst, flow(denyFirst, 'a', 'b', 'tcp', 80))).toMatchObject({
      result: 'blocked',
      policy: { index: 0 },
    });
  });

  it('ports and protocols: a range matches its ends, ICMP never matches a port policy, any matches all', () => {
    const p = plan(`name: ports
networks:
  n: { subnet: 10.1.0.0/24 }
nodes:
  a: { interfaces: [n] }
  b: { interfaces: [n] }
  c: { interfaces: [n] }
policies:
  - { deny: { from: a, to: b, proto: udp, port: "8000-8080" } }
  - { deny: { from: c, to: b, proto: any } }
`);
    const v = PolicyVerdicts.of(p);
    expect(v.verdict(flow(p, 'a', 'b', 'udp', 8000)).result).toBe('blocked');
    expect(v.verdict(flow(p, 'a', 'b', 'udp', 8080)).result).toBe('blocked');
    expect(v.verdict(flow(p, 'a', 'b', 'udp', 8081)).result).toBe('pass');
    expect(v.verdict(flow(p, 'a', 'b', 'udp', 7999)).result).toBe('pass');
    expect(v.verdict(flow(p, 'a', 'b', 'tcp', 8000)).result).toBe('pass');
    expect(v.verdict(flow(p, 'a', 'b', 'icmp')).result).toBe('pass');
    for (const proto of ['icmp', 'udp', 'tcp'] as const)
      expect(v.verdict(flow(p, 'c', 'b', proto, proto === 'icmp' ? undefined : 1)).result).toBe('blocked');
    expect(policyText(p.policies![0]!)).toBe('{ deny: { from: a, to: b, proto: udp, port: "8000-8080" } }');
    expect(policyText(p.policies![1]!)).toBe('{ deny: { from: c, to: b } }');
  });

  it('groups, networks and CIDRs; a node stands for its public NAT address too', () => {
    const p = plan(`name: zones
networks:
  priv: { subnet: 10.20.0.0/24 }
  dmz: { subnet: 10.21.0.0/24 }
routers:
  gw:
    links: [priv, dmz]
    chassis: local
    nat:
      - { type: dnat_and_snat, external: 100.64.0.14, internal: h4 }
groups:
  high: [h1]
  low: [h4]
nodes:
  h1: { interfaces: [{ network: priv, ip: 10.20.0.11 }] }
  h4: { interfaces: [{ network: priv, ip: 10.20.0.14 }] }
  d: { interfaces: [{ network: dmz, ip: 10.21.0.5 }] }
policies:
  - { allow: { from: high, to: high } }
  - { deny: { from: low, to: high } }
  - { deny: { from: dmz, to: 10.20.0.0/25, proto: tcp } }
`);
    const v = PolicyVerdicts.of(p);
    expect(v.verdict(flow(p, 'h4', 'h1', 'tcp', 80))).toMatchObject({
      result: 'blocked',
      policy: { index: 1 },
    });
    // after SNAT the receiver sees h4's public address: still h4
    expect(v.verdict({ ...flow(p, 'h4', 'h1', 'udp', 53), srcIp: '100.64.0.14' }).result).toBe('blocked');
    expect(v.verdict(flow(p, 'h1', 'h4', 'tcp', 80)).result).toBe('pass');
    expect(v.verdict(flow(p, 'd', 'h1', 'tcp', 80))).toMatchObject({
      result: 'blocked',
      policy: { index: 2 },
    });
    expect(v.verdict(flow(p, 'd', 'h1', 'udp', 80)).result).toBe('pass');
    // a network `from` is matched by the address the receiver sees: a SNATed source is outside it
    expect(v.verdict({ ...flow(p, 'd', 'h1', 'tcp', 80), srcIp: '100.64.0.99' }).result).toBe('pass');
  });

  it('a lab without policies: everything passes, and plans saved before plan.policies existed too', () => {
    const p = plan(`name: none
networks:
  n: { subnet: 10.1.0.0/24 }
nodes:
  a: { interfaces: [n] }
  b: { interfaces: [n] }
`);
    expect(PolicyVerdicts.of(p).empty).toBe(true);
    expect(policyVerdict(p, flow(p, 'a', 'b', 'tcp', 1))).toEqual({ result: 'pass' });
    const old: Plan = { ...p };
    delete old.policies;
    expect(policyVerdict(old, flow(p, 'a', 'b', 'icmp'))).toEqual({ result: 'pass' });
  });

  it('a 400-policy, 30-node mesh: the indexed verdicts equal a plain first-match scan over every policy', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => `  n${i}: { interfaces: [net] }`);
    const policies = Array.from({ length: 400 }, (_, i) =>
      i % 37 === 5
        ? `  - { allow: { from: n${i % 30}, to: net } }`
        : `  - { deny: { from: n${i % 30}, to: n${(i * 7 + 1) % 30}, proto: ${i % 3 ? 'tcp' : 'udp'}, port: ${1000 + (i % 5)} } }`,
    );
    const p = plan(
      `name: big\nnetworks:\n  net: { subnet: 10.9.0.0/20 }\nnodes:\n${nodes.join('\n')}\npolicies:\n${policies.join('\n')}\n`,
    );
    const inCidr = (ip: string, cidr: string) => {
      const [base, len] = cidr.split('/');
      const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
      const span = 2 ** (32 - Number(len));
      return Math.floor(n(ip) / span) === Math.floor(n(base!) / span);
    };
    const scan = (f: Flow) => {
      for (const q of p.policies!) {
        if (!q.from.cidrs.some((c) => inCidr(f.srcIp, c))) continue;
        if (q.to.nodes ? !q.to.nodes.includes(f.dstNode!) : !q.to.cidrs.some((c) => inCidr(f.dstIp, c)))
          continue;
        if (q.proto !== 'any' && q.proto !== f.proto) continue;
        if (q.port && (f.port === undefined || f.port < q.port.min || f.port > q.port.max)) continue;
        return q.action === 'allow' ? 'pass' : 'blocked';
      }
      return 'pass';
    };
    const v = PolicyVerdicts.of(p);
    let blocked = 0;
    let allowed = 0;
    for (let a = 0; a < 30; a++)
      for (let b = 0; b < 30; b++) {
        if (a === b) continue;
        for (const proto of ['icmp', 'udp', 'tcp'] as const) {
          const f = flow(p, `n${a}`, `n${b}`, proto, proto === 'icmp' ? undefined : 1000 + ((a + b) % 5));
          const r = v.verdict(f);
          expect(r.result, `n${a}>n${b} ${proto}`).toBe(scan(f));
          if (r.result === 'blocked') blocked++;
          if (r.policy?.action === 'allow') allowed++;
        }
      }
    expect(blocked).toBeGreaterThan(0);
    expect(allowed).toBeGreaterThan(0);
  });
});
