/**
 * dhcp: and dns: (docs/dhcp-dns.md), the pure parts: validation (located errors), compile (DHCP options, service
 * addresses, records, resolvers, ip: dhcp allocation), the NB diff of DHCP_Options and DNS rows (which phase each
 * record change lands in), the dhcp-lease changes, down, and the parsers of udhcpc's and nslookup's output.
 */
import { describe, expect, it } from 'vitest';
import type { Change, ChangeSet, NbChange } from '../../src/apply/changes.js';
import { diffLab } from '../../src/apply/diff.js';
import { linkActions } from '../../src/apply/execute.js';
import { nsApplyLines } from '../../src/apply/node-links.js';
import { priorFromNb } from '../../src/apply/observe.js';
import { removeNb } from '../../src/apply/ovn-diff.js';
import { configHash } from '../../src/drivers/containers.js';
import { parseDhclient6, parseUdhcpc } from '../../src/drivers/dhcp-client.js';
import { parseNslookup } from '../../src/drivers/dns-client.js';
import { type Diagnostic, LabValidationError, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { convergedObserved } from '../helpers/observed.js';

const LAB = `
name: dd
networks:
  vpc: { subnet: 10.9.1.0/24, dhcp: true }
  flat: { subnet: 10.9.2.0/24, dhcp: true }
routers:
  gw:
    links: [vpc]
    chassis: local
    nat:
      - { type: dnat_and_snat, external: 100.64.9.10, internal: web }
dns: true
nodes:
  web: { interfaces: [{ network: vpc, ip: 10.9.1.10 }] }
  client: { interfaces: [{ network: vpc, ip: dhcp }] }
  f1: { interfaces: [{ network: flat, ip: dhcp }] }
  f2: { interfaces: [flat] }
`;

function diagnostics(text: string): Diagnostic[] {
  try {
    parseLab(text, 'lab.yml');
  } catch (err) {
    if (err instanceof LabValidationError) return err.diagnostics;
    throw err;
  }
  return [];
}

const planOf = (text: string, prior?: Plan) =>
  compilePlan(parseLab(text), prior ? { prior: priorFromNb(convergedObserved(prior).nb) } : {});
const nbChanges = (s: ChangeSet) => s.changes.filter((c): c is NbChange => c.kind === 'nb');
const ofKind = <K extends Change['kind']>(s: ChangeSet, kind: K) =>
  s.changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
const iface = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)!.interfaces[0]!;

describe('validation', () => {
  it('ip: dhcp on a network without dhcp: true is a located error with the fix', () => {
    const d = diagnostics(
      LAB.replace('flat: { subnet: 10.9.2.0/24, dhcp: true }', 'flat: { subnet: 10.9.2.0/24 }'),
    );
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      line: 16,
      path: 'nodes.f1.interfaces[0].ip',
      message: 'node f1 asks for DHCP on flat, which has no DHCP server',
    });
    expect(d[0]!.hint).toContain('networks.flat.dhcp: true');
  });

  it("a routerless network's service address is reserved: a node claiming it is told who holds it", () => {
    const d = diagnostics(
      LAB.replace('f2: { interfaces: [flat] }', 'f2: { interfaces: [{ network: flat, ip: 10.9.2.254 }] }'),
    );
    expect(d).toHaveLength(1);
    expect(d[0]!.path).toBe('nodes.f2.interfaces[0].ip');
    expect(d[0]!.message).toContain('DHCP/DNS service address of flat');
  });

  it('dns: and dhcp: must be booleans (schema), located', () => {
    const d = diagnostics(LAB.replace('dns: true', 'dns: yes-please'));
    expect(d[0]).toMatchObject({ line: 12, path: 'dns' });
  });

  it('the lab is valid as written', () => {
    expect(diagnostics(LAB)).toEqual([]);
  });
});

