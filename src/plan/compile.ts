/**
 * compilePlan: Lab → Plan, pure and synchronous. The same lab (and the same prior addresses) always gives the same
 * plan. Names and MACs of a node depend only on that node. Addresses: explicit ones first, then the addresses the
 * running lab already gave (`prior`, sticky), then the rest in file order from what is free — so inserting,
 * removing or reordering nodes never renumbers a node that runs.
 */

import {
  type Cidr,
  contains,
  firstHost,
  intToIp,
  ipToInt,
  isHostAddress,
  isIPv4,
  parseCidr,
  size,
} from '../lab/ipv4.js';
import {
  base6,
  bigToIp6,
  type Cidr6,
  contains6,
  firstHost6,
  formatCidr6,
  ip6ToBig,
  isHostAddress6,
  normalize6,
  parseCidr6,
  size6,
} from '../lab/ipv6.js';
import { macFromDigest } from '../lab/mac.js';
import { serviceAddressOf } from '../lab/service-address.js';
import type { Lab, LabNetwork, LabPolicy } from '../lab/types.js';
import { digest } from '../names.js';
import { centralPaths, chassisNaming } from './chassis-naming.js';
import { compileDhcpDns, compileServices } from './dhcp-dns.js';
import {
  EXTID_ALLOC,
  EXTID_ALLOC6,
  EXTID_IFACE,
  EXTID_LAB,
  EXTID_NODE,
  LABEL_CHASSIS,
  LABEL_LAB,
  LABEL_NODE,
  PLAN_VERSION,
  type Plan,
  type PlanAcl,
  type PlanChassis,
  type PlanInterface,
  type PlanLoadBalancer,
  type PlanNode,
  type PlanPolicy,
  type PlanPolicyEnd,
  type PlanRoute,
  type PlanRouter,
  type PlanRouterPort,
  type PlanSwitch,
  type PriorAddresses,
} from './types.js';

export const LOCAL_HOST = 'local';

/** Derived names: one place, so apply, down, status and doctor all agree. */
export const naming = {
  container: (lab: string, node: string) => `labctl.${lab}.${node}`,
  switch: (lab: string, network: string) => `${lab}.${network}`,
  router: (lab: string, router: string) => `${lab}.${router}`,
  nodePort: (lab: string, node: string, iface: string) => `${lab}.${node}.${iface}`,
  routerPort: (lab: string, router: string, network: string) => `${lab}.${router}.${network}.lrp`,
  routerSwitchPort: (lab: string, router: string, network: string) => `${lab}.${router}.${network}.lsp`,
  /** host-side veth: "lv" + 13 hex digits = 15 bytes, the Linux limit; the lab is in the digest, so unique per host */
  hostVeth: (lab: string, node: string, iface: string, salt = 0) =>
    `lv${digest(['veth', lab, node, iface, String(salt)], 13)}`,
  peerTmp: (hostVeth: string) => `lp${hostVeth.slice(2)}`,
  /** an impaired interface's relay twin pair (docs/impairments.md): lw… held by the relay, lb… on the bridge */
  relayVeth: (hostVeth: string) => `lw${hostVeth.slice(2)}`,
  bridgeVeth: (hostVeth: string) => `lb${hostVeth.slice(2)}`,
  acl: (lab: string, policy: number) => `${lab}-p${policy}`,
  loadBalancer: (lab: string, lb: string) => `${lab}.${lb}`,
};

/** The hosts a lab's nodes go on: its chassis (multi-chassis labs), else this host's chassis. */
export function labHosts(lab: Lab): string[] {
  return lab.chassis?.length ? lab.chassis.map((c) => c.name) : [LOCAL_HOST];
}

export interface CompileOptions {
  /** addresses the running lab gave to interfaces without an explicit ip (see PriorAddresses) */
  prior?: PriorAddresses;
}

