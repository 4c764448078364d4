/**
 * IPv6 in the plan (docs/ipv6.md): dual-stack and IPv6-only networks compiled, sticky IPv6 allocations, ACLs per
 * family, NAT and load balancers of IPv6, and the address helpers (RFC 5952 everywhere).
 */
import { describe, expect, it } from 'vitest';
import { formatChange } from '../../src/apply/changes.js';
import { diffLab } from '../../src/apply/diff.js';
import { priorFromNb } from '../../src/apply/observe.js';
import { priorFromPlan } from '../../src/apply/running-plan.js';
import { contains6, ip6ToBig, normalize6, parseCidr6 } from '../../src/lab/ipv6.js';
import { parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { convergedObserved, nbOf } from '../helpers/observed.js';

const LAB = `
name: six
networks:
  dual: { subnet: 10.62.1.0/24, subnet6: "fd00:62:1::/64" }
  only6: { subnet6: "FD00:62:2:0::/64", ra: true }
routers:
  r1: { links: [dual, { network: only6, ip6: "fd00:62:2::fe" }] }
nodes:
  a: { interfaces: [{ network: dual, ip6: "fd00:62:1:0:0:0:0:10" }] }
  b: { interfaces: [dual] }
  c: { interfaces: [only6] }
policies:
  - deny: { from: c, to: a, proto: icmp }
  - deny: { from: "fd00:62:2::/64", to: b, proto: tcp, port: 22 }
  - allow: { from: dual, to: "fd00:62:2::5", proto: udp }
`;
const compile = (text: string, running?: Plan) =>
  compilePlan(parseLab(text), running ? { prior: priorFromPlan(running) } : {});
const iface = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)!.interfaces[0]!;

