/** A validated, normalized lab: what compile takes. Order of every list is the order of the lab file. */
import type { Impair } from './impair.js';
import type { Cidr } from './ipv4.js';

export type Proto = 'tcp' | 'udp' | 'icmp';

export interface LabNetwork {
  name: string;
  subnet: Cidr;
  cidr: string;
  gateway?: string;
  mtu: number;
}

export interface LabRouterLink {
  network: string;
  ip?: string;
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
  mac?: string;
  mtu?: number;
  /** link impairment (docs/impairments.md); absent: none */
  impair?: Impair;
}

export interface LabNode {
  name: string;
  image: string;
  build?: { context: string; dockerfile?: string };
  cmd?: string[];
  env: Record<string, string>;
  interfaces: LabInterface[];
  listen: { proto: 'tcp' | 'udp'; port: number }[];
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
}