export function compilePlan(lab: Lab, opts: CompileOptions = {}): Plan {
  const L = lab.name;
  const labIds = { [EXTID_LAB]: L };
  const netByName = new Map(lab.networks.map((n) => [n.name, n]));

  // ---- router addresses per network (first router linking a network owns the gateway address)
  const routerIp = new Map<string, Map<string, string>>(); // router -> network -> ip
  const routerIp6 = new Map<string, Map<string, string>>(); // router -> network -> ip6
  const gatewayOf = new Map<string, string>(); // network -> gateway ip
  const gateway6Of = new Map<string, string>(); // network -> gateway ip6
  for (const r of lab.routers) {
    const m = new Map<string, string>();
    const m6 = new Map<string, string>();
    for (const link of r.links) {
      const net = netByName.get(link.network)!;
      if (net.subnet) {
        const ip = link.ip ?? net.gateway ?? intToIp(firstHost(net.subnet));
        m.set(link.network, ip);
        if (!gatewayOf.has(link.network)) gatewayOf.set(link.network, ip);
      }
      if (net.subnet6) {
        const ip6 = link.ip6 ?? bigToIp6(firstHost6(net.subnet6));
        m6.set(link.network, ip6);
        if (!gateway6Of.has(link.network)) gateway6Of.set(link.network, ip6);
      }
    }
    routerIp.set(r.name, m);
    routerIp6.set(r.name, m6);
  }
  for (const n of lab.networks) if (n.gateway && !gatewayOf.has(n.name)) gatewayOf.set(n.name, n.gateway);

  // ---- addresses: reserve router, gateway and explicit ones first, then allocate in file order
  const used = new Map<string, Set<number>>(lab.networks.map((n) => [n.name, new Set<number>()]));
  for (const m of routerIp.values()) for (const [net, ip] of m) used.get(net)!.add(ipToInt(ip));
  for (const [net, ip] of gatewayOf) used.get(net)!.add(ipToInt(ip));
  // dhcp/dns on a network no router links: its service address (docs/dhcp-dns.md) is nobody's
  for (const n of lab.networks)
    if (
      n.subnet &&
      (n.dhcp || lab.dns) &&
      !lab.routers.some((r) => r.links.some((l) => l.network === n.name))
    )
      used.get(n.name)!.add(ipToInt(serviceAddressOf(n.subnet)));
  for (const node of lab.nodes)
    for (const i of node.interfaces) if (i.ip) used.get(i.network)!.add(ipToInt(i.ip));
  const used6 = new Map<string, Set<bigint>>(lab.networks.map((n) => [n.name, new Set<bigint>()]));
  for (const m of routerIp6.values()) for (const [net, ip] of m) used6.get(net)!.add(ip6ToBig(ip));
  for (const node of lab.nodes)
    for (const i of node.interfaces) if (i.ip6) used6.get(i.network)!.add(ip6ToBig(i.ip6));
  // Sticky: an interface keeps the address labctl allocated to it while the lab runs (the prior), as long as that
  // address is still a host address of its network and nobody claims it explicitly (an explicit ip or a router
  // address wins; the loser is allocated anew). An interface whose ip: overrides its allocation keeps the
  // allocation reserved, so dropping the override (or the next `up` after a readdress) puts it back.
  // The same holds for IPv6 (ip6, labctl-alloc6).
  const sticky = new Map<string, string>();
  const sticky6 = new Map<string, string>();
  if (opts.prior?.size)
    for (const node of lab.nodes)
      for (const i of node.interfaces) {
        const p = opts.prior.get(`${node.name}.${i.name}`);
        if (!p || p.network !== i.network) continue;
        const net = netByName.get(i.network)!;
        if (p.ip && net.subnet) {
          const n = isIPv4(p.ip) ? ipToInt(p.ip) : Number.NaN;
          const taken = used.get(i.network)!;
          if (!Number.isNaN(n) && contains(net.subnet, n) && isHostAddress(net.subnet, n) && !taken.has(n)) {
            taken.add(n);
            sticky.set(`${node.name}.${i.name}`, p.ip);
          }
        }
        const ip6 = p.ip6 ? normalize6(p.ip6) : undefined;
        if (ip6 && net.subnet6) {
          const n = ip6ToBig(ip6);
          const taken = used6.get(i.network)!;
          if (isHostAddress6(net.subnet6, n) && !taken.has(n)) {
            taken.add(n);
            sticky6.set(`${node.name}.${i.name}`, ip6);
          }
        }
      }
  const nextFree = new Map<string, number>(
    lab.networks.filter((n) => n.subnet).map((n) => [n.name, firstHost(n.subnet!)]),
  );
  // `avoid`: the node's own addresses on its other interfaces — two networks may share a subnet, and one node must
  // not get the same address twice. An address skipped only for that stays free for the next node.
  const allocate = (net: LabNetwork, avoid: ReadonlySet<number>): string => {
    const subnet = net.subnet!;
    let candidate = nextFree.get(net.name)!;
    const taken = used.get(net.name)!;
    let skipped = false;
    while (taken.has(candidate) || !isHostAddress(subnet, candidate) || avoid.has(candidate)) {
      if (!taken.has(candidate) && avoid.has(candidate)) skipped = true;
      candidate++;
      if (!contains(subnet, candidate)) throw new Error(`no free address in ${net.cidr}`); // validate.ts prevents this
    }
    taken.add(candidate);
    if (!skipped) nextFree.set(net.name, candidate + 1);
    return intToIp(candidate);
  };
  const nextFree6 = new Map<string, bigint>(
    lab.networks.filter((n) => n.subnet6).map((n) => [n.name, firstHost6(n.subnet6!)]),
  );
  const allocate6 = (net: LabNetwork, avoid: ReadonlySet<bigint>): string => {
    const subnet = net.subnet6!;
    let candidate = nextFree6.get(net.name)!;
    const taken = used6.get(net.name)!;
    let skipped = false;
    while (taken.has(candidate) || !isHostAddress6(subnet, candidate) || avoid.has(candidate)) {
      if (!taken.has(candidate) && avoid.has(candidate)) skipped = true;
      candidate++;
      if (!contains6(subnet, candidate)) throw new Error(`no free IPv6 address in ${net.cidr6}`); // validate.ts prevents this
    }
    taken.add(candidate);
    if (!skipped) nextFree6.set(net.name, candidate + 1n);
    return bigToIp6(candidate);
  };

  // ---- MACs and veth names: derived from (lab, node, iface); explicit MACs reserved first; collisions salted
  const macsUsed = new Set<string>();
  for (const node of lab.nodes) for (const i of node.interfaces) if (i.mac) macsUsed.add(i.mac);
  const deriveMac = (parts: string[]): string => {
    for (let salt = 0; ; salt++) {
      const mac = macFromDigest(digest(['mac', ...parts, ...(salt ? [String(salt)] : [])], 10));
      if (!macsUsed.has(mac)) {
        macsUsed.add(mac);
        return mac;
      }
    }
  };
  const vethsUsed = new Set<string>();
  const deriveVeth = (node: string, iface: string): string => {
    for (let salt = 0; ; salt++) {
      const name = naming.hostVeth(L, node, iface, salt);
      if (!vethsUsed.has(name)) {
        vethsUsed.add(name);
        return name;
      }
    }
  };

  // ---- nodes
  const nodes: PlanNode[] = lab.nodes.map((node) => {
    const own = new Set<number>();
    const own6 = new Set<bigint>();
    for (const i of node.interfaces) {
      const ip = i.ip ?? sticky.get(`${node.name}.${i.name}`);
      if (ip) own.add(ipToInt(ip));
      const ip6 = i.ip6 ?? sticky6.get(`${node.name}.${i.name}`);
      if (ip6) own6.add(ip6ToBig(ip6));
    }
    const interfaces: PlanInterface[] = node.interfaces.map((i) => {
      const net = netByName.get(i.network)!;
      const hostVeth = deriveVeth(node.name, i.name);
      const lsp = naming.nodePort(L, node.name, i.name);
      let allocated = net.subnet ? sticky.get(`${node.name}.${i.name}`) : undefined;
      if (!allocated && !i.ip && net.subnet) {
        allocated = allocate(net, own);
        own.add(ipToInt(allocated));
      }
      let allocated6 = net.subnet6 ? sticky6.get(`${node.name}.${i.name}`) : undefined;
      if (!allocated6 && !i.ip6 && net.subnet6) {
        allocated6 = allocate6(net, own6);
        own6.add(ip6ToBig(allocated6));
      }
      const pi: PlanInterface = {
        name: i.name,
        network: i.network,
        switch: naming.switch(L, i.network),
        lsp,
        hostVeth,
        peerTmp: naming.peerTmp(hostVeth),
        mac: i.mac ?? deriveMac([L, node.name, i.name]),
        ip: i.ip ?? allocated,
        prefix: net.subnet?.prefix,
        mtu: i.mtu ?? net.mtu,
        txOffload: false,
        ovsExternalIds: { 'iface-id': lsp, [EXTID_LAB]: L, [EXTID_NODE]: node.name, [EXTID_IFACE]: i.name },
      };
      if (!net.subnet) {
        delete pi.ip;
        delete pi.prefix;
      }
      const gw = gatewayOf.get(i.network);
      if (gw) pi.gateway = gw;
      if (i.dhcp) pi.dhcp = true;
      if (allocated) pi.allocated = allocated;
      if (net.subnet6) {
        pi.ip6 = i.ip6 ?? allocated6!;
        pi.prefix6 = net.subnet6.prefix;
        const gw6 = gateway6Of.get(i.network);
        if (gw6) pi.gateway6 = gw6;
        if (allocated6) pi.allocated6 = allocated6;
        if (net.ra) pi.ra = true;
        if (i.dhcp6) pi.dhcp6 = true;
      }
      if (i.impair)
        pi.impair = {
          ...i.impair,
          relayVeth: naming.relayVeth(hostVeth),
          bridgeVeth: naming.bridgeVeth(hostVeth),
        };
      return pi;
    });
    const pn: PlanNode = {
      name: node.name,
      host: node.chassis ?? LOCAL_HOST,
      container: naming.container(L, node.name),
      hostname: node.name,
      image: node.image,
      env: { ...node.env },
      labels: {
        [LABEL_LAB]: L,
        [LABEL_NODE]: node.name,
        ...(node.chassis ? { [LABEL_CHASSIS]: node.chassis } : {}),
      },
      interfaces,
      routes: [...nodeRoutes(lab, interfaces, routerIp), ...nodeRoutes6(lab, interfaces, routerIp6)],
      listen: node.listen.map((l) => ({ ...l })),
    };
    // copies: the plan shares no mutable objects with the lab (like ovn and expect below)
    if (node.build) pn.build = { ...node.build };
    if (node.cmd) pn.cmd = [...node.cmd];
    return pn;
  });

  // ---- switches
  const switches: PlanSwitch[] = lab.networks.map((net) => {
    const sw: PlanSwitch = {
      name: naming.switch(L, net.name),
      network: net.name,
      ...(net.cidr ? { subnet: net.cidr } : {}),
      mtu: net.mtu,
      externalIds: { ...labIds, 'labctl-network': net.name },
      ports: [],
    };
    if (net.cidr6) sw.subnet6 = net.cidr6;
    if (net.ra) sw.ra = true;
    return sw;
  });
  const switchByNet = new Map(switches.map((s) => [s.network, s]));
  for (const node of nodes)
    for (const i of node.interfaces)
      switchByNet.get(i.network)!.ports.push({
        name: i.lsp,
        type: '',
        addresses: [i.mac, i.ip, i.ip6].filter(Boolean).join(' '),
        node: node.name,
        iface: i.name,
        externalIds: {
          ...labIds,
          [EXTID_NODE]: node.name,
          [EXTID_IFACE]: i.name,
          // the allocation is remembered where the running lab is: the next up reads it back as its prior
          ...(i.allocated ? { [EXTID_ALLOC]: i.allocated } : {}),
          ...(i.allocated6 ? { [EXTID_ALLOC6]: i.allocated6 } : {}),
        },
      });

  // ---- routers
  const routers: PlanRouter[] = lab.routers.map((r) => {
    const ports = r.links.map((link) => {
      const net = netByName.get(link.network)!;
      const ip = routerIp.get(r.name)!.get(link.network);
      const ip6 = routerIp6.get(r.name)!.get(link.network);
      const port: PlanRouterPort = {
        name: naming.routerPort(L, r.name, link.network),
        network: link.network,
        mac: deriveMac([L, 'router', r.name, link.network]),
        networks: [
          ...(ip && net.subnet ? [`${ip}/${net.subnet.prefix}`] : []),
          ...(ip6 && net.subnet6 ? [`${ip6}/${net.subnet6.prefix}`] : []),
        ],
        switchPort: naming.routerSwitchPort(L, r.name, link.network),
      };
      if (net.ra && ip6) port.ra = true;
      switchByNet.get(link.network)!.ports.push({
        name: port.switchPort,
        type: 'router',
        addresses: 'router',
        routerPort: port.name,
        externalIds: { ...labIds, 'labctl-router': r.name },
      });
      return port;
    });
    const linked = new Set(r.links.map((l) => l.network));
    const pr: PlanRouter = {
      name: r.name,
      router: naming.router(L, r.name),
      externalIds: { ...labIds, 'labctl-router': r.name },
      ports,
      routes: r.routes.map((rt) => ({ prefix: rt.prefix, nexthop: rt.via })),
      nat: r.nat.map((n) => {
        const v6 = n.external.includes(':');
        const node = nodes.find((x) => x.name === n.internal);
        if (node) {
          const i = node.interfaces.find((x) => linked.has(x.network) && (v6 ? x.ip6 : x.ip))!;
          return { type: n.type, external: n.external, logical: (v6 ? i.ip6 : i.ip)!, node: node.name };
        }
        const net = lab.networks.find((x) => x.name === n.internal);
        const logical = net ? (v6 ? net.cidr6 : net.cidr)! : (normalizeCidrText(n.internal) ?? n.internal);
        return { type: n.type, external: n.external, logical };
      }),
    };
    if (r.chassis) pr.chassis = r.chassis;
    if (r.gateway) {
      const port = ports.find((x) => x.network === r.gateway!.network)!;
      pr.gateway = {
        network: r.gateway.network,
        port: port.name,
        redirectPort: `cr-${port.name}`,
        chassis: r.gateway.chassis.map((c) => ({
          name: c.name,
          systemId: chassisNaming.systemId(L, c.name),
          priority: c.priority,
        })),
      };
      // the new active gateway announces the router's addresses (GARP) on the external network after a failover
      const lsp = switchByNet.get(port.network)!.ports.find((x) => x.name === port.switchPort)!;
      lsp.options = { 'nat-addresses': 'router' };
    }
    return pr;
  });

  const plan: Plan = {
    version: PLAN_VERSION,
    lab: L,
    ovn: { ...lab.ovn, encap: { ...lab.ovn.encap } },
    hosts: labHosts(lab).map((name) => ({ name })),
    nodes,
    switches,
    routers,
    acls: compileAcls(lab, nodes, switches, routers),
    policies: compilePolicies(lab, nodes, routers),
    loadBalancers: compileLoadBalancers(lab, nodes),
    expect: lab.expect.map((e) => ({ ...e })),
  };
  if (lab.chassis?.length && lab.underlay) compileChassis(lab, plan);
  if (lab.dns || lab.networks.some((n) => n.dhcp))
    compileDhcpDns(
      lab,
      plan,
      compileServices(lab, plan, gatewayOf, gateway6Of, (net) => deriveMac([L, 'service', net])),
    );
  return plan;
}

