/**
 * What observeLab() reads from a lab that has converged to `plan`, built from the plan itself: the fixture the diff
 * is tested on. test/integration/up-down.test.ts checks the real thing agrees (after every up, `up --dry-run` on
 * the real daemons lists no change).
 */

import { relayParams } from '../../src/apply/impair-diff.js';
import type { Observed, ObservedHost } from '../../src/apply/observe.js';
import { RA_CONFIGS } from '../../src/apply/ovn-diff.js';
import { configHash } from '../../src/drivers/containers.js';
import type { NbLabState } from '../../src/drivers/ovn.js';
import { ovsPortOf, type Plan } from '../../src/plan/types.js';

export const CHASSIS = 'chassis-1';

export function convergedObserved(plan: Plan): Observed {
  const hosts: Record<string, ObservedHost> = {};
  for (const h of plan.hosts) {
    const nodes = plan.nodes.filter((n) => n.host === h.name);
    hosts[h.name] = {
      name: h.name,
      containers: nodes.map((n) => ({
        id: `id-${n.name}`,
        name: n.container,
        lab: plan.lab,
        node: n.name,
        running: true,
        state: 'running',
        configHash: configHash(n),
        image: n.image,
      })),
      ovs: nodes.flatMap((n) =>
        n.interfaces.map((i) => ({
          name: ovsPortOf(i),
          externalIds: { ...i.ovsExternalIds, 'ovn-installed': 'true' },
          ofport: 1,
          error: '',
        })),
      ),
      hostLinks: nodes.flatMap((n) =>
        n.interfaces.map((i) => ({
          name: i.hostVeth,
          alias: `labctl:${plan.lab}`,
          operstate: 'UP',
          up: true,
          mtu: i.mtu,
          peerNetnsId: 0,
        })),
      ),
      nodes: Object.fromEntries(
        nodes.map((n, k) => [
          n.name,
          {
            pid: 1000 + k,
            ns: {
              links: [
                {
                  name: 'lo',
                  mac: '00:00:00:00:00:00',
                  mtu: 65536,
                  up: true,
                  operstate: 'UNKNOWN',
                  addrs: ['127.0.0.1/8'],
                },
                ...n.interfaces.map((i) => ({
                  name: i.name,
                  mac: i.mac,
                  mtu: i.mtu,
                  up: true,
                  operstate: 'UP',
                  addrs: i.ip !== undefined ? [`${i.ip}/${i.prefix}`] : [],
                  ...(i.ip6 !== undefined ? { addrs6: [`${i.ip6}/${i.prefix6}`], v6: true } : {}),
                })),
              ],
              routes: [
                ...n.routes.map((r) => ({
                  dst: r.dst,
                  via: r.via,
                  dev: r.dev,
                  ...(r.family ? { family: r.family } : {}),
                })),
                ...n.interfaces.map((i) => ({ dst: `${i.network}-connected`, dev: i.name })),
              ],
            },
          },
        ]),
      ),
      // impaired interfaces: a live relay with the planned parameters and its twin pair (docs/impairments.md)
      relays: nodes.flatMap((n, k) =>
        n.interfaces.flatMap((i, j) =>
          i.impair
            ? [{ hostVeth: i.hostVeth, pid: 5000 + 10 * k + j, pidfile: true, params: relayParams(i.impair) }]
            : [],
        ),
      ),
      relayLinks: nodes.flatMap((n) =>
        n.interfaces.flatMap((i) =>
          i.impair
            ? [i.impair.relayVeth, i.impair.bridgeVeth].map((name) => ({
                name,
                alias: `labctl:${plan.lab}`,
                operstate: 'UP',
                up: true,
                mtu: i.mtu,
              }))
            : [],
        ),
      ),
      ...(plan.routers.some((r) => r.chassis) ? { chassis: CHASSIS } : {}),
    };
  }
  return { lab: plan.lab, nb: nbOf(plan), hosts };
}