describe('compile', () => {
  const plan = planOf(LAB);
  const sw = (net: string) => plan.switches.find((s) => s.network === net)!;

  it('a routed network: DHCP server, router and DNS server are the router port (address and MAC)', () => {
    const port = plan.routers[0]!.ports[0]!;
    expect(sw('vpc').dhcp).toEqual({
      cidr: '10.9.1.0/24',
      options: {
        server_id: '10.9.1.1',
        server_mac: port.mac,
        lease_time: '31536000',
        mtu: '1500',
        router: '10.9.1.1',
        dns_server: '10.9.1.1',
      },
      externalIds: { 'labctl-lab': 'dd', 'labctl-network': 'vpc' },
    });
    expect(iface(plan, 'client').neighbour).toBeUndefined();
  });

  it('a routerless network: the last host address, no router option, a permanent neighbour entry in each node', () => {
    const o = sw('flat').dhcp!.options;
    expect(o.server_id).toBe('10.9.2.254');
    expect(o.router).toBeUndefined();
    expect(o.dns_server).toBe('10.9.2.254');
    expect(iface(plan, 'f2').neighbour).toEqual({ ip: '10.9.2.254', mac: o.server_mac });
    expect(
      nsApplyLines({ plumb: [iface(plan, 'f1')], deleteHost: [], nsLines: [], hostUp: [], summary: [] }),
    ).toEqual([
      'link set dev lo up',
      'link set dev eth1 up',
      `neigh replace 10.9.2.254 lladdr ${o.server_mac} dev eth1 nud permanent`,
    ]);
  });

  it('ip: dhcp is allocated like an interface without ip (and marked), and keeps its address (sticky)', () => {
    expect(iface(plan, 'client')).toMatchObject({ ip: '10.9.1.2', dhcp: true, allocated: '10.9.1.2' });
    expect(iface(plan, 'f1')).toMatchObject({ ip: '10.9.2.1', dhcp: true });
    const inserted = planOf(LAB.replace('  client:', '  c0: { interfaces: [vpc] }\n  client:'), plan);
    expect(iface(inserted, 'client').ip).toBe('10.9.1.2');
    expect(iface(inserted, 'c0').ip).toBe('10.9.1.3');
  });

  it('records for <node>, <node>.<lab> and <node>.public.<lab>; every node resolves through its network', () => {
    expect(plan.dns!.records).toEqual({
      web: '10.9.1.10',
      'web.dd': '10.9.1.10',
      client: '10.9.1.2',
      'client.dd': '10.9.1.2',
      f1: '10.9.2.1',
      'f1.dd': '10.9.2.1',
      f2: '10.9.2.2',
      'f2.dd': '10.9.2.2',
      'web.public.dd': '100.64.9.10',
    });
    expect(plan.nodes.find((n) => n.name === 'f1')!.resolver).toEqual({
      nameservers: ['10.9.2.254'],
      search: ['dd'],
      options: ['no-aaaa', 'timeout:1', 'attempts:2'],
    });
    expect(plan.nodes.find((n) => n.name === 'web')!.resolver).toMatchObject({
      nameservers: ['10.9.1.1'],
      search: ['dd'],
    });
  });

  it('a lab without dhcp/dns has none of it, and its containers keep their config hash', () => {
    const plain = planOf(
      LAB.replace('dns: true\n', '')
        .replaceAll(', dhcp: true', '')
        .replaceAll('ip: dhcp', 'ip: 10.9.1.3')
        .replace('{ network: flat, ip: 10.9.1.3 }', 'flat'),
    );
    expect(plain.dns).toBeUndefined();
    expect(plain.switches.every((s) => !s.dhcp && !s.service)).toBe(true);
    const node = plain.nodes[0]!;
    expect(configHash(node)).toBe(configHash({ ...node }));
    expect(configHash({ ...node, resolver: { nameservers: ['10.9.1.1'], search: ['dd'] } })).not.toBe(
      configHash(node),
    );
  });
});