/**
 * A multi-chassis lab: its chassis and underlay, and its own OVN central (NB/SB on unix sockets under the lab's
 * runtime directory), so the plan's ovn.nb / ovn.remote point every tool at the lab's central.
 */
function compileChassis(lab: Lab, plan: Plan): void {
  const L = lab.name;
  plan.chassis = lab.chassis!.map((c) => {
    const pc: PlanChassis = {
      name: c.name,
      kind: c.kind,
      systemId: chassisNaming.systemId(L, c.name),
      encapIp: c.encapIp,
    };
    if (c.kind === 'simulated') pc.netns = chassisNaming.netns(L, c.name);
    if (c.ssh) pc.ssh = c.ssh;
    if (c.sshKey) pc.sshKey = c.sshKey;
    if (c.knownHosts) pc.knownHosts = c.knownHosts;
    if (c.hostKey) pc.hostKey = c.hostKey;
    if (c.uplink) pc.uplink = c.uplink;
    return pc;
  });
  plan.underlay = { ...lab.underlay!, netns: chassisNaming.underlayNetns(L) };
  // HA gateways: their external network is a provider network (a localnet port, bridged on every chassis), so
  // traffic reaches the active gateway chassis wherever the external nodes are (OVN admits a gateway port's
  // traffic only on its active chassis)
  const external = [...new Set(plan.routers.flatMap((r) => (r.gateway ? [r.gateway.network] : [])))];
  if (external.length) {
    plan.underlay.external = external.map((network, i) => ({
      network,
      ...chassisNaming.external(i),
    }));
    for (const x of plan.underlay.external) {
      const sw = plan.switches.find((s) => s.network === x.network)!;
      sw.ports.push({
        name: `${sw.name}.localnet`,
        type: 'localnet',
        addresses: 'unknown',
        options: { network_name: x.physnet },
        externalIds: { [EXTID_LAB]: L },
      });
    }
  }
  const central = centralPaths(L);
  plan.ovn = {
    ...plan.ovn,
    nb: `unix:${central.nbSock}`,
    remote: `unix:${central.sbSock}`,
    datapath: 'netdev',
  };
}

