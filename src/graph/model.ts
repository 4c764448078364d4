/**
 * The topology picture's model: what `labctl graph` draws, computed from a Plan alone (pure, synchronous,
 * unit-tested). Nodes with their interfaces, switches with their subnets, routers with their ports and NAT rules,
 * load-balancer VIPs, and the chassis each node and gateway router is placed on. Every element that the doctor's
 * results can be mapped to has a stable id (src/graph/health.ts): `node:NAME`, `iface:NODE.IFACE`,
 * `rlink:ROUTER.NETWORK` (a router port and its link to the switch), `vip:NAME`; switches are `switch:NETWORK` and
 * routers `router:NAME`.
 */
import type { Plan } from '../plan/types.js';

export const nodeId = (node: string) => `node:${node}`;
export const ifaceId = (node: string, iface: string) => `iface:${node}.${iface}`;
export const switchId = (network: string) => `switch:${network}`;
export const routerId = (router: string) => `router:${router}`;
export const routerLinkId = (router: string, network: string) => `rlink:${router}.${network}`;
export const vipId = (lb: string) => `vip:${lb}`;

export interface GraphIface {
  id: string;
  node: string;
  name: string;
  network: string;
  switchId: string;
  ip: string;
  prefix: number;
  mac: string;
}

export interface GraphNode {
  id: string;
  name: string;
  /** the chassis (plan host) the node runs on */
  chassis: string;
  interfaces: GraphIface[];
  /** public addresses a router's NAT rules give this node (dnat_and_snat / dnat) */
  publicIps: { ip: string; router: string; type: string }[];
  /** ports the node's own software serves */
  listen: string[];
}

export interface GraphSwitch {
  id: string;
  network: string;
  subnet: string;
  mtu: number;
}

export interface GraphRouterLink {
  id: string;
  router: string;
  network: string;
  switchId: string;
  /** the router's address on that network, CIDR */
  address: string;
}

export interface GraphRouter {
  id: string;
  name: string;
  /** gateway router: the chassis it is bound to */
  chassis?: string;
  links: GraphRouterLink[];
  /** NAT rules that do not belong to one node (snat of a subnet, …), as "type external ← logical" */
  nat: { type: string; external: string; logical: string; node?: string }[];
}

export interface GraphVip {
  id: string;
  name: string;
  vip: string;
  vipIp: string;
  /** "tcp/80" or undefined (an IP-only VIP answers every port) */
  service?: string;
  backends: { node?: string; ip: string; port?: number }[];
  /** the graph ids of the switches and routers the load balancer is attached to */
  attachedTo: string[];
}

export interface Topology {
  lab: string;
  /** every chassis a node or router is placed on, in plan order (hosts first) */
  chassis: string[];
  nodes: GraphNode[];
  switches: GraphSwitch[];
  routers: GraphRouter[];
  vips: GraphVip[];
}

export type EdgeKind = 'iface' | 'router-link' | 'vip-attach' | 'vip-backend';

/** A line of the picture. `iface` and `router-link` edges carry the id of the element they draw (health keys). */
export interface GraphEdge {
  id: string;
  kind: EdgeKind;
  /** graph ids */
  from: string;
  to: string;
  label?: string;
}