describe('IPv6 addresses', () => {
  it('normalises to RFC 5952 and does bigint arithmetic', () => {
    expect(normalize6('FD00:0:0:0:0:0:0:1')).toBe('fd00::1');
    expect(normalize6('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(normalize6('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1'); // the first of two equal runs
    expect(normalize6('fe80::1%eth0')).toBeUndefined();
    expect(normalize6('10.0.0.1')).toBeUndefined();
    const c = parseCidr6('fd00:a::5/64');
    expect(c).toMatchObject({ ok: true, hostBitsSet: true, cidr: { base: 'fd00:a::', prefix: 64 } });
    if (c.ok) {
      expect(contains6(c.cidr, ip6ToBig('fd00:a::ffff:1'))).toBe(true);
      expect(contains6(c.cidr, ip6ToBig('fd00:b::1'))).toBe(false);
    }
  });
});

describe('compile: dual-stack and IPv6-only networks', () => {
  const plan = compile(LAB);

  it('gives each interface the families of its network, allocated in file order, RFC 5952', () => {
    expect(iface(plan, 'a')).toMatchObject({
      ip: '10.62.1.2',
      prefix: 24,
      ip6: 'fd00:62:1::10',
      prefix6: 64,
    });
    expect(iface(plan, 'a').allocated6).toBeUndefined();
    expect(iface(plan, 'b')).toMatchObject({
      ip: '10.62.1.3',
      ip6: 'fd00:62:1::2',
      allocated6: 'fd00:62:1::2',
    });
    const c = iface(plan, 'c');
    expect(c.ip).toBeUndefined();
    expect(c.prefix).toBeUndefined();
    expect(c).toMatchObject({ ip6: 'fd00:62:2::1', gateway6: 'fd00:62:2::fe', ra: true });
    expect(iface(plan, 'a')).toMatchObject({ gateway: '10.62.1.1', gateway6: 'fd00:62:1::1' });
    expect(iface(plan, 'a').ra).toBeUndefined();
  });

  it('switches, LSP addresses of both families, router ports of both families, RA only where asked', () => {
    const sw = (n: string) => plan.switches.find((s) => s.network === n)!;
    expect(sw('dual')).toMatchObject({ subnet: '10.62.1.0/24', subnet6: 'fd00:62:1::/64' });
    expect(sw('only6').subnet).toBeUndefined();
    expect(sw('only6')).toMatchObject({ subnet6: 'fd00:62:2::/64', ra: true });
    const a = iface(plan, 'a');
    expect(sw('dual').ports.find((p) => p.node === 'a')!.addresses).toBe(`${a.mac} 10.62.1.2 fd00:62:1::10`);
    expect(sw('only6').ports.find((p) => p.node === 'c')!.addresses).toBe(
      `${iface(plan, 'c').mac} fd00:62:2::1`,
    );
    expect(sw('dual').ports.find((p) => p.node === 'b')!.externalIds['labctl-alloc6']).toBe('fd00:62:1::2');
    const ports = plan.routers[0]!.ports;
    expect(ports.map((p) => p.networks)).toEqual([['10.62.1.1/24', 'fd00:62:1::1/64'], ['fd00:62:2::fe/64']]);
    expect(ports.map((p) => p.ra)).toEqual([undefined, true]);
  });

  it('routes: an IPv6 default via the router, family 6, beside the IPv4 one', () => {
    expect(plan.nodes.find((n) => n.name === 'a')!.routes).toEqual([
      { dst: 'default', via: '10.62.1.1', dev: 'eth1' },
      { dst: 'default', family: 6, via: 'fd00:62:1::1', dev: 'eth1' },
    ]);
    expect(plan.nodes.find((n) => n.name === 'c')!.routes).toEqual([
      { dst: 'default', family: 6, via: 'fd00:62:2::fe', dev: 'eth1' },
    ]);
  });

  it('ACLs: a node end covers both families; icmp is icmp4 and icmp6; a CIDR end only its own family', () => {
    const m = (i: number) => plan.acls.filter((x) => x.name === `six-p${i}`).map((x) => x.match);
    // c has IPv6 only: one ACL, on a's port
    expect(m(0)).toEqual([`outport == "six.a.eth1" && ip6.src == fd00:62:2::1 && icmp6`]);
    expect(m(1)).toEqual([`outport == "six.b.eth1" && ip6.src == fd00:62:2::/64 && tcp.dst == 22`]);
    // network dual (both families) → an IPv6 address: only the IPv6 twin, on the destination's switch
    expect(m(2)).toEqual([`ip6.dst == fd00:62:2::5 && ip6.src == fd00:62:1::/64 && udp`]);
    expect(plan.acls.find((x) => x.name === 'six-stateful')!.match).toBe('ip');
    expect(plan.policies![1]!.from.cidrs).toEqual(['fd00:62:2::/64']);
    expect(plan.policies![0]!.from.cidrs).toEqual(['fd00:62:2::1/128']);
  });

  it('a node on a dual-stack network has both families in one icmp policy', () => {
    const p = compile(
      LAB.replace('deny: { from: c, to: a, proto: icmp }', 'deny: { from: b, to: a, proto: icmp }'),
    );
    expect(p.acls.filter((x) => x.name === 'six-p0').map((x) => x.match)).toEqual([
      `outport == "six.a.eth1" && ip4.src == 10.62.1.3 && icmp4`,
      `outport == "six.a.eth1" && ip6.src == fd00:62:1::2 && icmp6`,
    ]);
  });

  it('an IPv4-only lab compiles exactly as before (stateful catch-all ip4, no IPv6 fields)', () => {
    const v4 = compile(
      'name: v4\nnetworks:\n  n: { subnet: 10.63.0.0/24 }\nnodes:\n  x: { interfaces: [n] }\n',
    );
    expect(JSON.stringify(v4)).not.toMatch(/ip6|subnet6|family/);
  });
});

describe('compile: IPv6 NAT and load balancers', () => {
  const NAT = `
name: nat6
networks:
  lan: { subnet: 10.64.1.0/24, subnet6: "fd00:64:1::/64" }
routers:
  gw: { links: [lan], chassis: local, nat: [
    { type: dnat_and_snat, external: "2001:DB8::10", internal: web },
    { type: snat, external: "2001:db8::1", internal: lan },
    { type: dnat_and_snat, external: 100.64.0.10, internal: web } ] }
load_balancers:
  v6: { vip: "2001:db8::80", port: 80, backends: [web, "fd00:64:1::99"], attach: [gw] }
nodes:
  web: { interfaces: [lan] }
`;
  const plan = compile(NAT);
  it('NAT rows take the address of the external family', () => {
    expect(plan.routers[0]!.nat).toEqual([
      { type: 'dnat_and_snat', external: '2001:db8::10', logical: 'fd00:64:1::2', node: 'web' },
      { type: 'snat', external: '2001:db8::1', logical: 'fd00:64:1::/64' },
      { type: 'dnat_and_snat', external: '100.64.0.10', logical: '10.64.1.2', node: 'web' },
    ]);
  });
  it('an IPv6 VIP is bracketed with its port, backends use their IPv6 address', () => {
    expect(plan.loadBalancers[0]).toMatchObject({
      vip: '[2001:db8::80]:80',
      vipIp: '2001:db8::80',
      backends: [
        { node: 'web', ip: 'fd00:64:1::2', port: 80 },
        { ip: 'fd00:64:1::99', port: 80 },
      ],
    });
  });
});

describe('sticky IPv6 allocations', () => {
  const base = compile(LAB);
  it('a node added mid-file renumbers nobody, in either family', () => {
    const grown = LAB.replace(
      '  b: { interfaces: [dual] }',
      '  new: { interfaces: [dual, only6] }\n  b: { interfaces: [dual] }',
    );
    const next = compile(grown, base);
    for (const n of ['a', 'b', 'c']) {
      expect(iface(next, n).ip, n).toBe(iface(base, n).ip);
      expect(iface(next, n).ip6, n).toBe(iface(base, n).ip6);
    }
    const fresh = next.nodes.find((n) => n.name === 'new')!.interfaces;
    expect(fresh.map((i) => i.ip6)).toEqual(['fd00:62:1::3', 'fd00:62:2::2']);
    // without the prior, the file order would have given b's address to the new node
    expect(iface(compile(grown), 'new').ip6).toBe('fd00:62:1::2');
  });

  it('the IPv6 allocation is read back from the NB port (labctl-alloc6) as the prior', () => {
    const prior = priorFromNb(nbOf(base));
    expect(prior.get('b.eth1')).toEqual({ network: 'dual', ip: '10.62.1.3', ip6: 'fd00:62:1::2' });
    expect(prior.get('c.eth1')).toEqual({ network: 'only6', ip6: 'fd00:62:2::1' });
  });

  it('an explicit ip6 that takes an allocated address wins; the loser is allocated anew', () => {
    const next = compile(
      LAB.replace(
        '  b: { interfaces: [dual] }',
        '  b: { interfaces: [dual] }\n  z: { interfaces: [{ network: dual, ip6: "fd00:62:1::2" }] }',
      ),
      base,
    );
    expect(iface(next, 'z').ip6).toBe('fd00:62:1::2');
    expect(iface(next, 'b').ip6).not.toBe('fd00:62:1::2');
    expect(iface(next, 'b').ip).toBe(iface(base, 'b').ip);
  });
});

describe('diff: IPv6 converges as a pure diff', () => {
  const base = compile(LAB);
  const lines = (p: Plan, o = convergedObserved(base)) => diffLab(p, o).changes.map((c) => formatChange(c));

  it('a converged dual-stack lab has no changes (the link-local address is never compared)', () => {
    expect(lines(base)).toEqual([]);
  });

  it('a changed ip6: the NB port and the IPv6 address only, old deleted, new added without DAD; routes re-added', () => {
    const next = compile(LAB.replace('ip6: "fd00:62:1:0:0:0:0:10"', 'ip6: "fd00:62:1::20"'), base);
    const set = diffLab(next, convergedObserved(base));
    const links = set.changes.filter((c) => c.kind === 'link-set');
    expect(links.map((c) => (c as { lines: string[] }).lines)).toEqual([
      ['addr del fd00:62:1::10/64 dev eth1', 'addr add fd00:62:1::20/64 dev eth1 nodad'],
      ['route replace default via 10.62.1.1 dev eth1'],
      ['route replace default via fd00:62:1::1 dev eth1'],
    ]);
    expect(set.changes.some((c) => c.kind === 'container')).toBe(false);
    expect(set.changes.find((c) => c.kind === 'nb')!.summary).toBe(
      'readdress port six.a.eth1: fd00:62:1::10 → fd00:62:1::20',
    );
  });

  it('IPv6 switched on for an interface that had none: the sysctls come with the address', () => {
    const obs = convergedObserved(base);
    const link = obs.hosts.local!.nodes.c!.ns.links.find((l) => l.name === 'eth1')!;
    link.addrs6 = [];
    link.v6 = false;
    const set = diffLab(base, obs);
    const c = set.changes.find((x) => x.kind === 'link-set' && x.node === 'c') as {
      lines: string[];
      sysctls?: Record<string, string>;
    };
    expect(c.lines).toEqual(['addr add fd00:62:2::1/64 dev eth1 nodad']);
    expect(c.sysctls).toEqual({
      'net.ipv6.conf.eth1.accept_ra': '1', // only6 has ra: true
      'net.ipv6.conf.eth1.autoconf': '0',
      'net.ipv6.conf.eth1.accept_dad': '0',
      'net.ipv6.conf.eth1.dad_transmits': '0',
      'net.ipv6.conf.eth1.disable_ipv6': '0',
    });
  });

  it('RA configs follow ra: both ways', () => {
    const off = compile(LAB.replace(', ra: true', ''), base);
    expect(lines(off)).toContain('~ stop router advertisements on six.r1.only6.lrp');
  });
});
