/**
 * Carry out one node's link changes (diffNodeLinks in diff.ts decides them): veth pairs, the container-side names,
 * MACs, MTUs, addresses and routes, and tx checksum offload off.
 */
import type { LinkDriver } from '../drivers/links.js';
import { ALIAS_PREFIX } from '../drivers/links.js';
import type { PlanInterface } from '../plan/types.js';

export interface LinkActions {
  /** interfaces whose veth pair must be (re)created */
  plumb: PlanInterface[];
  /** host-side veths to delete first (stale ends of interfaces being re-plumbed) */
  deleteHost: string[];
  /** ip -batch lines to run inside the container netns */
  nsLines: string[];
  /** host-side veth ends that exist but are down (a pulled cable): set them up */
  hostUp: string[];
  summary: string[];
  /** sysctls to set inside the netns before nsLines (IPv6 switched on for interfaces that get an IPv6 address) */
  sysctls?: Record<string, string>;
}

/** "ip/prefix" of each family the interface has (IPv4 first). */
export function ifaceAddrs(i: PlanInterface): string[] {
  return [
    ...(i.ip !== undefined ? [`${i.ip}/${i.prefix}`] : []),
    ...(i.ip6 !== undefined ? [`${i.ip6}/${i.prefix6}`] : []),
  ];
}

/**
 * The sysctls that switch IPv6 on for one lab interface (containers start with IPv6 off everywhere): no DAD (the
 * address is usable at once), no router advertisements unless the network has ra: true, never SLAAC — so the
 * interface holds its planned address and its kernel link-local fe80:: one (EUI-64 of the planned MAC), nothing
 * else. disable_ipv6 goes last, when the rest is in place.
 */
export function v6Sysctls(i: Pick<PlanInterface, 'name' | 'ra'>): Record<string, string> {
  const k = (x: string) => `net.ipv6.conf.${i.name}.${x}`;
  return {
    [k('accept_ra')]: i.ra ? '1' : '0',
    [k('autoconf')]: '0',
    [k('accept_dad')]: '0',
    [k('dad_transmits')]: '0',
    [k('disable_ipv6')]: '0',
  };
}

/**
 * Host-side ip batch lines that create the veth pairs for `ifaces`, both ends still in the host namespace: the
 * container end gets its temporary name, final MAC and MTU now (they move with the device); the host end its alias
 * (so `down` finds it even if OVS never saw it) and up.
 */
export function vethCreateLines(lab: string, ifaces: PlanInterface[]): string[] {
  return ifaces.flatMap((i) => [
    `link add ${i.hostVeth} mtu ${i.mtu} type veth peer name ${i.peerTmp} mtu ${i.mtu} address ${i.mac}`,
    `link set dev ${i.hostVeth} alias ${ALIAS_PREFIX}${lab}`,
    `link set dev ${i.hostVeth} up`,
  ]);
}

/** Host-side ip batch lines that move each container end into the netns of `pid`, renamed on the way in. */
export function vethMoveLines(ifaces: PlanInterface[], pid: number): string[] {
  return ifaces.map((i) => `link set dev ${i.peerTmp} netns ${pid} name ${i.name}`);
}

/**
 * Create the veth pairs of `ifaces` in the host namespace, with tx checksum offload off on the container end
 * (platform.md: on the userspace datapath only that end matters; the setting moves with the device). One
 * `ip -batch` for all of them, so this runs once for every new node of a lab while Docker creates the containers.
 */
export async function createVeths(links: LinkDriver, lab: string, ifaces: PlanInterface[]): Promise<void> {
  if (!ifaces.length) return;
  await links.hostBatch(vethCreateLines(lab, ifaces));
  await disableOffloads(links, ifaces);
}

/** tx checksum offload off on the container ends of `ifaces`, while they are still in the host namespace. */
export async function disableOffloads(links: LinkDriver, ifaces: PlanInterface[]): Promise<void> {
  await links.disableTxOffloads(ifaces.map((i) => i.peerTmp));
}

/** The permanent neighbour entry for a network's DHCP/DNS service address (docs/dhcp-dns.md). */
export function neighbourLine(dev: string, n: { ip: string; mac: string }): string {
  return `neigh replace ${n.ip} lladdr ${n.mac} dev ${dev} nud permanent`;
}

/** ip lines to run inside the container netns once its plumbed ends have arrived (already renamed). */
export function nsApplyLines(actions: LinkActions): string[] {
  const lines = actions.nsLines.filter((l) => l.startsWith('link del '));
  for (const i of actions.plumb) {
    // ip: dhcp: the address comes from the DHCP client labctl runs once the port is bound (dhcp-lease change)
    if (i.ip !== undefined && !i.dhcp) lines.push(`addr add ${i.ip}/${i.prefix} dev ${i.name}`);
    if (i.ip6 !== undefined && !i.dhcp6) lines.push(`addr add ${i.ip6}/${i.prefix6} dev ${i.name} nodad`);
    lines.push(`link set dev ${i.name} up`);
    // the DHCP/DNS service address of a routerless network: nothing in OVN answers ARP for it
    if (i.neighbour) lines.push(neighbourLine(i.name, i.neighbour));
  }
  lines.push(...actions.nsLines.filter((l) => !l.startsWith('link del ') && !l.startsWith('route ')));
  lines.push(...actions.nsLines.filter((l) => l.startsWith('route ')));
  return lines.length ? ['link set dev lo up', ...lines] : [];
}

/**
 * Execute the link plan for one node whose container runs as `pid`. With `prepared`, the veths of actions.plumb
 * already exist (createVeths ran for them up front); `move` runs the host-side move lines (a batcher shared by
 * all nodes, or one ip -batch of this node's own).
 */
export async function applyNodeLinks(
  links: LinkDriver,
  lab: string,
  pid: number,
  actions: LinkActions,
  opts: { prepared?: boolean; move?: (lines: string[]) => Promise<void> } = {},
): Promise<void> {
  const { plumb } = actions;
  const nsLines = nsApplyLines(actions);
  // An old end inside the container must go before a new one arrives under the same name.
  const dels = nsLines.filter((l) => l.startsWith('link del '));
  if (dels.length) await links.nsBatch(pid, dels);
  if (actions.deleteHost.length) await links.deleteHostLinks(actions.deleteHost);
  if (plumb.length) {
    if (!opts.prepared) await createVeths(links, lab, plumb);
    await (opts.move ?? ((l: string[]) => links.hostBatch(l)))(vethMoveLines(plumb, pid));
  }
  // IPv6 on (plumbed interfaces with an IPv6 address, and what the link changes ask for) before any address
  const sysctls: Record<string, string> = { ...actions.sysctls };
  for (const i of plumb) if (i.ip6 !== undefined) Object.assign(sysctls, v6Sysctls(i));
  if (Object.keys(sysctls).length) await links.nsSysctls(pid, sysctls);
  const rest = nsLines.filter((l) => !l.startsWith('link del '));
  if (rest.length) await links.nsBatch(pid, rest);
  if (actions.hostUp.length) await links.hostBatch(actions.hostUp.map((n) => `link set dev ${n} up`));
}
