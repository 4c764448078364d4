/**
 * Multi-chassis lab files (docs/multichassis.md): chassis:, underlay: and placement are validated with located
 * errors; compile places each node on its chassis, points the plan at the lab's own central, and leaves labs
 * without chassis: exactly as before.
 */
import { describe, expect, it } from 'vitest';
import { checkLab, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';

const base = `name: mc-unit
networks:
  a: { subnet: 10.93.1.0/24 }
  b: { subnet: 10.93.2.0/24 }
routers:
  r: { links: [a, b] }
`;

function diags(text: string) {
  const r = checkLab(text);
  expect(r.lab).toBeUndefined();
  return r.diagnostics.map((d) => ({ line: d.line, path: d.path, message: d.message, hint: d.hint ?? '' }));
}

describe('multi-chassis lab file', () => {
  it('places nodes on their chassis (the first one by default) and allocates encap addresses', () => {
    const lab = parseLab(`${base}chassis:
  hv1: {}
  hv2: { encap_ip: 172.31.250.1 }
  hv3: {}
underlay: { subnet: 172.31.250.0/24, mtu: 1600 }
nodes:
  x: { interfaces: [a] }
  y: { chassis: hv3, interfaces: [b] }
`);
    expect(lab.chassis?.map((c) => [c.name, c.kind, c.encapIp])).toEqual([
      ['hv1', 'simulated', '172.31.250.2'],
      ['hv2', 'simulated', '172.31.250.1'],
      ['hv3', 'simulated', '172.31.250.3'],
    ]);
    expect(lab.nodes.map((n) => n.chassis)).toEqual(['hv1', 'hv3']);
    const plan = compilePlan(lab);
    expect(plan.hosts.map((h) => h.name)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(plan.nodes.map((n) => n.host)).toEqual(['hv1', 'hv3']);
    expect(plan.chassis?.[0]).toMatchObject({
      name: 'hv1',
      systemId: 'hv1.mc-unit',
      netns: 'labctl.mc-unit.hv1',
      encapIp: '172.31.250.2',
    });
    expect(plan.underlay).toMatchObject({
      cidr: '172.31.250.0/24',
      prefix: 24,
      mtu: 1600,
      netns: 'labctl.mc-unit',
    });
    expect(plan.ovn.nb).toMatch(/^unix:\/.*\/labs\/mc-unit\/central\/nb\.sock$/);
    expect(plan.ovn.remote).toMatch(/^unix:\/.*\/labs\/mc-unit\/central\/sb\.sock$/);
  });

  it('a lab without chassis: compiles exactly as before (one host, local)', () => {
    const lab = parseLab(`${base}nodes:\n  x: { interfaces: [a] }\n`);
    const plan = compilePlan(lab);
    expect(lab.chassis).toBeUndefined();
    expect(plan.hosts).toEqual([{ name: 'local' }]);
    expect(plan.nodes[0]!.host).toBe('local');
    expect(plan.chassis).toBeUndefined();
    expect(plan.underlay).toBeUndefined();
    expect(plan.ovn.nb).toBeUndefined();
  });

  it('reports an unknown chassis of a node and of a router, with a suggestion', () => {
    const d = diags(`${base.replace('r: { links: [a, b] }', 'r: { links: [a, b], chassis: hv9 }')}chassis:
  hv1: {}
  hv2: {}
nodes:
  x: { chassis: hv3, interfaces: [a] }
`);
    expect(d).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          line: 6,
          path: 'routers.r.chassis',
          message: 'unknown chassis "hv9" for gateway router r',
        }),
        expect.objectContaining({ line: 11, path: 'nodes.x.chassis', message: 'unknown chassis "hv3"' }),
      ]),
    );
    expect(d.find((x) => x.path === 'nodes.x.chassis')!.hint).toMatch(/hv1|hv2/);
  });

  it('reports duplicate encap addresses and addresses outside the underlay', () => {
    const d = diags(`${base}chassis:
  hv1: { encap_ip: 172.31.250.5 }
  hv2: { encap_ip: 172.31.250.5 }
  hv3: { encap_ip: 10.0.0.1 }
nodes:
  x: { interfaces: [a] }
`);
    expect(d).toEqual([
      expect.objectContaining({
        line: 9,
        path: 'chassis.hv2.encap_ip',
        message: "encap_ip 172.31.250.5 is also chassis hv1's",
      }),
      expect.objectContaining({
        line: 10,
        path: 'chassis.hv3.encap_ip',
        message: expect.stringContaining('not a host address of the underlay'),
      }),
    ]);
  });

  it('reports a node MTU that does not fit the underlay minus the geneve overhead, where the MTU is set', () => {
    const d =
      diags(`${base.replace('a: { subnet: 10.93.1.0/24 }', 'a: { subnet: 10.93.1.0/24, mtu: 1500 }')}chassis:
  hv1: {}
underlay: { mtu: 1500 }
nodes:
  x: { interfaces: [a] }
  y: { interfaces: [a] }
  z: { interfaces: [{ network: b, mtu: 1443 }] }
  w: { interfaces: [{ network: b, mtu: 1442 }] }
`);
    expect(d).toEqual([
      expect.objectContaining({
        line: 3,
        path: 'networks.a.mtu',
        message: 'MTU 1500 of x.eth1 does not fit the underlay: 1500 + 58 (geneve) > 1500',
        hint: expect.stringContaining('lower the MTU to 1442 or raise underlay.mtu to 1558'),
      }),
      expect.objectContaining({
        line: 13,
        path: 'nodes.z.interfaces[0].mtu',
        message: expect.stringContaining('MTU 1443 of z.eth1'),
      }),
    ]);
  });

  it('validates remote chassis (ssh and encap_ip) and refuses ovn.remote beside chassis:', () => {
    const d = diags(`${base}chassis:
  hv1: {}
  far: { kind: remote }
  far2: { kind: remote, ssh: "x;rm -rf /", encap_ip: 198.51.100.12 }
ovn: { remote: "tcp:192.0.2.1:6642" }
nodes:
  x: { chassis: nope, interfaces: [a] }
`);
    const paths = d.map((x) => x.path);
    expect(paths).toEqual(
      expect.arrayContaining(['chassis.far', 'chassis.far2.ssh', 'ovn.remote', 'nodes.x.chassis']),
    );
    expect(d.filter((x) => x.path === 'chassis.far').map((x) => x.message)).toEqual([
      'remote chassis far needs ssh:',
      'remote chassis far needs encap_ip:',
    ]);
  });

  it('refuses chassis on a node and underlay: in a lab without chassis:', () => {
    const d = diags(`${base}underlay: { mtu: 1600 }\nnodes:\n  x: { chassis: hv1, interfaces: [a] }\n`);
    expect(d.map((x) => x.path)).toEqual(['underlay', 'nodes.x.chassis']);
  });
});

describe('multi-chassis runtime names', () => {
  it('a lab owns its own namespaces only, never another lab’s with a longer name', async () => {
    const { isLabNetns, chassisNaming } = await import('../../src/plan/chassis-naming.js');
    expect(isLabNetns('mc', chassisNaming.underlayNetns('mc'))).toBe(true);
    expect(isLabNetns('mc', chassisNaming.netns('mc', 'hv1'))).toBe(true);
    expect(isLabNetns('mc', chassisNaming.netns('mc-b', 'hv1'))).toBe(false);
    expect(isLabNetns('mc', chassisNaming.underlayNetns('mc-b'))).toBe(false);
    expect(isLabNetns('mc', 'labctl.mc.hv1.x')).toBe(false);
    expect(isLabNetns('mc', 'mc.hv1')).toBe(false);
    // the underlay ends of the uplinks fit Linux's 15-byte interface names for the longest chassis name
    expect(chassisNaming.underlayPort('abcdefghijkl').length).toBeLessThanOrEqual(15);
  });
});