/**
 * Default route via the first routed interface; for further routed interfaces whose router differs, a route to
 * each subnet that router links (unless directly connected).
 */
function nodeRoutes(
  lab: Lab,
  ifaces: PlanInterface[],
  routerIp: Map<string, Map<string, string>>,
): PlanRoute[] {
  const routes: PlanRoute[] = [];
  const connected = new Set(ifaces.map((i) => i.network));
  const routerOfNet = (net: string) => lab.routers.find((r) => r.links.some((l) => l.network === net));
  const routed = ifaces.filter((i) => i.gateway);
  const first = routed[0];
  if (!first) return routes;
  routes.push({ dst: 'default', via: first.gateway!, dev: first.name });
  const defaultRouter = routerOfNet(first.network)?.name;
  const seen = new Set<string>();
  for (const i of routed.slice(1)) {
    const r = routerOfNet(i.network);
    if (!r || r.name === defaultRouter) continue;
    for (const [net] of routerIp.get(r.name)!) {
      if (connected.has(net) || seen.has(net)) continue;
      seen.add(net);
      const n = lab.networks.find((x) => x.name === net)!;
      if (n.cidr) routes.push({ dst: n.cidr, via: i.gateway!, dev: i.name });
    }
  }
  return routes;
}

/** An IPv6 CIDR or address in RFC 5952 form (a policy or NAT end as written); undefined when not IPv6. */
function normalizeCidrText(text: string): string | undefined {
  if (!text.includes(':')) return undefined;
  const c = parseCidr6(text.includes('/') ? text : `${text}/128`);
  if (!c.ok) return undefined;
  return c.cidr.prefix === 128 ? c.cidr.base : formatCidr6(c.cidr);
}

