/** A validated, normalized lab: what compile takes. Order of every list is the order of the lab file. */
import type { Impair } from './impair.js';
import type { Cidr } from './ipv4.js';
import type { Cidr6 } from './ipv6.js';

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface LabNetwork {
  name: string;
  /** IPv4 subnet; absent on an IPv6-only network */
  subnet?: Cidr;
  cidr?: string;
  gateway?: string;
  mtu: number;
  /** OVN answers DHCP on this network (docs/dhcp-dns.md) */
  dhcp?: boolean;
  /** IPv6 subnet (docs/ipv6.md); cidr6 in RFC 5952 form */
  subnet6?: Cidr6;
  cidr6?: string;
  /** the router sends IPv6 router advertisements on this network */
  ra?: boolean;
}

export interface LabRouterLink {
  network: string;
  ip?: string;
  /** RFC 5952 form */
  ip6?: string;
}

export interface LabNat {
  type: 'dnat_and_snat' | 'snat' | 'dnat';
  external: string;
  internal: string;
}

export interface LabRouter {
  name: string;
  links: LabRouterLink[];
  routes: { prefix: string; via: string }[];
  /** host whose chassis a gateway router is bound to */
  chassis?: string;
  nat: LabNat[];
  /** multi-chassis labs: an HA distributed gateway port (docs/multichassis.md "Gateway failover") */
  gateway?: LabGateway;
}

export interface LabGateway {
  /** the linked network the gateway port is on */
  network: string;
  /** the gateway chassis with their priorities, highest first */
  chassis: { name: string; priority: number }[];
}

export interface LabLoadBalancer {
  name: string;
  vip: string;
  port?: number;
  proto?: 'tcp' | 'udp';
  backends: string[];
  backendPort?: number;
  /** networks and routers */
  attach: string[];
}

export interface LabInterface {
  name: string;
  network: string;
  ip?: string;
  /** IPv6 address (RFC 5952 form); allocated when absent and the network has subnet6 */
  ip6?: string;
  mac?: string;
  mtu?: number;
  /** link impairment (docs/impairments.md); absent: none */
  impair?: Impair;
  /** `ip: dhcp`: the planned (allocated) address is taken by a DHCP client in the node (docs/dhcp-dns.md) */
  dhcp?: boolean;
  /** `ip6: dhcp`: the same with stateful DHCPv6 */
  dhcp6?: boolean;
}

export interface LabNode {
  name: string;
  image: string;
  build?: { context: string; dockerfile?: string };
  cmd?: string[];
  env: Record<string, string>;
  interfaces: LabInterface[];
  listen: { proto: 'tcp' | 'udp'; port: number }[];
  /** multi-chassis labs: the chassis the node is placed on */
  chassis?: string;
}

export interface LabPolicy {
  action: 'allow' | 'deny';
  from: string;
  to: string;
  proto: Proto | 'any';
  port?: { min: number; max: number };
}

export interface LabExpect {
  from: string;
  to: string;
  proto: Proto;
  port?: number;
  result: 'pass' | 'blocked';
}

export interface LabOvn {
  remote?: string;
  nb?: string;
  encap: { type: 'geneve' | 'vxlan' | 'stt'; ip: string };
  datapath: 'auto' | 'system' | 'netdev';
  bridge: string;
}

export interface Lab {
  name: string;
  /** absolute path of the lab file, when loaded from one */
  file?: string;
  defaults: { image: string; mtu: number };
  networks: LabNetwork[];
  routers: LabRouter[];
  nodes: LabNode[];
  groups: Record<string, string[]>;
  loadBalancers: LabLoadBalancer[];
  policies: LabPolicy[];
  expect: LabExpect[];
  ovn: LabOvn;
  /** experiments for labctl run (absent in states saved before scenarios existed) */
  scenarios?: LabScenario[];
  /** multi-chassis labs (docs/multichassis.md): the chassis in file order; absent = this host's chassis */
  chassis?: LabChassis[];
  /** multi-chassis labs: the underlay joining simulated chassis */
  underlay?: LabUnderlay;
  /** OVN DNS records for the lab's nodes (docs/dhcp-dns.md) */
  dns?: boolean;
}

/** A measured flow of a scenario (labctl run). */
export interface LabFlow {
  name: string;
  from: string;
  /** a node name or an IPv4 address */
  to: string;
  proto: Proto;
  port?: number;
  /** packets (messages) per second */
  rate: number;
}

/** One step of a scenario; durations in ms. */
export type LabStep =
  | { kind: 'wait'; ms: number }
  | { kind: 'up'; file: string }
  | { kind: 'readdress'; node: string; iface: string; ip: string }
  | { kind: 'link'; node: string; iface: string; state: 'up' | 'down' }
  | { kind: 'conntrack-flush'; node?: string; address?: string }
  | { kind: 'exec'; node: string; cmd: string[] }
  /** impair: undefined clears the interface's impairment */
  | { kind: 'impair'; node: string; iface: string; impair?: Impair }
  /** a simulated chassis of a multi-chassis lab stopped or started (labctl chassis stop|start) */
  | { kind: 'chassis'; action: 'stop' | 'start'; chassis: string };

export type TcpOutcome = 'survived' | 'reset' | 'stalled';

export interface LabScenarioExpect {
  flow: string;
  maxLost?: number;
  maxLossPct?: number;
  maxGapMs?: number;
  tcp?: TcpOutcome[];
}

export interface LabScenario {
  name: string;
  flows: LabFlow[];
  steps: LabStep[];
  expect: LabScenarioExpect[];
}

export interface LabChassis {
  name: string;
  kind: 'simulated' | 'remote';
  ssh?: string;
  /** tunnel endpoint (ovn-encap-ip) */
  encapIp: string;
  /** remote: ssh private key file, known_hosts file, host-key policy, br-phy uplink (docs/multichassis.md) */
  sshKey?: string;
  knownHosts?: string;
  hostKey?: 'strict' | 'accept-new';
  uplink?: string;
}

export interface LabUnderlay {
  cidr: string;
  prefix: number;
  /** a host interface joined to the underlay bridge (towards remote chassis) */
  uplink?: string;
  /** labs with remote chassis: the central's SB SSL address on the underlay bridge */
  centralIp?: string;
  mtu: number;
  /** BFD timers on the tunnels (NB_Global options bfd-min-rx/bfd-min-tx/bfd-mult of the lab's own central) */
  bfd?: { minRx?: number; minTx?: number; mult?: number };
}
