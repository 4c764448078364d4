/**
 * The Plan: plain data holding every name, MAC, address, OVS port, OVN row and in-container setting of a lab.
 * compilePlan() builds it without touching the host; applyPlan() converges a host to it; `labctl plan --json`
 * prints it. Everything is keyed by names derived from the lab, so `down` can find it all again by label.
 */

import type { Impair } from '../lab/impair.js';

export const PLAN_VERSION = 1;
/** Docker label / OVSDB external_ids keys (design.md "Labels"). */
export const LABEL_LAB = 'labctl.lab';
export const LABEL_NODE = 'labctl.node';
/** multi-chassis labs: the chassis a node's container belongs to (one Docker may serve several chassis) */
export const LABEL_CHASSIS = 'labctl.chassis';
export const EXTID_LAB = 'labctl-lab';
export const EXTID_NODE = 'labctl-node';
export const EXTID_IFACE = 'labctl-iface';
/** on a node's logical switch port: the address labctl allocated to the interface (sticky; see PriorAddresses) */
export const EXTID_ALLOC = 'labctl-alloc';
/** the IPv6 twin of EXTID_ALLOC (docs/ipv6.md) */
export const EXTID_ALLOC6 = 'labctl-alloc6';

export interface Plan {
  version: number;
  lab: string;
  ovn: PlanOvn;
  /** The hosts (chassis) the lab spans. Today every node is on `local`; the field keeps multi-host plans expressible. */
  hosts: { name: string }[];
  nodes: PlanNode[];
  switches: PlanSwitch[];
  routers: PlanRouter[];
  acls: PlanAcl[];
  /**
   * The lab's policies in normalized form (addresses resolved), in file order: what `plan.acls` enforce, for tools
   * that reason about them (doctor derives each pair's expected verdict from these; src/plan/policy-verdict.ts).
   * Absent in plans saved before it existed.
   */
  policies?: PlanPolicy[];
  loadBalancers: PlanLoadBalancer[];
  expect: PlanExpect[];
  /** multi-chassis labs (docs/multichassis.md): the chassis, in file order; `hosts` are their names */
  chassis?: PlanChassis[];
  /** multi-chassis labs: the network joining the simulated chassis */
  underlay?: PlanUnderlay;
  /** `dns: true` (docs/dhcp-dns.md): the lab's one OVN DNS row, attached to every lab switch */
  dns?: PlanDns;
}

/** OVN DNS records of a lab: name → addresses (space-separated, as OVN's DNS.records values). */
export interface PlanDns {
  records: Record<string, string>;
  externalIds: Record<string, string>;
}

/**
 * Names of translated addresses — public (`<node>.public.<lab>`) and load balancer (`<lb>`, `<lb>.<lab>`) — change
 * with their NAT rule or load balancer, in the same (late) transaction.
 */
export const isTranslationRecord = (plan: Pick<Plan, 'lab' | 'loadBalancers'>, name: string) =>
  name.endsWith(`.public.${plan.lab}`) ||
  plan.loadBalancers.some((lb) => name === lb.name || name === `${lb.name}.${plan.lab}`);

/** A network's OVN DHCPv4 options (DHCP_Options row, one per network with dhcp: true). */
export interface PlanDhcp {
  cidr: string;
  /** OVN DHCP_Options.options: server_id, server_mac, lease_time, router, mtu, dns_server */
  options: Record<string, string>;
  externalIds: Record<string, string>;
}

/**
 * The address a network's DHCP server and DNS resolver answer as: its router port's, or (no router) a
 * labctl-chosen one, for which nodes hold a permanent neighbour entry (`neighbour`).
 */
export interface PlanService {
  /** IPv4 (a network with subnet:) */
  ip?: string;
  /** IPv6: the router's address on the network (routed networks with subnet6:) */
  ip6?: string;
  mac: string;
  /** no router answers ARP for it: every node on the network gets a permanent neighbour entry */
  neighbour: boolean;
}

export interface PlanChassis {
  name: string;
  kind: 'simulated' | 'remote';
  /** the Open_vSwitch row's external_ids:system-id = the SB Chassis name (`<chassis>.<lab>`) */
  systemId: string;
  encapIp: string;
  /** simulated: the network namespace its daemons and the nodes' host-side veths live in */
  netns?: string;
  ssh?: string;
  /** remote: ssh key, known_hosts, host-key policy and br-phy uplink (as in the lab file) */
  sshKey?: string;
  knownHosts?: string;
  hostKey?: 'strict' | 'accept-new';
  uplink?: string;
}