describe('load balancer names', () => {
  const LB = `${LAB}load_balancers:\n  svc: { vip: 10.9.8.100, backends: [web] }\n`;

  it('<lb> and <lb>.<lab> stand for the VIP; a VIP that moves changes them with the load balancer (late)', () => {
    const base = planOf(LB);
    expect(base.dns!.records['svc.dd']).toBe('10.9.8.100');
    expect(base.dns!.records.svc).toBe('10.9.8.100');
    const moved = planOf(LB.replace('10.9.8.100', '10.9.8.101'), base);
    const dns = nbChanges(diffLab(moved, convergedObserved(base))).filter((c) => c.summary.startsWith('DNS'));
    expect(dns.map((c) => [c.phase, c.summary])).toEqual([
      ['late', 'DNS svc → 10.9.8.101 (was 10.9.8.100)'],
      ['late', 'DNS svc.dd → 10.9.8.101 (was 10.9.8.100)'],
    ]);
  });

  it('a load balancer named like a node is a located error (with dns: only)', () => {
    const clash = `${LAB}load_balancers:\n  web: { vip: 10.9.8.100, backends: [f2] }\n`;
    const d = diagnostics(clash);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ path: 'load_balancers.web', line: 19 });
    expect(d[0]!.message).toContain('would both be the name web.dd');
    expect(diagnostics(clash.replace('dns: true\n', ''))).toEqual([]);
  });
});

