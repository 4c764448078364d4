/**
 * The change set: what `up` will do to a running lab, as plain data. diffLab() (pure) computes it from the plan and
 * what was observed; executeChanges() is the only code that acts on it; `labctl up --dry-run` prints it. One entry
 * per change, each with the host whose driver carries it out (`central` for the OVN northbound database), and
 * nothing for what stays.
 */

import type { Impair } from '../lab/impair.js';

/** The OVN northbound database is shared by every host: its changes go to the central driver. */
export const CENTRAL = 'central';

/** '+' adds, '~' changes in place, '-' removes (the first column of `up --dry-run`). */
export type ChangeOp = '+' | '~' | '-';

/**
 * When an NB change runs. `release` first: rows whose address a new or readdressed port takes (so ovn-nbctl's
 * duplicate-address check passes). `structure` with the containers: switches, ports, routers, routes, ACLs.
 * `late` once every port is bound: NAT and load balancers re-pointed, then removals — so a VIP or public address
 * moves to a backend that can already answer.
 */
export type NbPhase = 'release' | 'structure' | 'late';

interface ChangeBase {
  /** plan host name, or CENTRAL */
  host: string;
  op: ChangeOp;
  /** the one line `up --dry-run` prints, and `up` prints as it applies the change */
  summary: string;
}

export interface ContainerChange extends ChangeBase {
  kind: 'container';
  /** create: none exists; recreate: its configuration changed; start: it exists but is stopped; remove: no longer planned */
  action: 'create' | 'recreate' | 'start' | 'remove';
  node: string;
  /** the existing container (recreate, start, remove) */
  id?: string;
}

/**
 * A link (veth pair) to create and wire completely: the container end moved into the netns with its MAC, MTU and
 * address, the routes through it, tx checksum offload off, and the host end plugged into the integration bridge
 * with its iface-id. Whatever stale pieces were observed go first.
 */
export interface LinkPlumbChange extends ChangeBase {
  kind: 'link-plumb';
  node: string;
  iface: string;
  /** the node's container is new or (re)started: its links can be prepared before Docker is done */
  fresh: boolean;
  /** a host end under this name exists (a broken pair): delete it first */
  staleHost: boolean;
  /** the container has a device under the iface's name that is not the pair: delete it first */
  staleInside: boolean;
  /** OVS has a port under the host end's name: it must leave (and vswitchd let go) before the new device */
  staleOvs: boolean;
}

/** In-namespace settings of a link that stays (MAC/MTU, address, admin state, a route): `ip` batch lines. */
export interface LinkSetChange extends ChangeBase {
  kind: 'link-set';
  node: string;
  /** the interface, or undefined for a route */
  iface?: string;
  lines: string[];
  /** sysctls (net.ipv6.conf.<iface>.*) to set before the lines: IPv6 switched on for the interface */
  sysctls?: Record<string, string>;
}

/** The host end of a link that stays is down (a pulled cable): set it up. */
export interface HostLinkUpChange extends ChangeBase {
  kind: 'host-link-up';
  node: string;
  iface: string;
  hostVeth: string;
}

export interface OvsPortChange extends ChangeBase {
  kind: 'ovs-port';
  /** plug: add to the bridge with external_ids; relabel: set external_ids; unplug: delete the port */
  action: 'plug' | 'relabel' | 'unplug';
  port: string;
  externalIds?: Record<string, string>;
  node?: string;
}

/** A host-side veth of the lab that no planned interface owns (its node or interface was removed). */
export interface VethDeleteChange extends ChangeBase {
  kind: 'veth-delete';
  name: string;
}

export interface NbChange extends ChangeBase {
  kind: 'nb';
  phase: NbPhase;
  /** ovn-nbctl commands (argv lists); all NB changes of one phase go in one transaction */
  commands: string[][];
}

/** Conntrack entries of translations that moved or went (a VIP's backends, a rotated public address). */
export interface ConntrackFlushChange extends ChangeBase {
  kind: 'conntrack-flush';
  addresses: string[];
}

/**
 * An interface's impairment relay (docs/impairments.md). wire: (re)build the relay wiring of an impaired interface
 * — its host end leaves the bridge, the twin pair is (re)created with offloads off, the bridge end is plugged with
 * the iface-id, the relay (re)started; set: new parameters for a running relay (params file + SIGHUP, nothing is
 * restarted); unwire: stop the relay, delete the twin pair and its port (the host end is plugged back by an
 * ovs-port plug).
 */
export interface ImpairChange extends ChangeBase {
  kind: 'impair';
  action: 'wire' | 'set' | 'unwire';
  /** the interface (absent for the relay of an interface that is gone) */
  node?: string;
  iface?: string;
  hostVeth: string;
  relayVeth: string;
  bridgeVeth: string;
  /** wire, set: what the relay applies */
  impair?: Impair;
}

/**
 * ip: dhcp (docs/dhcp-dns.md): once the port is bound, the node's DHCP client (run by labctl inside the container,
 * bounded) takes the planned address from OVN; then the routes through the interface are set.
 */
export interface DhcpLeaseChange extends ChangeBase {
  kind: 'dhcp-lease';
  node: string;
  iface: string;
  /** the planned address the lease must hold */
  ip: string;
  /** 6: stateful DHCPv6 (dhclient -6); absent: DHCPv4 (udhcpc) */
  family?: 6;
}

export type Change =
  | DhcpLeaseChange
  | ImpairChange
  | ContainerChange
  | LinkPlumbChange
  | LinkSetChange
  | HostLinkUpChange
  | OvsPortChange
  | VethDeleteChange
  | NbChange
  | ConntrackFlushChange;

export interface ChangeSet {
  lab: string;
  changes: Change[];
}

/** The line printed for a change: its op, its host when the lab spans several, and its summary. */
export function formatChange(c: Change, multiHost = false): string {
  return `${c.op} ${multiHost ? `[${c.host}] ` : ''}${c.summary}`;
}