export interface PlanUnderlay {
  cidr: string;
  prefix: number;
  mtu: number;
  /** a host interface joined to the underlay bridge (towards remote chassis) */
  uplink?: string;
  /** labs with remote chassis: the central's SB SSL address on the underlay bridge */
  centralIp?: string;
  /** the namespace holding the underlay bridge (and the lab's OVN central) */
  netns: string;
  /** BFD timers on the tunnels (ms; mult: missed packets); unset: OVS's defaults */
  bfd?: { minRx?: number; minTx?: number; mult?: number };
  /**
   * the external (provider) networks of HA gateways (docs/multichassis.md "Gateway failover"): each is a Linux
   * bridge in the underlay namespace that every chassis joins through its own OVS bridge, mapped to the network's
   * localnet port (ovn-bridge-mappings). Absent: the lab has no gateway: router.
   */
  external?: PlanExternalNet[];
}

export interface PlanExternalNet {
  /** the lab network (its logical switch carries the localnet port) */
  network: string;
  /** localnet options:network_name = the ovn-bridge-mappings key */
  physnet: string;
  /** the Linux bridge in the underlay namespace */
  bridge: string;
  /** the OVS bridge on each chassis */
  ovsBridge: string;
  /** the chassis end of its veth into the bridge (inside the chassis netns) */
  uplink: string;
  /** the underlay end's name is `${portPrefix}${chassis}` */
  portPrefix: string;
}

export interface PlanOvn {
  /** southbound remote ovn-controller connects to; undefined = the embedded local control plane */
  remote?: string;
  nb?: string;
  encap: { type: string; ip: string };
  datapath: 'auto' | 'system' | 'netdev';
  bridge: string;
}

export interface PlanNode {
  name: string;
  host: string;
  container: string;
  hostname: string;
  image: string;
  build?: { context: string; dockerfile?: string };
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  interfaces: PlanInterface[];
  routes: PlanRoute[];
  listen: { proto: 'tcp' | 'udp'; port: number }[];
  /** `dns: true`: the node's resolver (Docker writes /etc/resolv.conf from it) */
  resolver?: { nameservers: string[]; search: string[]; options?: string[] };
}

export interface PlanInterface {
  /** name inside the container */
  name: string;
  network: string;
  switch: string;
  /** logical switch port = OVS external_ids:iface-id */
  lsp: string;
  /** host-side veth end, plugged into the integration bridge (≤ 15 bytes, unique per host) */
  hostVeth: string;
  /** temporary name of the container-side end before it is moved into the netns and renamed */
  peerTmp: string;
  mac: string;
  /** IPv4 address; absent on an IPv6-only network (docs/ipv6.md) */
  ip?: string;
  /** IPv4 prefix length; present with ip */
  prefix?: number;
  /** IPv6 address (RFC 5952 form), when the network has subnet6 */
  ip6?: string;
  /** IPv6 prefix length; present with ip6 */
  prefix6?: number;
  mtu: number;
  /** router address on this network, if any */
  gateway?: string;
  /** `ip: dhcp`: the address (still the planned one) is taken by a DHCP client in the node, not set by labctl */
  dhcp?: boolean;
  /** `ip6: dhcp`: the same for ip6, by stateful DHCPv6 */
  dhcp6?: boolean;
  /** a permanent neighbour entry for the network's DHCP/DNS service address (routerless networks; PlanService) */
  neighbour?: { ip: string; mac: string };
  /** router IPv6 address on this network, if any */
  gateway6?: string;
  /** the IPv6 address labctl allocated to this interface (sticky, as allocated) */
  allocated6?: string;
  /** the network has ra: true (the node accepts router advertisements; still no SLAAC address) */
  ra?: boolean;
  /**
   * the address labctl allocated to this interface (it has no ip: in the lab, or has one that overrides an
   * allocation kept from the running lab); unset when the lab gives the address and nothing was allocated
   */
  allocated?: string;
  /** tx checksum offload must be off on the container side (platform.md: userspace datapath drops TCP/UDP otherwise) */
  txOffload: false;
  ovsExternalIds: Record<string, string>;
  /**
   * link impairment (docs/impairments.md): the interface is wired through a relay, hostVeth ⇄ relay ⇄
   * relayVeth ═ bridgeVeth, and bridgeVeth (not hostVeth) is the OVS port. Absent: plain wiring.
   */
  impair?: PlanImpair;
}

export interface PlanImpair extends Impair {
  /** the relay's switch-side end (lw…), the twin of hostVeth */
  relayVeth: string;
  /** its veth peer, plugged into the integration bridge with the interface's iface-id (lb…) */
  bridgeVeth: string;
}

/** The OVS port of an interface: its host end, or the bridge end of its relay when it is impaired. */
export function ovsPortOf(i: Pick<PlanInterface, 'hostVeth' | 'impair'>): string {
  return i.impair ? i.impair.bridgeVeth : i.hostVeth;
}

export interface PlanRoute {
  /** 'default' or a CIDR (of the route's family) */
  dst: string;
  /** 6: an IPv6 route (dst 'default' is then ::/0, via an IPv6 address); absent: IPv4 */
  family?: 6;
  via: string;
  dev: string;
}

