/**
 * Observe: read what a lab has on the hosts and in the OVN northbound database into one plain value, all reads
 * at once. diffLab() compares it with the plan; nothing here changes anything.
 */
import pLimit from 'p-limit';
import type { ContainerInfo } from '../drivers/containers.js';
import type { HostDriver } from '../drivers/host.js';
import type { HostLink, NsState } from '../drivers/links.js';
import type { NbLabState, OvnDriver } from '../drivers/ovn.js';
import type { OvsInterface } from '../drivers/ovs.js';
import type { RelayState } from '../drivers/relay.js';
import { EXTID_ALLOC, EXTID_ALLOC6, EXTID_IFACE, EXTID_NODE, type PriorAddresses } from '../plan/types.js';

/** The drivers a lab is applied through: the central OVN NB, and one HostDriver per plan host. */
export interface Drivers {
  central: OvnDriver;
  host(name: string): HostDriver;
}

export interface ObservedNode {
  pid: number;
  ns: NsState;
}

export interface ObservedHost {
  name: string;
  /** the lab's containers (label labctl.lab) */
  containers: ContainerInfo[];
  /** OVS interfaces labelled with the lab (external_ids:labctl-lab) */
  ovs: OvsInterface[];
  /** host-namespace links named lv… (every lab's: a planned name may be taken by a stale end) */
  hostLinks: HostLink[];
  /** links, addresses and routes inside each running container of the lab, by node */
  nodes: Record<string, ObservedNode>;
  /** the lab's impairment relays (pidfile and params in the lab's state directory), by node-side host end */
  relays?: RelayState[];
  /** host-namespace links of relay twin pairs (lw…, lb…), every lab's */
  relayLinks?: HostLink[];
  /** this host's OVN chassis name, when a gateway router must be bound to it */
  chassis?: string;
}

export interface Observed {
  lab: string;
  nb: NbLabState;
  hosts: Record<string, ObservedHost>;
}

/** Containers whose namespaces are read at once (each read is an inspect and an nsenter). */
const NS_READ_CONCURRENCY = 8;

export async function observeLab(
  lab: string,
  hostNames: string[],
  drivers: Drivers,
  opts: { chassis?: boolean } = {},
): Promise<Observed> {
  const [nb, ...hosts] = await Promise.all([
    drivers.central.readLab(lab),
    ...hostNames.map((h) => observeHost(lab, h, drivers.host(h), opts.chassis ?? false)),
  ]);
  return { lab, nb, hosts: Object.fromEntries(hosts.map((h) => [h.name, h])) };
}

async function observeHost(
  lab: string,
  name: string,
  host: HostDriver,
  chassis: boolean,
): Promise<ObservedHost> {
  const limit = pLimit(NS_READ_CONCURRENCY);
  const [containers, ovs, allLinks, chassisName] = await Promise.all([
    host.containers.list(lab),
    host.ovs.listLabInterfaces(lab),
    host.links.hostLinks('l'),
    chassis ? host.chassis() : Promise.resolve(undefined),
  ]);
  const hostLinks = allLinks.filter((l) => l.name.startsWith('lv'));
  const relayLinks = allLinks.filter((l) => /^l[wb][0-9a-f]{13}$/.test(l.name));
  const relays = host.relays.list(lab);
  const nodes: Record<string, ObservedNode> = {};
  await Promise.all(
    containers
      .filter((c) => c.running)
      .map((c) =>
        limit(async () => {
          // A container that stops between the list and here is observed as having no namespace.
          const pid = await host.containers.pid(c.id).catch(() => undefined);
          if (pid === undefined) return;
          nodes[c.node] = { pid, ns: await host.links.nsState(pid) };
        }),
      ),
  );
  const out: ObservedHost = { name, containers, ovs, hostLinks, nodes, relays, relayLinks };
  if (chassisName) out.chassis = chassisName;
  return out;
}

/**
 * The addresses labctl allocated to the running lab's interfaces, from the NB ports (external_ids:labctl-alloc,
 * written by every up): the prior that keeps allocated addresses sticky.
 */
export function priorFromNb(nb: NbLabState): PriorAddresses {
  const networkOfPort = new Map<string, string>();
  for (const s of nb.switches) {
    const network = s.externalIds['labctl-network'];
    if (network) for (const p of s.ports) networkOfPort.set(p, network);
  }
  const prior = new Map<string, { network: string; ip?: string; ip6?: string }>();
  for (const p of nb.ports) {
    const node = p.externalIds[EXTID_NODE];
    const iface = p.externalIds[EXTID_IFACE];
    const ip = p.externalIds[EXTID_ALLOC];
    const ip6 = p.externalIds[EXTID_ALLOC6];
    const network = networkOfPort.get(p.uuid);
    if (node && iface && network && (ip || ip6))
      prior.set(`${node}.${iface}`, { network, ...(ip ? { ip } : {}), ...(ip6 ? { ip6 } : {}) });
  }
  return prior;
}