describe('diff', () => {
  const base = planOf(LAB);

  it('a lab that runs as planned: no change (DHCP options, port links and DNS rows included)', () => {
    expect(diffLab(base, convergedObserved(base)).changes).toEqual([]);
  });

  it('a new lab: DHCP options created before the ports that link to them, DNS row attached to every switch', () => {
    const nb = {
      ...convergedObserved(base).nb,
      switches: [],
      ports: [],
      routers: [],
      routerPorts: [],
      acls: [],
      routes: [],
      nat: [],
      loadBalancers: [],
      dhcpOptions: [],
      dns: [],
    };
    const set = diffLab(base, { ...convergedObserved(base), nb });
    const cmds = nbChanges(set)
      .filter((c) => c.phase !== 'late')
      .flatMap((c) => c.commands);
    const created = cmds.findIndex((c) => c.includes('DHCP_Options') && c[0]!.startsWith('--id=@dhcp'));
    const linked = cmds.findIndex(
      (c) => c[0] === 'set' && c[2] === 'dd.client.eth1' && c[3]?.startsWith('dhcpv4_options=@dhcp'),
    );
    expect(created).toBeGreaterThanOrEqual(0);
    expect(linked).toBeGreaterThan(created);
    // web's port asks for no DHCP
    expect(cmds.some((c) => c[2] === 'dd.web.eth1' && c[3]?.startsWith('dhcpv4_options'))).toBe(false);
    const dns = cmds.findIndex((c) => c.includes('DNS') && c[0]!.startsWith('--id=@dns'));
    expect(cmds[dns]).toContain('records:"web.public.dd"="100.64.9.10"');
    const attach = cmds.filter((c) => c[0] === 'add' && c[3] === 'dns_records').map((c) => c[2]);
    expect(attach.sort()).toEqual(['dd.flat', 'dd.vpc']);
    // after the switches exist
    expect(cmds.findIndex((c) => c[0] === 'add' && c[3] === 'dns_records')).toBeGreaterThan(
      cmds.findIndex((c) => c[1] === 'ls-add'),
    );
  });

  it('a readdress: the names change in the same (structure) transaction as the port', () => {
    const moved = planOf(LAB.replace('ip: 10.9.1.10', 'ip: 10.9.1.50'), base);
    const set = diffLab(moved, convergedObserved(base));
    const structure = nbChanges(set)
      .filter((c) => c.phase === 'structure')
      .map((c) => c.summary);
    expect(structure).toEqual([
      'readdress port dd.web.eth1: 10.9.1.10 → 10.9.1.50',
      'DNS web → 10.9.1.50 (was 10.9.1.10)',
      'DNS web.dd → 10.9.1.50 (was 10.9.1.10)',
    ]);
    // the NAT rule follows web too: its change and nothing of the public name (unchanged)
    expect(
      nbChanges(set)
        .filter((c) => c.phase === 'late')
        .map((c) => c.summary)
        .join('\n'),
    ).not.toContain('DNS');
  });

  it('a NAT rotation: the public name changes in the late transaction, with the NAT rule', () => {
    const rotated = planOf(LAB.replace('100.64.9.10', '100.64.9.20'), base);
    const late = nbChanges(diffLab(rotated, convergedObserved(base))).filter((c) => c.phase === 'late');
    expect(late.map((c) => c.summary)).toEqual([
      'remove NAT dnat_and_snat 100.64.9.10 ↔ 10.9.1.10 on dd.gw',
      'add NAT dnat_and_snat 100.64.9.20 ↔ 10.9.1.10 on dd.gw',
      'DNS web.public.dd → 100.64.9.20 (was 100.64.9.10)',
    ]);
  });

  it('a new node: its names come once its port is bound (late)', () => {
    const more = planOf(
      LAB.replace(
        '  f2: { interfaces: [flat] }',
        '  f2: { interfaces: [flat] }\n  f3: { interfaces: [flat] }',
      ),
      base,
    );
    const dns = nbChanges(diffLab(more, convergedObserved(base))).filter((c) => c.summary.startsWith('DNS'));
    expect(dns.map((c) => [c.phase, c.op, c.summary])).toEqual([
      ['late', '+', 'DNS f3 → 10.9.2.3'],
      ['late', '+', 'DNS f3.dd → 10.9.2.3'],
    ]);
  });

  it('a removed node: its names go; dns turned off: the row is detached and destroyed', () => {
    const fewer = planOf(LAB.replace('  f2: { interfaces: [flat] }\n', ''), base);
    const s1 = nbChanges(diffLab(fewer, convergedObserved(base))).filter((c) => c.summary.startsWith('DNS'));
    expect(s1.map((c) => [c.phase, c.summary])).toEqual([
      ['structure', 'DNS f2 (was 10.9.2.2)'],
      ['structure', 'DNS f2.dd (was 10.9.2.2)'],
    ]);
    expect(s1[0]!.commands).toEqual([['remove', 'DNS', 'dns-dd', 'records', '"f2"']]);
    const off = planOf(LAB.replace('dns: true\n', ''), base);
    const drop = nbChanges(diffLab(off, convergedObserved(base))).find((c) =>
      c.summary.startsWith('remove DNS'),
    )!;
    expect(drop.phase).toBe('late');
    expect(drop.commands).toEqual([
      ['remove', 'Logical_Switch', 'dd.vpc', 'dns_records', 'dns-dd'],
      ['remove', 'Logical_Switch', 'dd.flat', 'dns_records', 'dns-dd'],
      ['--if-exists', 'destroy', 'DNS', 'dns-dd'],
    ]);
  });

  it('an ip: dhcp interface holding another address gets a dhcp-lease change, not a static readdress', () => {
    const obs = convergedObserved(base);
    obs.hosts.local!.nodes.client!.ns.links[1]!.addrs = ['10.9.1.77/24'];
    const set = diffLab(base, obs);
    expect(ofKind(set, 'link-set').filter((c) => c.node === 'client')).toEqual([]);
    expect(ofKind(set, 'dhcp-lease').map((c) => [c.node, c.iface, c.ip, c.summary])).toEqual([
      ['client', 'eth1', '10.9.1.2', 'DHCP client.eth1: lease 10.9.1.2/24 from OVN (has 10.9.1.77/24)'],
    ]);
  });

  it('a new container: each ip: dhcp link gets a lease, and its routes wait for it', () => {
    const obs = convergedObserved(base);
    obs.hosts.local!.containers = obs.hosts.local!.containers.filter((c) => c.node !== 'client');
    delete obs.hosts.local!.nodes.client;
    const set = diffLab(base, obs);
    expect(ofKind(set, 'dhcp-lease').map((c) => c.node)).toEqual(['client']);
    const client = base.nodes.find((n) => n.name === 'client')!;
    const actions = linkActions(
      client,
      set.changes.filter((c) => 'node' in c && c.node === 'client'),
    );
    expect(nsApplyLines(actions)).toEqual(['link set dev lo up', 'link set dev eth1 up']);
  });

  it('down destroys the DHCP options and the DNS row', () => {
    const cmds = removeNb(convergedObserved(base).nb);
    expect(cmds).toContainEqual(['--if-exists', 'destroy', 'DHCP_Options', 'dhcp-vpc']);
    expect(cmds).toContainEqual(['--if-exists', 'destroy', 'DHCP_Options', 'dhcp-flat']);
    expect(cmds).toContainEqual(['--if-exists', 'destroy', 'DNS', 'dns-dd']);
  });
});