/** The model of a plan: nodes, switches, routers, VIPs and chassis, in plan order. */
export function topologyOf(plan: Plan): Topology {
  const publicIps = new Map<string, GraphNode['publicIps']>();
  for (const r of plan.routers)
    for (const n of r.nat)
      if (n.node && n.type !== 'snat') {
        const list = publicIps.get(n.node) ?? [];
        list.push({ ip: n.external, router: r.name, type: n.type });
        publicIps.set(n.node, list);
      }
  const switchOfOvn = new Map(plan.switches.map((s) => [s.name, s.network]));
  const routerOfOvn = new Map(plan.routers.map((r) => [r.router, r.name]));
  const nodes: GraphNode[] = plan.nodes.map((n) => ({
    id: nodeId(n.name),
    name: n.name,
    chassis: n.host,
    interfaces: n.interfaces.map((i) => ({
      id: ifaceId(n.name, i.name),
      node: n.name,
      name: i.name,
      network: i.network,
      switchId: switchId(i.network),
      // an IPv6-only interface shows its IPv6 address (docs/ipv6.md)
      ip: i.ip ?? i.ip6 ?? '',
      prefix: i.prefix ?? i.prefix6 ?? 0,
      mac: i.mac,
    })),
    publicIps: publicIps.get(n.name) ?? [],
    listen: n.listen.map((l) => `${l.proto}/${l.port}`),
  }));
  const routers: GraphRouter[] = plan.routers.map((r) => ({
    id: routerId(r.name),
    name: r.name,
    ...(r.chassis ? { chassis: r.chassis } : {}),
    links: r.ports.map((p) => ({
      id: routerLinkId(r.name, p.network),
      router: r.name,
      network: p.network,
      switchId: switchId(p.network),
      address: p.networks[0] ?? '',
    })),
    nat: r.nat.filter((n) => !n.node || n.type === 'snat').map((n) => ({ ...n })),
  }));
  const vips: GraphVip[] = plan.loadBalancers.map((lb) => ({
    id: vipId(lb.name),
    name: lb.name,
    vip: lb.vip,
    vipIp: lb.vipIp,
    ...(lb.port !== undefined ? { service: `${lb.protocol ?? 'tcp'}/${lb.port}` } : {}),
    backends: lb.backends.map((b) => ({ ...b })),
    attachedTo: [
      ...lb.routers.flatMap((r) => (routerOfOvn.has(r) ? [routerId(routerOfOvn.get(r)!)] : [])),
      ...lb.switches.flatMap((s) => (switchOfOvn.has(s) ? [switchId(switchOfOvn.get(s)!)] : [])),
    ],
  }));
  const chassis: string[] = [];
  const see = (c: string | undefined) => {
    if (c && !chassis.includes(c)) chassis.push(c);
  };
  for (const h of plan.hosts) see(h.name);
  for (const n of nodes) see(n.chassis);
  for (const r of routers) see(r.chassis);
  return {
    lab: plan.lab,
    chassis,
    nodes,
    switches: plan.switches.map((s) => ({
      id: switchId(s.network),
      network: s.network,
      subnet: [s.subnet, s.subnet6].filter(Boolean).join(' '),
      mtu: s.mtu,
    })),
    routers,
    vips,
  };
}

/** The backend node of a VIP backend: named, or found by address. */
function backendNode(t: Topology, b: { node?: string; ip: string }): GraphNode | undefined {
  return (
    t.nodes.find((n) => n.name === b.node) ?? t.nodes.find((n) => n.interfaces.some((i) => i.ip === b.ip))
  );
}

/**
 * Every line of the picture: an interface to its switch, a router port to its switch, a VIP to what it is attached
 * to (one line: its router, else its first switch) and to each backend node.
 */
export function edgesOf(t: Topology): GraphEdge[] {
  const edges: GraphEdge[] = [];
  for (const n of t.nodes)
    for (const i of n.interfaces)
      edges.push({ id: i.id, kind: 'iface', from: n.id, to: i.switchId, label: `${i.name} ${i.ip}` });
  for (const r of t.routers)
    for (const l of r.links)
      edges.push({ id: l.id, kind: 'router-link', from: r.id, to: l.switchId, label: l.address });
  for (const v of t.vips) {
    const at = v.attachedTo.find((a) => a.startsWith('router:')) ?? v.attachedTo[0];
    if (at) edges.push({ id: `vip-attach:${v.name}`, kind: 'vip-attach', from: at, to: v.id });
    v.backends.forEach((b, k) => {
      const n = backendNode(t, b);
      if (n)
        edges.push({
          id: `vip-backend:${v.name}.${k}`,
          kind: 'vip-backend',
          from: v.id,
          to: n.id,
          label: b.port !== undefined ? `→ :${b.port}` : 'backend',
        });
    });
  }
  return edges;
}

/** Group nodes and gateway routers by chassis only when the lab spans more than one (one box says nothing). */
export function chassisGroups(t: Topology): Map<string, string[]> | undefined {
  if (t.chassis.length < 2) return undefined;
  const groups = new Map<string, string[]>(t.chassis.map((c) => [c, []]));
  for (const n of t.nodes) groups.get(n.chassis)?.push(n.id);
  for (const r of t.routers) if (r.chassis) groups.get(r.chassis)?.push(r.id);
  for (const [c, ids] of groups) if (!ids.length) groups.delete(c);
  return groups;
}
