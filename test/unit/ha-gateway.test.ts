/**
 * HA gateways (docs/multichassis.md "Gateway failover"): routers.X.gateway is validated with located errors,
 * compiles to a distributed gateway port with its chassis and priorities plus a provider (localnet) network, and
 * the NB diff creates, keeps and replaces its Gateway_Chassis rows; the chassis step of a scenario is validated.
 */
import { describe, expect, it } from 'vitest';
import { diffNb } from '../../src/apply/ovn-diff.js';
import { checkLab, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { behindGatewayNat, meshTargets } from '../../src/probe/targets.js';
import { nbOf } from '../helpers/observed.js';

const lab = (router: string, extra = '') => `name: ha-unit
chassis:
  hv1: {}
  hv2: {}
  hv3: {}
networks:
  vpc: { subnet: 10.96.1.0/24 }
  ext: { subnet: 100.64.96.0/24 }
routers:
  edge: ${router}
nodes:
  web: { chassis: hv3, interfaces: [{ network: vpc, ip: 10.96.1.80 }] }
  client: { chassis: hv3, interfaces: [{ network: vpc, ip: 10.96.1.10 }] }
  outside: { chassis: hv3, interfaces: [{ network: ext, ip: 100.64.96.10 }] }
${extra}`;
const GOOD =
  '{ links: [vpc, ext], gateway: { network: ext, chassis: { hv2: 10, hv1: 20 } }, nat: [{ type: dnat_and_snat, external: 100.64.96.80, internal: web }, { type: snat, external: 100.64.96.100, internal: vpc }] }';

function diags(text: string) {
  const r = checkLab(text);
  expect(r.lab).toBeUndefined();
  return r.diagnostics.map((d) => ({ line: d.line, path: d.path, message: d.message, hint: d.hint ?? '' }));
}

describe('HA gateway', () => {
  it('compiles to a gateway port with its chassis by priority, a localnet port and the provider network', () => {
    const plan = compilePlan(parseLab(lab(GOOD)));
    const edge = plan.routers[0]!;
    expect(edge.gateway).toEqual({
      network: 'ext',
      port: 'ha-unit.edge.ext.lrp',
      redirectPort: 'cr-ha-unit.edge.ext.lrp',
      chassis: [
        { name: 'hv1', systemId: 'hv1.ha-unit', priority: 20 },
        { name: 'hv2', systemId: 'hv2.ha-unit', priority: 10 },
      ],
    });
    const ext = plan.switches.find((s) => s.network === 'ext')!;
    expect(ext.ports.find((p) => p.type === 'localnet')).toMatchObject({
      name: 'ha-unit.ext.localnet',
      addresses: 'unknown',
      options: { network_name: 'ext0' },
    });
    expect(ext.ports.find((p) => p.type === 'router')?.options).toEqual({ 'nat-addresses': 'router' });
    expect(plan.underlay?.external).toEqual([
      {
        network: 'ext',
        physnet: 'ext0',
        bridge: 'xbr0',
        ovsBridge: 'br-x0',
        uplink: 'x0',
        portPrefix: 'x0-',
      },
    ]);
    // NAT addresses on the gateway's own network are fine (the active gateway answers ARP for them)
    expect(edge.nat.map((n) => n.external)).toEqual(['100.64.96.80', '100.64.96.100']);
  });

  it('the NB diff creates the Gateway_Chassis rows, keeps them, and replaces them when a priority changes', () => {
    const plan = compilePlan(parseLab(lab(GOOD)));
    const empty = {
      switches: [],
      ports: [],
      routers: [],
      routerPorts: [],
      acls: [],
      routes: [],
      nat: [],
      loadBalancers: [],
    };
    const fresh = diffNb(plan, empty).changes.find((c) => c.summary.startsWith('set gateway chassis'));
    expect(fresh?.summary).toBe(
      'set gateway chassis of ha-unit.edge.ext.lrp: hv1.ha-unit 20, hv2.ha-unit 10',
    );
    expect(fresh?.commands.flat()).toEqual(
      expect.arrayContaining([
        'chassis_name="hv1.ha-unit"',
        'priority=20',
        'external_ids:"labctl-lab"="ha-unit"',
      ]),
    );
    expect(diffNb(plan, nbOf(plan)).changes).toEqual([]);
    const moved = compilePlan(parseLab(lab(GOOD.replace('hv2: 10', 'hv2: 30'))));
    const ch = diffNb(moved, nbOf(plan)).changes;
    expect(ch.map((c) => c.summary)).toEqual([
      'set gateway chassis of ha-unit.edge.ext.lrp: hv2.ha-unit 30, hv1.ha-unit 20',
    ]);
    // the old rows go first, in the same transaction
    expect(ch[0]!.commands[0]).toEqual([
      'remove',
      'Logical_Router_Port',
      'ha-unit.edge.ext.lrp',
      'gateway_chassis',
      'gc-ha-unit.edge.ext.lrp-hv1.ha-unit',
    ]);
  });

  it('reports unknown chassis, equal priorities, an unlinked network, both chassis: and gateway:, no chassis:', () => {
    const d = diags(
      lab(
        '{ links: [vpc, ext], chassis: hv1, gateway: { network: wan, chassis: { hv1: 10, hv4: 20, hv2: 10 } } }',
      ),
    );
    expect(d).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'routers.edge.chassis',
          message: expect.stringContaining('has both chassis: (a gateway router) and gateway:'),
        }),
        expect.objectContaining({
          path: 'routers.edge.gateway.network',
          message: 'router edge: gateway network "wan" is not one of its links',
        }),
        expect.objectContaining({
          path: 'routers.edge.gateway.chassis.hv4',
          message: 'unknown chassis "hv4" for the gateway of router edge',
        }),
        expect.objectContaining({
          path: 'routers.edge.gateway.chassis.hv2',
          message: 'gateway of router edge: chassis hv2 and hv1 both have priority 10',
        }),
      ]),
    );
    // each at the router's line (the flow-style mapping is one line)
    expect(new Set(d.map((x) => x.line))).toEqual(new Set([10]));
    const single = diags(`name: ha-one
networks:
  ext: { subnet: 100.64.96.0/24 }
routers:
  edge: { links: [ext], gateway: { network: ext, chassis: { hv1: 1 } } }
nodes:
  n: { interfaces: [ext] }
`);
    expect(single).toEqual([
      expect.objectContaining({
        line: 5,
        path: 'routers.edge.gateway',
        message:
          'router edge: gateway: needs a multi-chassis lab (its gateway chassis are the lab’s chassis)'.replace(
            '’',
            "'",
          ),
      }),
    ]);
  });

  it('the doctor mesh leaves out outside → NATed private addresses; the public address is how they are reached', () => {
    const plan = compilePlan(parseLab(lab(GOOD)));
    const outside = plan.nodes.find((n) => n.name === 'outside')!;
    expect(behindGatewayNat(plan, outside, '10.96.1.80')).toBe('edge');
    expect(
      behindGatewayNat(plan, plan.nodes.find((n) => n.name === 'client')!, '100.64.96.10'),
    ).toBeUndefined();
    const pairs = new Set(meshTargets(plan).map((t) => `${t.from}>${t.to}`));
    expect(pairs.has('outside>web')).toBe(false);
    expect(pairs.has('outside>client')).toBe(false);
    expect(pairs.has('client>outside')).toBe(true);
    expect(pairs.has('web>client')).toBe(true);
  });

  it('underlay.bfd reaches the plan (the central gets it as NB_Global options)', () => {
    const text = lab(GOOD).replace('chassis:\n', 'underlay: { bfd: { min_rx: 100, mult: 5 } }\nchassis:\n');
    expect(compilePlan(parseLab(text)).underlay?.bfd).toEqual({ minRx: 100, mult: 5 });
    expect(compilePlan(parseLab(lab(GOOD))).underlay?.bfd).toBeUndefined();
  });

  it('validates the chassis step of a scenario', () => {
    const scen = (step: string) => `scenarios:
  f:
    flows: [{ name: p, from: client, to: outside, proto: icmp }]
    steps: [${step}]
`;
    const ok = parseLab(lab(GOOD, scen('{ chassis: { stop: hv1 } }, { chassis: { start: hv1 } }')));
    expect(ok.scenarios?.[0]?.steps).toEqual([
      { kind: 'chassis', action: 'stop', chassis: 'hv1' },
      { kind: 'chassis', action: 'start', chassis: 'hv1' },
    ]);
    expect(diags(lab(GOOD, scen('{ chassis: { stop: hv7 } }')))).toEqual([
      expect.objectContaining({
        path: 'scenarios.f.steps[0].chassis.stop',
        message: 'stop of unknown chassis "hv7"',
      }),
    ]);
  });
});