export interface PlanSwitch {
  name: string;
  network: string;
  /** IPv4 CIDR; absent on an IPv6-only network */
  subnet?: string;
  /** IPv6 CIDR (RFC 5952 form) */
  subnet6?: string;
  /** router advertisements are sent on this network (the router ports' ipv6_ra_configs) */
  ra?: boolean;
  mtu: number;
  externalIds: Record<string, string>;
  ports: PlanSwitchPort[];
  /** dhcp: true (docs/dhcp-dns.md) */
  dhcp?: PlanDhcp;
  /** dhcp: true on a network with subnet6: stateful DHCPv6 (server_id: the service MAC) */
  dhcp6?: PlanDhcp;
  /** dhcp or dns on: the address the DHCP server and DNS resolver answer as */
  service?: PlanService;
}

export interface PlanSwitchPort {
  name: string;
  /** '' for a node's port, 'router' for the switch side of a router port, 'localnet' for a provider network */
  type: '' | 'router' | 'localnet';
  /** "MAC IP", "MAC IP IP6" or "MAC IP6" for nodes, "router" for router ports */
  addresses: string;
  node?: string;
  iface?: string;
  routerPort?: string;
  /** options beyond router-port (localnet: network_name; a gateway's router port: nat-addresses) */
  options?: Record<string, string>;
  externalIds: Record<string, string>;
}

export interface PlanRouter {
  name: string;
  router: string;
  externalIds: Record<string, string>;
  ports: PlanRouterPort[];
  routes: { prefix: string; nexthop: string }[];
  /** gateway router: the host whose chassis it is bound to (options:chassis) */
  chassis?: string;
  nat: PlanNat[];
  /** multi-chassis labs: the HA distributed gateway port (Gateway_Chassis rows with priorities) */
  gateway?: PlanGateway;
}

export interface PlanGateway {
  network: string;
  /** the distributed gateway port (a router port of this router) */
  port: string;
  /** its chassisredirect port in the SB, whose binding is the active gateway */
  redirectPort: string;
  /** highest priority first */
  chassis: { name: string; systemId: string; priority: number }[];
}

export interface PlanRouterPort {
  name: string;
  network: string;
  mac: string;
  /** "IP/prefix" of each family the network has (IPv4 first) */
  networks: string[];
  switchPort: string;
  /** IPv6 router advertisements on this port (ipv6_ra_configs); only when the network has ra: true */
  ra?: boolean;
}

export interface PlanNat {
  type: 'dnat_and_snat' | 'snat' | 'dnat';
  /** external (public) address */
  external: string;
  /** logical (inside) address or CIDR */
  logical: string;
  /** the node behind it, when the rule names one */
  node?: string;
}

export interface PlanLoadBalancer {
  name: string;
  /** OVN Load_Balancer name */
  lb: string;
  /** "IP" or "IP:PORT", as OVN's vips key */
  vip: string;
  vipIp: string;
  port?: number;
  protocol?: 'tcp' | 'udp';
  backends: { node?: string; ip: string; port?: number }[];
  /** switches and routers (OVN names) it is attached to */
  switches: string[];
  routers: string[];
  externalIds: Record<string, string>;
}

export interface PlanAcl {
  switch: string;
  direction: 'to-lport' | 'from-lport';
  priority: number;
  match: string;
  action: 'drop' | 'allow-related';
  name: string;
  externalIds: Record<string, string>;
}

/** One side of a policy, resolved. */
export interface PlanPolicyEnd {
  /** as written in the lab file: a node, group, network, or IPv4 address/CIDR */
  ref: string;
  /** a node or group: its member nodes (`to` then matches by the port a packet is delivered to) */
  nodes?: string[];
  /** the addresses it stands for, as CIDRs (a node: each interface address and public NAT address, as /32) */
  cidrs: string[];
}

/** A policy with its endpoints resolved (docs/lab-file.md "policies"). */
export interface PlanPolicy {
  /** position in the lab's `policies` (the ACLs' external_ids:labctl-policy); the lowest matching one wins */
  index: number;
  action: 'allow' | 'deny';
  from: PlanPolicyEnd;
  to: PlanPolicyEnd;
  proto: 'tcp' | 'udp' | 'icmp' | 'any';
  /** tcp/udp destination ports; absent: every port */
  port?: { min: number; max: number };
}

/**
 * Addresses labctl allocated to the running lab's interfaces (keyed `node.iface`; read back from the NB ports'
 * external_ids:labctl-alloc). compilePlan keeps each one while it is still valid, so adding, removing or reordering
 * nodes never renumbers a running node.
 */
export type PriorAddresses = ReadonlyMap<string, { network: string; ip?: string; ip6?: string }>;

export interface PlanExpect {
  from: string;
  to: string;
  proto: 'tcp' | 'udp' | 'icmp';
  port?: number;
  result: 'pass' | 'blocked';
}