/** The NB rows of a converged plan, with made-up UUIDs. */
export function nbOf(plan: Plan): NbLabState {
  // ip: dhcp ports link to their network's DHCP options (docs/dhcp-dns.md)
  const dhcpPorts = new Map(
    plan.nodes.flatMap((n) =>
      n.interfaces.filter((i) => i.dhcp).map((i) => [i.lsp, `dhcp-${i.network}`] as const),
    ),
  );
  const dhcp6Ports = new Map(
    plan.nodes.flatMap((n) =>
      n.interfaces.filter((i) => i.dhcp6).map((i) => [i.lsp, `dhcp6-${i.network}`] as const),
    ),
  );
  const lbAttached = (table: 'switches' | 'routers', name: string) =>
    plan.loadBalancers.filter((lb) => lb[table].includes(name)).map((lb) => `lb-${lb.lb}`);
  return {
    switches: plan.switches.map((s) => ({
      uuid: `ls-${s.name}`,
      name: s.name,
      externalIds: { ...s.externalIds },
      otherConfig: {},
      acls: plan.acls.flatMap((a, k) => (a.switch === s.name ? [`acl-${k}`] : [])),
      ports: s.ports.map((p) => `lsp-${p.name}`),
      loadBalancers: lbAttached('switches', s.name),
      ...(plan.dns ? { dnsRecords: [`dns-${plan.lab}`] } : {}),
    })),
    ports: plan.switches.flatMap((s) =>
      s.ports.map((p) => ({
        uuid: `lsp-${p.name}`,
        name: p.name,
        type: p.type,
        addresses: [p.addresses],
        options: (p.routerPort ? { 'router-port': p.routerPort } : {}) as Record<string, string>,
        externalIds: { ...p.externalIds },
        up: true,
        ...(dhcpPorts.get(p.name) ? { dhcpv4Options: dhcpPorts.get(p.name) } : {}),
        ...(dhcp6Ports.get(p.name) ? { dhcpv6Options: dhcp6Ports.get(p.name) } : {}),
      })),
    ),
    routers: plan.routers.map((r) => ({
      uuid: `lr-${r.router}`,
      name: r.router,
      externalIds: { ...r.externalIds },
      staticRoutes: r.routes.map((_, k) => `route-${r.router}-${k}`),
      options: (r.chassis ? { chassis: CHASSIS } : {}) as Record<string, string>,
      nat: r.nat.map((_, k) => `nat-${r.router}-${k}`),
      loadBalancers: lbAttached('routers', r.router),
    })),
    routerPorts: plan.routers.flatMap((r) =>
      r.ports.map((p) => ({
        uuid: `lrp-${p.name}`,
        name: p.name,
        mac: p.mac,
        networks: [...p.networks],
        externalIds: { 'labctl-lab': plan.lab },
        ...(p.ra ? { raConfigs: { ...RA_CONFIGS } } : {}),
      })),
    ),
    acls: plan.acls.map((a, k) => ({
      uuid: `acl-${k}`,
      direction: a.direction,
      priority: a.priority,
      match: a.match,
      action: a.action,
      name: a.name,
      externalIds: { ...a.externalIds },
    })),
    routes: plan.routers.flatMap((r) =>
      r.routes.map((rt, k) => ({
        uuid: `route-${r.router}-${k}`,
        prefix: rt.prefix,
        nexthop: rt.nexthop,
        externalIds: { 'labctl-lab': plan.lab },
      })),
    ),
    nat: plan.routers.flatMap((r) =>
      r.nat.map((n, k) => ({
        uuid: `nat-${r.router}-${k}`,
        type: n.type,
        externalIp: n.external,
        logicalIp: n.logical,
        externalIds: { 'labctl-lab': plan.lab },
      })),
    ),
    loadBalancers: plan.loadBalancers.map((lb) => ({
      uuid: `lb-${lb.lb}`,
      name: lb.lb,
      vips: {
        [lb.vip]: lb.backends.map((b) => (b.port !== undefined ? `${b.ip}:${b.port}` : b.ip)).join(','),
      },
      protocol: lb.protocol ?? '',
      externalIds: { ...lb.externalIds },
    })),
    dhcpOptions: plan.switches.flatMap((s) => [
      ...(s.dhcp
        ? [
            {
              uuid: `dhcp-${s.network}`,
              cidr: s.dhcp.cidr,
              options: { ...s.dhcp.options },
              externalIds: { ...s.dhcp.externalIds },
            },
          ]
        : []),
      ...(s.dhcp6
        ? [
            {
              uuid: `dhcp6-${s.network}`,
              cidr: s.dhcp6.cidr,
              options: { ...s.dhcp6.options },
              externalIds: { ...s.dhcp6.externalIds },
            },
          ]
        : []),
    ]),
    dns: plan.dns
      ? [
          {
            uuid: `dns-${plan.lab}`,
            records: { ...plan.dns.records },
            externalIds: { ...plan.dns.externalIds },
          },
        ]
      : [],
  };
}