/** The IPv6 twin of nodeRoutes: a default route via the first interface with an IPv6 gateway, and so on. */
function nodeRoutes6(
  lab: Lab,
  ifaces: PlanInterface[],
  routerIp6: Map<string, Map<string, string>>,
): PlanRoute[] {
  const routes: PlanRoute[] = [];
  const connected = new Set(ifaces.map((i) => i.network));
  const routerOfNet = (net: string) =>
    lab.routers.find((r) => routerIp6.get(r.name)?.has(net) && r.links.some((l) => l.network === net));
  const routed = ifaces.filter((i) => i.gateway6);
  const first = routed[0];
  if (!first) return routes;
  routes.push({ dst: 'default', family: 6, via: first.gateway6!, dev: first.name });
  const defaultRouter = routerOfNet(first.network)?.name;
  const seen = new Set<string>();
  for (const i of routed.slice(1)) {
    const r = routerOfNet(i.network);
    if (!r || r.name === defaultRouter) continue;
    for (const [net] of routerIp6.get(r.name)!) {
      if (connected.has(net) || seen.has(net)) continue;
      seen.add(net);
      const n = lab.networks.find((x) => x.name === net)!;
      routes.push({ dst: n.cidr6!, family: 6, via: i.gateway6!, dev: i.name });
    }
  }
  return routes;
}