describe('IPv6: stateful DHCPv6 and AAAA', () => {
  const LAB6 = `
name: d6
networks:
  vpc: { subnet: 10.9.1.0/24, subnet6: "fd00:9:1::/64", dhcp: true }
  six: { subnet6: "fd00:9:6::/64", dhcp: true }
  plain: { subnet6: "fd00:9:7::/64" }
routers:
  gw: { links: [vpc, six] }
dns: true
nodes:
  web: { interfaces: [{ network: vpc, ip: 10.9.1.10, ip6: "fd00:9:1::10" }] }
  client: { interfaces: [{ network: vpc, ip: dhcp, ip6: dhcp }] }
  v6: { interfaces: [{ network: six, ip6: dhcp }] }
`;
  const plan = planOf(LAB6);

  it('ip6: dhcp needs dhcp: true and a subnet6; ip: dhcp needs an IPv4 subnet (located errors)', () => {
    const bad = `${LAB6}  p: { interfaces: [{ network: plain, ip6: dhcp }] }\n  q: { interfaces: [{ network: six, ip: dhcp }] }\n`;
    const d = diagnostics(bad);
    expect(d.map((x) => [x.path, x.message])).toEqual([
      ['nodes.p.interfaces[0].ip6', 'node p asks for DHCPv6 on plain, which has no DHCP server'],
      [
        'nodes.q.interfaces[0].ip',
        'six is IPv6-only (no subnet:), so ip: dhcp (DHCPv4) has nothing to lease',
      ],
    ]);
  });

  it('DHCPv6 options per network: server_id the service MAC, dns_server the router IPv6 address', () => {
    const vpc = plan.switches.find((s) => s.network === 'vpc')!;
    const six = plan.switches.find((s) => s.network === 'six')!;
    const mac = plan.routers[0]!.ports.find((p) => p.network === 'six')!.mac;
    expect(six.dhcp).toBeUndefined();
    expect(six.dhcp6).toEqual({
      cidr: 'fd00:9:6::/64',
      options: { server_id: mac, dns_server: 'fd00:9:6::1' },
      externalIds: { 'labctl-lab': 'd6', 'labctl-network': 'six' },
    });
    expect(vpc.dhcp?.cidr).toBe('10.9.1.0/24');
    expect(vpc.dhcp6?.cidr).toBe('fd00:9:1::/64');
    expect(iface(plan, 'client')).toMatchObject({ dhcp: true, dhcp6: true, ip6: 'fd00:9:1::2' });
  });

  it('records carry both families; an IPv6-only node resolves via the router IPv6 address, AAAA asked', () => {
    expect(plan.dns!.records['web.d6']).toBe('10.9.1.10 fd00:9:1::10');
    expect(plan.dns!.records.v6).toBe('fd00:9:6::2');
    expect(plan.nodes.find((n) => n.name === 'v6')!.resolver).toEqual({
      nameservers: ['fd00:9:6::1'],
      search: ['d6'],
      options: ['timeout:1', 'attempts:2'],
    });
  });

  it('diff: each port links to the options of its family; a new link leases v6 after v4, IPv6 routes wait', () => {
    expect(diffLab(plan, convergedObserved(plan)).changes).toEqual([]);
    const nb = { ...convergedObserved(plan).nb, ports: [], dhcpOptions: [] };
    const cmds = nbChanges(diffLab(plan, { ...convergedObserved(plan), nb })).flatMap((c) => c.commands);
    const sets = cmds.filter(
      (c) => c[0] === 'set' && c[2] === 'd6.client.eth1' && /^dhcpv[46]_options/.test(c[3] ?? ''),
    );
    expect(sets.map((c) => c[3]!.split('=')[0])).toEqual(['dhcpv4_options', 'dhcpv6_options']);
    const obs = convergedObserved(plan);
    obs.hosts.local!.containers = obs.hosts.local!.containers.filter((c) => c.node !== 'client');
    delete obs.hosts.local!.nodes.client;
    const set = diffLab(plan, obs);
    expect(ofKind(set, 'dhcp-lease').map((c) => [c.iface, c.family ?? 4, c.ip])).toEqual([
      ['eth1', 4, '10.9.1.2'],
      ['eth1', 6, 'fd00:9:1::2'],
    ]);
    const client = plan.nodes.find((n) => n.name === 'client')!;
    const lines = nsApplyLines(
      linkActions(
        client,
        set.changes.filter((c) => 'node' in c && c.node === 'client'),
      ),
    );
    expect(lines.filter((l) => l.startsWith('addr ') || l.startsWith('route '))).toEqual([]);
  });

  it('dhclient -6 output: the bound IAADDR, or what it saw', () => {
    expect(
      parseDhclient6(
        'RCV: Reply message on eth1 from fe80::800:ff:fe00:7902.\nRCV:  | | X-- IAADDR fd00:79:2::2\nPRC: Bound to lease 00:03:00:01:0a:00:00:00:79:02.\n',
      ),
    ).toEqual({ ip: 'fd00:79:2::2', seen: 'lease of fd00:79:2::2 bound' });
    expect(
      parseDhclient6('XMT: Solicit on eth1, interval 1030ms.\nPRC: No leases found.\n').ip,
    ).toBeUndefined();
  });
});

