/**
 * compilePlan: golden plans for the example labs, determinism, stability of names/MACs/addresses when a lab
 * grows, uniqueness at scale, and the addressing and routing rules of docs/lab-file.md.
 * UPDATE_GOLDEN=1 npx vitest run test/unit/compile.test.ts rewrites test/fixtures/plans/*.json.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { contains, ipToInt, isHostAddress, parseCidr } from '../../src/lab/ipv4.js';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import type { Lab } from '../../src/lab/types.js';
import { compilePlan, naming } from '../../src/plan/compile.js';
import type { Plan, PlanNode } from '../../src/plan/types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

function labFrom(text: string, file = 'test.yml'): Lab {
  const { lab, diagnostics } = checkLab(text, file);
  if (!lab) throw new Error(`invalid test lab:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  return lab;
}
const fixture = (name: string) => readFileSync(join(fixtures, 'valid', `${name}.yml`), 'utf8');
const node = (plan: Plan, name: string): PlanNode => {
  const n = plan.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in the plan`);
  return n;
};
const dupes = (values: string[]) => values.filter((v, i) => values.indexOf(v) !== i);

describe('golden plans', () => {
  for (const name of ['two-vpcs', 'single-switch', 'three-tier']) {
    it(`${name}.yml compiles to plans/${name}.json`, () => {
      const plan = JSON.parse(JSON.stringify(compilePlan(labFrom(fixture(name), `${name}.yml`))));
      const goldenFile = join(fixtures, 'plans', `${name}.json`);
      if (UPDATE) writeFileSync(goldenFile, `${JSON.stringify(plan, null, 2)}\n`);
      // on an intended change of the plan, rewrite the golden files with UPDATE_GOLDEN=1 and review the diff
      expect(plan, `plan of ${name}.yml differs from plans/${name}.json`).toEqual(
        JSON.parse(readFileSync(goldenFile, 'utf8')),
      );
    });
  }

  it('the two-vpcs fixture is the repository lab.yml', () => {
    // keeps the golden plan honest about the lab users start from
    expect(fixture('two-vpcs')).toBe(readFileSync(join(root, 'lab.yml'), 'utf8'));
  });
});

describe('determinism and purity', () => {
  it('compiling twice gives identical plans, down to the JSON text', () => {
    const text = fixture('three-tier');
    const a = compilePlan(labFrom(text));
    const b = compilePlan(labFrom(text));
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const lab = labFrom(text);
    expect(JSON.stringify(compilePlan(lab))).toBe(JSON.stringify(compilePlan(lab)));
  });

  it('does not modify the lab it compiles', () => {
    const lab = labFrom(fixture('three-tier'));
    const before = structuredClone(lab);
    const plan = compilePlan(lab);
    expect(lab).toEqual(before);
    // and the plan shares no mutable objects with the lab
    plan.ovn.encap.ip = '198.51.100.1';
    node(plan, 'jump').env.X = 'y';
    node(plan, 'api').listen.push({ proto: 'tcp', port: 1 });
    plan.expect[0]!.port = 1;
    expect(lab.ovn.encap.ip).toBe('192.0.2.21');
    expect(lab.nodes.find((n) => n.name === 'jump')!.env).toEqual({});
    expect(lab.nodes.find((n) => n.name === 'api')!.listen).toHaveLength(2);
    expect(lab.expect[0]!.port).toBe(8080);
    const flat = labFrom(fixture('single-switch'));
    const flatPlan = compilePlan(flat);
    node(flatPlan, 'worker').cmd!.push('--more');
    node(flatPlan, 'worker').build!.context = '/elsewhere';
    expect(flat.nodes[1]!.cmd).toEqual(['/usr/bin/worker', '--verbose']);
    expect(flat.nodes[1]!.build).toEqual({ context: './worker', dockerfile: 'Dockerfile.dev' });
  });
});

describe('naming', () => {
  const plan = compilePlan(labFrom(fixture('three-tier')));

  it('derives container, switch, port and router names from lab and object names', () => {
    const jump = node(plan, 'jump');
    expect(jump.container).toBe('labctl.three-tier.jump');
    expect(jump.labels).toEqual({ 'labctl.lab': 'three-tier', 'labctl.node': 'jump' });
    const mgmt = jump.interfaces.find((i) => i.name === 'mgmt')!;
    expect(mgmt.switch).toBe('three-tier.mgmt');
    expect(mgmt.lsp).toBe('three-tier.jump.mgmt');
    expect(mgmt.ovsExternalIds).toEqual({
      'iface-id': 'three-tier.jump.mgmt',
      'labctl-lab': 'three-tier',
      'labctl-node': 'jump',
      'labctl-iface': 'mgmt',
    });
    expect(mgmt.hostVeth).toMatch(/^lv[0-9a-f]{13}$/);
    expect(mgmt.peerTmp).toBe(`lp${mgmt.hostVeth.slice(2)}`);
    const core = plan.routers.find((r) => r.name === 'core')!;
    expect(core.router).toBe('three-tier.core');
    expect(core.ports.map((p) => [p.name, p.switchPort, p.networks[0]])).toEqual([
      ['three-tier.core.app.lrp', 'three-tier.core.app.lsp', '10.10.2.253/24'],
      ['three-tier.core.data.lrp', 'three-tier.core.data.lsp', '10.10.3.1/24'],
    ]);
    const appSwitch = plan.switches.find((s) => s.network === 'app')!;
    expect(appSwitch.ports.filter((p) => p.type === 'router').map((p) => [p.name, p.routerPort])).toEqual([
      ['three-tier.edge.app.lsp', 'three-tier.edge.app.lrp'],
      ['three-tier.core.app.lsp', 'three-tier.core.app.lrp'],
    ]);
  });

  it('every OVN row and OVS port carries the lab label', () => {
    for (const s of plan.switches) {
      expect(s.externalIds['labctl-lab']).toBe('three-tier');
      for (const p of s.ports) expect(p.externalIds['labctl-lab']).toBe('three-tier');
    }
    for (const r of plan.routers) expect(r.externalIds['labctl-lab']).toBe('three-tier');
    for (const a of plan.acls) expect(a.externalIds['labctl-lab']).toBe('three-tier');
    for (const n of plan.nodes)
      for (const i of n.interfaces) expect(i.ovsExternalIds['labctl-lab']).toBe('three-tier');
  });

  it('two labs with the same node names share no container, veth, port or MAC', () => {
    const text = (name: string) =>
      `name: ${name}\nnetworks:\n  lan: { subnet: 10.0.0.0/24 }\nnodes:\n  a: { interfaces: [lan, lan] }\n  b: { interfaces: [lan] }\n`;
    const one = compilePlan(labFrom(text('lab-one')));
    const two = compilePlan(labFrom(text('lab-two')));
    const ifaces = (p: Plan) => p.nodes.flatMap((n) => n.interfaces);
    const disjoint = (f: (p: Plan) => string[]) => {
      const a = new Set(f(one));
      expect(a.size).toBe(f(one).length);
      expect(f(two).filter((x) => a.has(x))).toEqual([]);
    };
    disjoint((p) => p.nodes.map((n) => n.container));
    disjoint((p) => ifaces(p).map((i) => i.hostVeth));
    disjoint((p) => ifaces(p).map((i) => i.peerTmp));
    disjoint((p) => ifaces(p).map((i) => i.lsp));
    disjoint((p) => ifaces(p).map((i) => i.mac));
    // but the addresses are the same: they depend on the lab's layout, not its name
    expect(ifaces(two).map((i) => i.ip)).toEqual(ifaces(one).map((i) => i.ip));
  });

  it('ACLs keep policy order: the first policy gets the highest priority', () => {
    const byPolicy = new Map<string, number>();
    const own = plan.acls.filter((a) => a.externalIds['labctl-policy'] !== undefined);
    for (const a of own) byPolicy.set(a.externalIds['labctl-policy']!, a.priority);
    expect([...byPolicy.keys()]).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    const priorities = [...byPolicy.values()];
    expect(priorities).toEqual([...priorities].sort((x, y) => y - x));
    expect(new Set(priorities).size).toBe(priorities.length);
    expect(own.map((a) => a.name)).toEqual(own.map((a) => `three-tier-p${a.externalIds['labctl-policy']}`));
    // the rest: one stateful catch-all per switch that carries a policy, below every policy
    const rest = plan.acls.filter((a) => a.externalIds['labctl-policy'] === undefined);
    expect(rest.map((a) => a.switch).sort()).toEqual([...new Set(own.map((a) => a.switch))].sort());
    for (const a of rest)
      expect(a).toMatchObject({
        name: 'three-tier-stateful',
        direction: 'to-lport',
        priority: 0,
        match: 'ip4',
        action: 'allow-related',
        externalIds: { 'labctl-lab': 'three-tier', 'labctl-stateful': 'true' },
      });
    expect(Math.min(...priorities)).toBeGreaterThan(0);
  });
});

describe('addresses, MACs and routes', () => {
  it('reserves explicit addresses before allocating, so a later explicit ip is not handed out earlier', () => {
    const plan = compilePlan(
      labFrom(`name: pin
networks:
  lan: { subnet: 10.0.0.0/24 }
  flat: { subnet: 10.1.0.0/24 }
routers:
  r: { links: [lan] }
nodes:
  a: { interfaces: [lan, flat] }
  b: { interfaces: [lan, flat] }
  c:
    interfaces:
      - { network: lan, ip: 10.0.0.2 }
      - { network: flat, ip: 10.1.0.1 }
`),
    );
    const ips = (n: string) => node(plan, n).interfaces.map((i) => i.ip);
    // lan: .1 is the router's, .2 is c's; flat has no router, so allocation starts at .1, which c pinned
    expect(ips('a')).toEqual(['10.0.0.3', '10.1.0.2']);
    expect(ips('b')).toEqual(['10.0.0.4', '10.1.0.3']);
    expect(ips('c')).toEqual(['10.0.0.2', '10.1.0.1']);
  });

  it('skips router addresses anywhere in the subnet, and the gateway of a router-less network', () => {
    const plan = compilePlan(
      labFrom(`name: gw
networks:
  lan: { subnet: 10.0.0.0/29 }
  mgmt: { subnet: 10.9.0.0/29, gateway: 10.9.0.2 }
routers:
  r:
    links: [{ network: lan, ip: 10.0.0.2 }]
nodes:
  a: { interfaces: [lan, mgmt] }
  b: { interfaces: [lan, mgmt] }
  c: { interfaces: [lan, mgmt] }
`),
    );
    expect(plan.nodes.map((n) => n.interfaces.map((i) => i.ip))).toEqual([
      ['10.0.0.1', '10.9.0.1'],
      ['10.0.0.3', '10.9.0.3'],
      ['10.0.0.4', '10.9.0.4'],
    ]);
    expect(node(plan, 'a').interfaces.map((i) => i.gateway)).toEqual(['10.0.0.2', '10.9.0.2']);
  });

  it('gives a node a default route via its network router address (first host, gateway or explicit)', () => {
    const plan = compilePlan(labFrom(fixture('three-tier')));
    expect(node(plan, 'lb').routes).toEqual([{ dst: 'default', via: '10.10.1.1', dev: 'eth1' }]);
    expect(node(plan, 'api').routes).toEqual([{ dst: 'default', via: '10.10.2.254', dev: 'eth1' }]);
    expect(node(plan, 'db').routes).toEqual([{ dst: 'default', via: '10.10.3.1', dev: 'eth1' }]);
    expect(node(plan, 'api').interfaces[0]!.gateway).toBe('10.10.2.254');
    const two = compilePlan(labFrom(fixture('two-vpcs')));
    expect(node(two, 'client').routes).toEqual([{ dst: 'default', via: '10.0.2.1', dev: 'eth1' }]);
    // no router: no gateway, no route
    const flat = compilePlan(labFrom(fixture('single-switch')));
    for (const n of flat.nodes) {
      expect(n.routes).toEqual([]);
      expect(n.interfaces[0]!.gateway).toBeUndefined();
    }
  });

  it('routes the other subnets of a second router via that router, not the default one', () => {
    const plan = compilePlan(
      labFrom(`name: multi
networks:
  a: { subnet: 10.0.1.0/24 }
  b: { subnet: 10.0.2.0/24 }
  c: { subnet: 10.0.3.0/24 }
  d: { subnet: 10.0.4.0/24 }
  e: { subnet: 10.0.5.0/24 }
routers:
  r1: { links: [a, b] }
  r2: { links: [c, d, e] }
nodes:
  multi: { interfaces: [a, c] }
  same: { interfaces: [a, b] }
`),
    );
    expect(node(plan, 'multi').routes).toEqual([
      { dst: 'default', via: '10.0.1.1', dev: 'eth1' },
      { dst: '10.0.4.0/24', via: '10.0.3.1', dev: 'eth2' },
      { dst: '10.0.5.0/24', via: '10.0.3.1', dev: 'eth2' },
    ]);
    // both interfaces on the same router: the default route covers everything
    expect(node(plan, 'same').routes).toEqual([{ dst: 'default', via: '10.0.1.1', dev: 'eth1' }]);
    // the three-tier example: jump reaches app through core, the router on its data interface
    expect(node(compilePlan(labFrom(fixture('three-tier'))), 'jump').routes).toEqual([
      { dst: 'default', via: '10.10.1.1', dev: 'eth1' },
      { dst: '10.10.2.0/24', via: '10.10.3.1', dev: 'eth2' },
    ]);
  });

  it('keeps explicit MACs and derives the others from (lab, node, interface) only', () => {
    const plan = compilePlan(labFrom(fixture('three-tier')));
    expect(node(plan, 'lb').interfaces[0]!.mac).toBe('0a:00:00:00:01:10');
    expect(node(plan, 'jump').interfaces[2]!.mac).toBe('0a:00:00:00:0f:01');
    const alone = compilePlan(
      labFrom(
        'name: three-tier\nnetworks:\n  app: { subnet: 172.16.0.0/16 }\nnodes:\n  api: { interfaces: [app] }\n',
      ),
    );
    const api = node(plan, 'api').interfaces[0]!;
    expect(alone.nodes[0]!.interfaces[0]!.mac).toBe(api.mac);
    expect(alone.nodes[0]!.interfaces[0]!.hostVeth).toBe(api.hostVeth);
    expect(api.hostVeth).toBe(naming.hostVeth('three-tier', 'api', 'eth1'));
  });

  it('places ACLs on the destination switch, or on the source switch for destinations outside the lab', () => {
    const plan = compilePlan(labFrom(fixture('three-tier')));
    const acl = (i: number) => plan.acls.filter((a) => a.externalIds['labctl-policy'] === String(i));
    expect(acl(0)).toEqual([
      expect.objectContaining({
        switch: 'three-tier.data',
        direction: 'to-lport',
        action: 'drop',
        match: 'outport == "three-tier.db.eth1" && ip4.src == 10.10.1.10 && tcp.dst == 5432',
      }),
    ]);
    expect(acl(3)[0]!.match).toContain('udp.dst >= 8000 && udp.dst <= 8200');
    expect(acl(4)[0]!.match).toBe(
      'ip4.dst == 10.10.3.20 && ip4.src == {10.10.1.2, 10.10.3.2, 192.168.50.1} && icmp4',
    );
    expect(acl(5)).toEqual([
      expect.objectContaining({
        switch: 'three-tier.app',
        direction: 'from-lport',
        match: 'ip4.src == 10.10.2.1 && ip4.dst == 203.0.113.0/24 && tcp',
      }),
    ]);
  });

  it('a CIDR destination: on each switch only its part inside that subnet; its outside part at the source', () => {
    const lab = labFrom(`name: cidr
networks:
  a: { subnet: 10.1.1.0/24 }
  b: { subnet: 10.1.2.0/24 }
  c: { subnet: 10.1.3.0/28 }
routers:
  r: { links: [a, b, c] }
nodes:
  x: { interfaces: [a] }
  y: { interfaces: [b] }
policies:
  - { deny: { from: x, to: 10.1.0.0/16 } }
  - { deny: { from: y, to: 10.1.3.0/29, proto: udp } }
  - { deny: { from: y, to: 10.1.2.0/23 } }
`);
    const plan = compilePlan(lab);
    const acl = (i: number) =>
      plan.acls
        .filter((a) => a.externalIds['labctl-policy'] === String(i))
        .map((a) => `${a.switch} ${a.direction} ${a.match}`);
    // a packet to another subnet leaves x's switch through a router port: it never meets the ACL of that switch
    expect(acl(0)).toEqual([
      'cidr.a to-lport ip4.dst == 10.1.1.0/24 && ip4.src == 10.1.1.2',
      'cidr.b to-lport ip4.dst == 10.1.2.0/24 && ip4.src == 10.1.1.2',
      'cidr.c to-lport ip4.dst == 10.1.3.0/28 && ip4.src == 10.1.1.2',
      'cidr.a from-lport ip4.src == 10.1.1.2 && ip4.dst == 10.1.0.0/16 && !(ip4.dst == {10.1.1.0/24, 10.1.2.0/24, 10.1.3.0/28})',
    ]);
    // inside one subnet: as written, nothing outside
    expect(acl(1)).toEqual(['cidr.c to-lport ip4.dst == 10.1.3.0/29 && ip4.src == 10.1.2.2 && udp']);
    // 10.1.2.0/23 holds b and 10.1.3.0/24, of which c covers only a /28: the rest is outside
    expect(acl(2)).toEqual([
      'cidr.b to-lport ip4.dst == 10.1.2.0/24 && ip4.src == 10.1.2.2',
      'cidr.c to-lport ip4.dst == 10.1.3.0/28 && ip4.src == 10.1.2.2',
      'cidr.b from-lport ip4.src == 10.1.2.2 && ip4.dst == 10.1.2.0/23 && !(ip4.dst == {10.1.2.0/24, 10.1.3.0/28})',
    ]);
    expect(plan.acls.filter((a) => a.name === 'cidr-stateful').map((a) => a.switch)).toEqual([
      'cidr.a',
      'cidr.b',
      'cidr.c',
    ]);
  });

  it('a lab without policies gets no ACL at all (no stateful catch-all either)', () => {
    const plan = compilePlan(labFrom(fixture('single-switch')));
    expect(plan.acls).toEqual([]);
    expect(plan.policies).toEqual([]);
  });

  it('plan.policies: the policies in file order with their endpoints resolved', () => {
    const plan = compilePlan(labFrom(fixture('three-tier')));
    expect(plan.policies!.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(plan.policies![0]).toEqual({
      index: 0,
      action: 'deny',
      from: { ref: 'lb', nodes: ['lb'], cidrs: ['10.10.1.10/32'] },
      to: { ref: 'db', nodes: ['db'], cidrs: ['10.10.3.20/32'] },
      proto: 'tcp',
      port: { min: 5432, max: 5432 },
    });
    expect(plan.policies![2]).toMatchObject({
      from: { ref: '10.99.0.0/16', cidrs: ['10.99.0.0/16'] },
      to: { ref: 'data', cidrs: ['10.10.3.0/24'] },
      proto: 'any',
    });
    expect(plan.policies![2]!.to.nodes).toBeUndefined();
  });
});

describe('growing a lab', () => {
  const base = fixture('three-tier');
  const extra = `  late-a:
    interfaces: [front, app]
  late-b:
    interfaces: [data, { network: mgmt, name: mgmt }]
`;
  // append the new nodes at the end of the nodes: section (right before policies:)
  const grown = base.replace('\npolicies:\n', `\n${extra}policies:\n`);

  it('appending nodes changes nothing about the existing ones', () => {
    expect(grown).not.toBe(base);
    const before = compilePlan(labFrom(base));
    const after = compilePlan(labFrom(grown));
    expect(after.nodes.map((n) => n.name)).toEqual([...before.nodes.map((n) => n.name), 'late-a', 'late-b']);
    for (const old of before.nodes) {
      const now = node(after, old.name);
      expect(now.container).toBe(old.container);
      expect(now.routes).toEqual(old.routes);
      expect(
        now.interfaces.map((i) => ({ lsp: i.lsp, veth: i.hostVeth, peer: i.peerTmp, mac: i.mac, ip: i.ip })),
      ).toEqual(
        old.interfaces.map((i) => ({ lsp: i.lsp, veth: i.hostVeth, peer: i.peerTmp, mac: i.mac, ip: i.ip })),
      );
    }
    expect(after.routers).toEqual(before.routers);
    // the new nodes take the next free addresses
    expect(node(after, 'late-a').interfaces.map((i) => i.ip)).toEqual(['10.10.1.3', '10.10.2.3']);
    expect(node(after, 'late-b').interfaces.map((i) => i.ip)).toEqual(['10.10.3.3', '192.168.50.2']);
  });

  it('inserting a node before others shifts allocated (not pinned) addresses, as documented', () => {
    const inserted = base.replace('\nnodes:\n', '\nnodes:\n  early:\n    interfaces: [app]\n');
    const after = compilePlan(labFrom(inserted));
    const before = compilePlan(labFrom(base));
    expect(node(after, 'early').interfaces[0]!.ip).toBe('10.10.2.1');
    expect(node(before, 'api').interfaces[0]!.ip).toBe('10.10.2.1');
    expect(node(after, 'api').interfaces[0]!.ip).toBe('10.10.2.2');
    // names and MACs never shift
    expect(node(after, 'api').interfaces[0]!.mac).toBe(node(before, 'api').interfaces[0]!.mac);
    expect(node(after, 'api').interfaces[0]!.hostVeth).toBe(node(before, 'api').interfaces[0]!.hostVeth);
    // pinned addresses do not move
    expect(node(after, 'db').interfaces[0]!.ip).toBe('10.10.3.20');
  });
});

describe('a 2000-node lab', () => {
  const NODES = 2000;
  const NETS = 8;
  const lines = ['name: big', 'networks:'];
  for (let n = 0; n < NETS; n++) lines.push(`  net${n}: { subnet: 10.${n}.0.0/20 }`);
  lines.push('routers:', '  r1: { links: [net0, net1, net2, net3] }', '  r2:', '    links:');
  for (let n = 4; n < NETS; n++) lines.push(`      - { network: net${n}, ip: 10.${n}.15.254 }`);
  lines.push('nodes:');
  for (let i = 0; i < NODES; i++) {
    const nets = [`net${i % NETS}`];
    if (i % 10 === 0) nets.push(`net${(i + 3) % NETS}`);
    // a few pinned addresses in the middle of what would otherwise be allocated
    if (i % 250 === 7)
      lines.push(
        `  n${i}:`,
        `    interfaces: [{ network: ${nets[0]}, ip: 10.${i % NETS}.${Math.floor(i / 250)}.9 }]`,
      );
    else lines.push(`  n${i}: { interfaces: [${nets.join(', ')}] }`);
  }
  const text = `${lines.join('\n')}\n`;

  it('validates and compiles with unique names, MACs and addresses', () => {
    const started = performance.now();
    const { lab, diagnostics } = checkLab(text, 'big.yml');
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    const plan = compilePlan(lab!);
    expect(performance.now() - started).toBeLessThan(5_000);

    expect(plan.nodes).toHaveLength(NODES);
    const ifaces = plan.nodes.flatMap((n) => n.interfaces);
    expect(ifaces).toHaveLength(NODES + NODES / 10);

    const containers = plan.nodes.map((n) => n.container);
    const veths = ifaces.map((i) => i.hostVeth);
    const peers = ifaces.map((i) => i.peerTmp);
    const lsps = plan.switches.flatMap((s) => s.ports.map((p) => p.name));
    const macs = [...ifaces.map((i) => i.mac), ...plan.routers.flatMap((r) => r.ports.map((p) => p.mac))];
    expect(dupes(containers)).toEqual([]);
    expect(dupes([...veths, ...peers])).toEqual([]);
    expect(dupes(lsps)).toEqual([]);
    expect(dupes(macs)).toEqual([]);
    expect(lsps).toHaveLength(ifaces.length + 8);

    for (const v of [...veths, ...peers]) expect(Buffer.byteLength(v)).toBeLessThanOrEqual(15);
    expect(veths.filter((v) => !/^lv[0-9a-f]{13}$/.test(v))).toEqual([]);
    // locally administered (bit 1 of the first octet set), unicast (bit 0 clear)
    expect(macs.filter((m) => (Number.parseInt(m.slice(0, 2), 16) & 0b11) !== 0b10)).toEqual([]);

    const routerIps = new Set(
      plan.routers.flatMap((r) => r.ports.map((p) => `${p.network} ${p.networks[0]!.split('/')[0]}`)),
    );
    expect(routerIps.size).toBe(8);
    const subnets = new Map(plan.switches.map((s) => [s.network, parseCidr(s.subnet!)]));
    const seen = new Set<string>();
    for (const i of ifaces) {
      const c = subnets.get(i.network)!;
      if (!c.ok) throw new Error(`bad subnet of ${i.network}`);
      expect(isHostAddress(c.cidr, ipToInt(i.ip!)), `${i.lsp} ${i.ip}`).toBe(true);
      expect(contains(c.cidr, ipToInt(i.gateway!))).toBe(true);
      const key = `${i.network} ${i.ip}`;
      expect(routerIps.has(key), `${i.lsp} took a router address`).toBe(false);
      expect(seen.has(key), `${i.lsp} ${i.ip} is a duplicate`).toBe(false);
      seen.add(key);
    }
    // pinned addresses were honoured
    expect(node(plan, 'n7').interfaces[0]!.ip).toBe('10.7.0.9');
    expect(node(plan, 'n1757').interfaces[0]!.ip).toBe('10.5.7.9');
  });
});