interface Endpoint {
  /** ip4 match values */
  addrs: string[];
  /** ip6 match values (RFC 5952) */
  addrs6: string[];
  /** networks the endpoint lives on (for ACL placement) */
  networks: string[];
  /** logical ports, when the endpoint is a node */
  ports: { lsp: string; network: string }[];
  /** member nodes, when the endpoint is a node or a group */
  nodes?: string[];
  /** the CIDR, when the endpoint is an IPv4 address/CIDR */
  cidr?: Cidr;
  /** the CIDR, when the endpoint is an IPv6 address/CIDR */
  cidr6?: Cidr6;
}

function resolveEndpoint(lab: Lab, nodes: PlanNode[], routers: PlanRouter[], ref: string): Endpoint {
  const members = lab.groups[ref] ?? (nodes.some((n) => n.name === ref) ? [ref] : undefined);
  if (members) {
    const ns = members.map((m) => nodes.find((n) => n.name === m)!);
    // A node's public (NAT) addresses are its addresses too: after SNAT the receiver sees those.
    const nat = routers.flatMap((r) =>
      r.nat.filter((x) => x.node && members.includes(x.node) && x.type !== 'dnat').map((x) => x.external),
    );
    const ifaces = ns.flatMap((n) => n.interfaces);
    return {
      addrs: [...ifaces.flatMap((i) => (i.ip ? [i.ip] : [])), ...nat.filter((a) => !a.includes(':'))],
      addrs6: [...ifaces.flatMap((i) => (i.ip6 ? [i.ip6] : [])), ...nat.filter((a) => a.includes(':'))],
      networks: ifaces.map((i) => i.network),
      ports: ifaces.map((i) => ({ lsp: i.lsp, network: i.network })),
      nodes: [...members],
    };
  }
  const net = lab.networks.find((n) => n.name === ref);
  if (net)
    return {
      addrs: net.cidr ? [net.cidr] : [],
      addrs6: net.cidr6 ? [net.cidr6] : [],
      networks: [net.name],
      ports: [],
    };
  if (ref.includes(':')) {
    const parsed = parseCidr6(ref.includes('/') ? ref : `${ref}/128`);
    const cidr6 = (parsed as { cidr: Cidr6 }).cidr;
    const networks = lab.networks
      .filter((n) => n.subnet6 && overlaps6Cidr(n.subnet6, cidr6))
      .map((n) => n.name);
    return { addrs: [], addrs6: [cidr6Text(cidr6)], networks, ports: [], cidr6 };
  }
  const parsed = parseCidr(ref.includes('/') ? ref : `${ref}/32`);
  const cidr = (parsed as { cidr: Cidr }).cidr;
  const text = cidr.prefix === 32 ? intToIp(cidr.base) : `${intToIp(cidr.base)}/${cidr.prefix}`;
  const networks = lab.networks.filter((n) => n.subnet && overlapsCidr(n.subnet, cidr)).map((n) => n.name);
  return { addrs: [text], addrs6: [], networks, ports: [], cidr };
}