describe('client output', () => {
  it('udhcpc: the acknowledged lease, or what it saw', () => {
    expect(
      parseUdhcpc(
        'udhcpc: started, v1.35.0\nudhcpc: broadcasting discover\nudhcpc: broadcasting select for 10.9.1.2, server 10.9.1.1\nudhcpc: lease of 10.9.1.2 obtained from 10.9.1.1, lease time 31536000\n',
      ),
    ).toEqual({ ip: '10.9.1.2', seen: 'lease of 10.9.1.2 obtained' });
    expect(
      parseUdhcpc('udhcpc: started, v1.35.0\nudhcpc: broadcasting discover\nudhcpc: no lease, failing\n'),
    ).toEqual({
      seen: 'udhcpc: broadcasting discover; udhcpc: no lease, failing',
    });
  });

  it('nslookup: the answer addresses (not the server), or why none', () => {
    expect(
      parseNslookup(
        'Server:\t\t10.9.1.1\nAddress:\t10.9.1.1:53\n\nNon-authoritative answer:\nName:\tweb.dd\nAddress: 10.9.1.10\nName:\tweb.dd\nAddress: 10.9.2.10\n',
      ),
    ).toEqual({ addresses: ['10.9.1.10', '10.9.2.10'], seen: '10.9.1.10 10.9.2.10' });
    expect(
      parseNslookup("Server:\t\t10.9.1.1\nAddress:\t10.9.1.1:53\n\n** server can't find nope.dd: NXDOMAIN\n"),
    ).toEqual({
      addresses: [],
      seen: "can't find nope.dd: NXDOMAIN",
    });
  });
});
