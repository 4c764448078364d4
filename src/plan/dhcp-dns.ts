/**
 * dhcp: and dns: (docs/dhcp-dns.md), compiled: each DHCP network's OVN DHCP_Options, each network's service address
 * (what the DHCP server and DNS resolver answer as), the lab's DNS records and each node's resolver. Pure; called
 * by compilePlan once the nodes, switches and routers are laid out.
 */
import { serviceAddressOf } from '../lab/service-address.js';
import type { Lab } from '../lab/types.js';
import { EXTID_LAB, type Plan, type PlanService } from './types.js';

/**
 * OVN keeps no lease state (it answers every request from the port's addresses), and the client labctl runs exits
 * after its lease with the address set permanently: a long lease keeps any other client from renewing needlessly.
 */
export const DHCP_LEASE_TIME_S = 31_536_000;

/** The service address of each network that needs one; `mac` derives a MAC for a routerless network's. */
export function compileServices(
  lab: Lab,
  plan: Pick<Plan, 'routers'>,
  gatewayOf: ReadonlyMap<string, string>,
  gateway6Of: ReadonlyMap<string, string>,
  mac: (network: string) => string,
): Map<string, PlanService> {
  const out = new Map<string, PlanService>();
  for (const net of lab.networks) {
    if (!net.dhcp && !lab.dns) continue;
    // The first router linking the network owns its gateway addresses (compilePlan): its port answers ARP/ND for them.
    const gw = gatewayOf.get(net.name);
    const gw6 = gateway6Of.get(net.name);
    const owns = (c: string) =>
      (gw !== undefined && c.startsWith(`${gw}/`)) || (gw6 !== undefined && c.startsWith(`${gw6}/`));
    const port = plan.routers
      .flatMap((r) => r.ports)
      .find((p) => p.network === net.name && p.networks.some(owns));
    if (port)
      out.set(net.name, {
        ...(gw !== undefined && net.subnet ? { ip: gw } : {}),
        ...(gw6 !== undefined ? { ip6: gw6 } : {}),
        mac: port.mac,
        neighbour: false,
      });
    else
      out.set(net.name, {
        ...(net.subnet ? { ip: serviceAddressOf(net.subnet) } : {}),
        mac: mac(net.name),
        neighbour: net.subnet !== undefined,
      });
  }
  return out;
}

/**
 * resolv.conf options. OVN 23.03 leaves a query it has no answer of that type for unanswered (ovn-controller's
 * dns_lookup lets the packet pass on), so glibc's AAAA query for an IPv4-only name would stall every lookup until
 * its timeout: `no-aaaa` (glibc ≥ 2.36, the node image's) asks for A only; a short timeout bounds the rest.
 */
export const RESOLVER_OPTIONS = ['no-aaaa', 'timeout:1', 'attempts:2'];
/** a lab with IPv6 addresses asks for AAAA too (a lookup of an IPv4-only name then waits ≤ 1 s for it) */
export const RESOLVER_OPTIONS_V6 = ['timeout:1', 'attempts:2'];

export function compileDhcpDns(lab: Lab, plan: Plan, services: ReadonlyMap<string, PlanService>): void {
  const L = lab.name;
  for (const sw of plan.switches) {
    const svc = services.get(sw.network);
    if (!svc) continue;
    sw.service = { ...svc };
    const net = lab.networks.find((n) => n.name === sw.network)!;
    if (!net.dhcp) continue;
    const externalIds = { [EXTID_LAB]: L, 'labctl-network': net.name };
    // stateful DHCPv6: OVN leases the port's planned IPv6 address; it answers as the service MAC (server_id)
    if (net.cidr6)
      sw.dhcp6 = {
        cidr: net.cidr6,
        options: { server_id: svc.mac, ...(lab.dns && svc.ip6 ? { dns_server: svc.ip6 } : {}) },
        externalIds: { ...externalIds },
      };
    if (!net.cidr || svc.ip === undefined) continue;
    const options: Record<string, string> = {
      server_id: svc.ip,
      server_mac: svc.mac,
      lease_time: String(DHCP_LEASE_TIME_S),
      mtu: String(net.mtu),
    };
    if (!svc.neighbour) options.router = svc.ip;
    if (lab.dns) options.dns_server = svc.ip;
    sw.dhcp = { cidr: net.cidr, options, externalIds };
  }
  for (const node of plan.nodes)
    for (const i of node.interfaces) {
      const svc = services.get(i.network);
      if (svc?.neighbour && svc.ip !== undefined) i.neighbour = { ip: svc.ip, mac: svc.mac };
    }
  if (!lab.dns) return;
  const records: Record<string, string> = {};
  const v6 = plan.nodes.some((n) => n.interfaces.some((i) => i.ip6));
  for (const node of plan.nodes) {
    // A and AAAA: OVN answers each query type from the addresses of its family
    const ips = [...new Set(node.interfaces.flatMap((i) => [i.ip, i.ip6]).filter((x): x is string => !!x))];
    if (!ips.length) continue;
    records[node.name] = ips.join(' ');
    records[`${node.name}.${L}`] = ips.join(' ');
    // the first network whose service the node can reach: its IPv4 address, else the router's IPv6 one
    const server = node.interfaces.map((i) => services.get(i.network)).find((x) => x?.ip ?? x?.ip6);
    if (server)
      node.resolver = {
        nameservers: [(server.ip ?? server.ip6)!],
        search: [L],
        options: v6 ? RESOLVER_OPTIONS_V6 : RESOLVER_OPTIONS,
      };
  }
  const publics = new Map<string, string[]>();
  for (const r of plan.routers)
    for (const n of r.nat)
      if (n.node && n.type !== 'snat') publics.set(n.node, [...(publics.get(n.node) ?? []), n.external]);
  for (const [node, ips] of publics) records[`${node}.public.${L}`] = [...new Set(ips)].join(' ');
  // a load balancer's name stands for its VIP: the abstract address a client reaches the service by
  for (const lb of plan.loadBalancers) {
    records[lb.name] = lb.vipIp;
    records[`${lb.name}.${L}`] = lb.vipIp;
  }
  plan.dns = { records, externalIds: { [EXTID_LAB]: L } };
}