function overlapsCidr(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

function overlaps6Cidr(a: Cidr6, b: Cidr6): boolean {
  return contains6(a, base6(b)) || contains6(b, base6(a));
}

function cidrText(c: Cidr): string {
  return c.prefix === 32 ? intToIp(c.base) : `${intToIp(c.base)}/${c.prefix}`;
}

function cidr6Text(c: Cidr6): string {
  return c.prefix === 128 ? c.base : formatCidr6(c);
}

function set(values: string[]): string {
  return values.length === 1 ? values[0]! : `{${values.join(', ')}}`;
}

function l4Match(p: LabPolicy, family: 4 | 6 = 4): string {
  if (p.proto === 'any') return '';
  // icmp6 covers neighbour discovery too; OVN's own ACL stage lets nd/nd_rs/nd_ra pass above every ACL
  if (p.proto === 'icmp') return family === 6 ? ' && icmp6' : ' && icmp4';
  const f = `${p.proto}.dst`;
  if (!p.port) return ` && ${p.proto}`;
  if (p.port.min === p.port.max) return ` && ${f} == ${p.port.min}`;
  return ` && ${f} >= ${p.port.min} && ${f} <= ${p.port.max}`;
}

/** Priority of the catch-all that makes a switch with policies stateful: below every policy (2000 − i ≥ 1001). */
const STATEFUL_PRIORITY = 0;

/**
 * Policies become OVN ACLs, first policy = highest priority (first match wins). An ACL is placed where the packet is
 * delivered: on the destination's switch (to-lport) — for an address/CIDR, restricted to the part inside that
 * switch's subnet, so a packet passing through a switch on its way to a router port never meets it; for a
 * destination (or the part of a CIDR) outside every lab network, on the source's switch (from-lport).
 * Policies are stateful: every switch that carries a policy ACL also gets `<lab>-stateful`, an allow-related
 * catch-all at the lowest priority, which turns on OVN's connection tracking there — so a deny blocks only
 * connections its `from` starts, and replies of connections its `to` starts (or an allow admitted) pass.
 * IPv6 (docs/ipv6.md): a policy gives its ACLs once per family both ends have addresses of — `ip4.*` and `icmp4`,
 * `ip6.*` and `icmp6`; a lab with any IPv6 makes the stateful catch-all match `ip` (both families).
 */
function compileAcls(lab: Lab, nodes: PlanNode[], switches: PlanSwitch[], routers: PlanRouter[]): PlanAcl[] {
  const acls: PlanAcl[] = [];
  const swName = (net: string) => switches.find((s) => s.network === net)!.name;
  lab.policies.forEach((p, i) => {
    const src = resolveEndpoint(lab, nodes, routers, p.from);
    const dst = resolveEndpoint(lab, nodes, routers, p.to);
    const priority = 2000 - i;
    const action = p.action === 'deny' ? 'drop' : 'allow-related';
    const extIds = { [EXTID_LAB]: lab.name, 'labctl-policy': String(i) };
    const name = naming.acl(lab.name, i);
    for (const family of [4, 6] as const) {
      const srcAddrs = family === 4 ? src.addrs : src.addrs6;
      if (!srcAddrs.length) continue;
      const dstAddrs = family === 4 ? dst.addrs : dst.addrs6;
      // a node/group destination is matched by port, whatever its family; an address/network one needs the family
      if (!dst.ports.length && !dstAddrs.length) continue;
      const ipf = family === 4 ? 'ip4' : 'ip6';
      const l4 = l4Match(p, family);
      const srcMatch = `${ipf}.src == ${set(srcAddrs)}`;
      const outside = (dstMatch: string) => {
        for (const net of new Set(src.networks))
          acls.push({
            switch: swName(net),
            direction: 'from-lport',
            priority,
            match: `${srcMatch} && ${dstMatch}${l4}`,
            action,
            name,
            externalIds: extIds,
          });
      };
      if (dst.ports.length) {
        for (const port of dst.ports)
          acls.push({
            switch: swName(port.network),
            direction: 'to-lport',
            priority,
            match: `outport == "${port.lsp}" && ${srcMatch}${l4}`,
            action,
            name,
            externalIds: extIds,
          });
      } else if (family === 4 && dst.networks.length) {
        const subnets: Cidr[] = [];
        for (const net of dst.networks) {
          const subnet = lab.networks.find((n) => n.name === net)!.subnet;
          if (!subnet) continue;
          subnets.push(subnet);
          // the part of the destination inside this switch's subnet (CIDRs nest or are disjoint)
          const part = dst.cidr && dst.cidr.prefix < subnet.prefix ? [cidrText(subnet)] : dst.addrs;
          acls.push({
            switch: swName(net),
            direction: 'to-lport',
            priority,
            match: `ip4.dst == ${set(part)} && ${srcMatch}${l4}`,
            action,
            name,
            externalIds: extIds,
          });
        }
        // a CIDR wider than the lab networks inside it: its outside part, where the source enters the lab's switches
        const c = dst.cidr;
        if (c && subnets.every((s) => s.prefix > c.prefix)) {
          const inside = subnets.reduce((sum, s) => sum + size(s), 0);
          if (inside < size(c))
            outside(`ip4.dst == ${dst.addrs[0]} && !(ip4.dst == ${set(subnets.map(cidrText))})`);
        }
      } else if (family === 6 && dst.networks.length) {
        const subnets: Cidr6[] = [];
        for (const net of dst.networks) {
          const subnet = lab.networks.find((n) => n.name === net)!.subnet6;
          if (!subnet) continue;
          subnets.push(subnet);
          const part = dst.cidr6 && dst.cidr6.prefix < subnet.prefix ? [formatCidr6(subnet)] : dst.addrs6;
          acls.push({
            switch: swName(net),
            direction: 'to-lport',
            priority,
            match: `ip6.dst == ${set(part)} && ${srcMatch}${l4}`,
            action,
            name,
            externalIds: extIds,
          });
        }
        const c = dst.cidr6;
        if (c && subnets.every((s) => s.prefix > c.prefix)) {
          const inside = subnets.reduce((sum, s) => sum + size6(s), 0n);
          if (inside < size6(c))
            outside(`ip6.dst == ${dst.addrs6[0]} && !(ip6.dst == ${set(subnets.map(formatCidr6))})`);
        }
      } else {
        outside(`${ipf}.dst == ${set(dstAddrs)}`);
      }
    }
  });
  const anyV6 = lab.networks.some((n) => n.subnet6);
  for (const sw of [...new Set(acls.map((a) => a.switch))])
    acls.push({
      switch: sw,
      direction: 'to-lport',
      priority: STATEFUL_PRIORITY,
      match: anyV6 ? 'ip' : 'ip4',
      action: 'allow-related',
      name: `${lab.name}-stateful`,
      externalIds: { [EXTID_LAB]: lab.name, 'labctl-stateful': 'true' },
    });
  return acls;
}

/** The policies with their endpoints resolved, as the ACLs above enforce them (plan.policies). */
function compilePolicies(lab: Lab, nodes: PlanNode[], routers: PlanRouter[]): PlanPolicy[] {
  const end = (ref: string): PlanPolicyEnd => {
    const e = resolveEndpoint(lab, nodes, routers, ref);
    const cidrs = [
      ...e.addrs.map((a) => (a.includes('/') ? a : `${a}/32`)),
      ...e.addrs6.map((a) => (a.includes('/') ? a : `${a}/128`)),
    ];
    return { ref, ...(e.nodes ? { nodes: e.nodes } : {}), cidrs };
  };
  return lab.policies.map((p, index) => ({
    index,
    action: p.action,
    from: end(p.from),
    to: end(p.to),
    proto: p.proto,
    ...(p.port && (p.proto === 'tcp' || p.proto === 'udp') ? { port: { ...p.port } } : {}),
  }));
}

/** An address as the host part of OVN's "IP:PORT" (IPv6 in brackets: "[fd00::1]:80"). */
export function hostPort(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/**
 * Load balancers: one OVN Load_Balancer per lab entry with one VIP. Backends named by node use the node's first
 * interface address. Attached to the listed networks' switches and routers (every network by default).
 */
function compileLoadBalancers(lab: Lab, nodes: PlanNode[]): PlanLoadBalancer[] {
  return lab.loadBalancers.map((lb) => {
    const backendPort = lb.backendPort ?? lb.port;
    const backends = lb.backends.map((b) => {
      const node = nodes.find((n) => n.name === b);
      // a node backend: its first interface address of the VIP's family (validation guarantees one)
      const v6 = lb.vip.includes(':');
      const ip = node ? node.interfaces.find((i) => (v6 ? i.ip6 : i.ip))![v6 ? 'ip6' : 'ip']! : b;
      return {
        ...(node ? { node: node.name } : {}),
        ip,
        ...(backendPort !== undefined ? { port: backendPort } : {}),
      };
    });
    const out: PlanLoadBalancer = {
      name: lb.name,
      lb: naming.loadBalancer(lab.name, lb.name),
      vip: lb.port !== undefined ? `${hostPort(lb.vip)}:${lb.port}` : lb.vip,
      vipIp: lb.vip,
      backends,
      switches: lb.attach
        .filter((a) => lab.networks.some((n) => n.name === a))
        .map((a) => naming.switch(lab.name, a)),
      routers: lb.attach
        .filter((a) => lab.routers.some((r) => r.name === a))
        .map((a) => naming.router(lab.name, a)),
      externalIds: { [EXTID_LAB]: lab.name, 'labctl-lb': lb.name },
    };
    if (lb.port !== undefined) {
      out.port = lb.port;
      out.protocol = lb.proto ?? 'tcp';
    }
    return out;
  });
}
