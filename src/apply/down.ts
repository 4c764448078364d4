/**
 * destroyLab: remove exactly one lab's objects, found by their labels — containers (labctl.lab), OVS interfaces
 * (external_ids:labctl-lab), host veths (alias labctl:<lab>), NB rows (external_ids:labctl-lab) — and its state.
 * Works without the lab file and after an interrupted up. Never touches anything without the lab's label.
 */
import pLimit from 'p-limit';
import type { ContainerRemover } from '../drivers/containers.js';
import { ALIAS_PREFIX, type LinkDriver } from '../drivers/links.js';
import type { OvnDriver } from '../drivers/ovn.js';
import type { OvsDriver } from '../drivers/ovs.js';
import type { RelayDriver } from '../drivers/relay.js';
import { removeNb } from './ovn-diff.js';
import { loadState, removeState } from './state.js';

export const REMOVE_CONCURRENCY = 12;

export interface DownResult {
  containers: number;
  ovsPorts: number;
  veths: number;
  /** impairment relays stopped (or whose files were left by a crashed one) */
  relays: number;
  nbRows: number;
}

/** What destroyLab uses of a host (a HostDriver has it all). */
export interface DownHost {
  containers: ContainerRemover;
  ovs: OvsDriver;
  links: LinkDriver;
  /** the lab's impairment relays (found by pidfile in its state directory) */
  relays?: RelayDriver;
}

/** Wait for every promise; then throw the first failure, if any (nothing is left running behind an error). */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps);
  const failed = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

export async function destroyLab(lab: string, host: DownHost, ovn: OvnDriver): Promise<DownResult> {
  // Bounded: Docker 20.10 (Debian 12) can deadlock when about a hundred containers exit at once
  // (moby/moby#42545, a libnetwork lock-order bug), so removals go at most REMOVE_CONCURRENCY at a time.
  const limit = pLimit(REMOVE_CONCURRENCY);
  // Container removals go first: the list is the first call (if Docker does not answer, nothing has been touched),
  // and the OVS and NB reads (whose first program spawn loads execa, blocking the event loop for a while) start only
  // once the first removals are on their way. Each part then proceeds as soon as its own read is back.
  const cs = await host.containers.list(lab);
  const removed = settleAll(cs.map((c) => limit(() => host.containers.remove(c.id))));
  const [, ifaces, nb] = await settleAll([
    removed,
    host.ovs.listLabInterfaces(lab).then(async (is) => {
      // --no-wait: nothing after this needs vswitchd to have let go of the ports (the devices die with the netns).
      await host.ovs.transact(
        is.map((i) => ['--if-exists', 'del-port', i.name]),
        { noWait: true },
      );
      return is;
    }),
    ovn.readLab(lab).then(async (rows) => {
      await ovn.transact(removeNb(rows));
      return rows;
    }),
  ] as const);
  // Impairment relays, by pidfile (never by process name): most exit with their device, a crashed one left its files.
  const relays = host.relays?.list(lab) ?? [];
  await Promise.all(relays.map((r) => host.relays!.stop(lab, r.hostVeth)));
  const state = loadState(lab);
  // Veths normally vanish with their container's netns; the ones left are those an interrupted up created but
  // never moved (alias set), or whose alias was never set (names from the saved plan).
  const planned = new Set(state?.plan.nodes.flatMap((n) => n.interfaces.map((i) => i.hostVeth)) ?? []);
  // lv…: container host ends; lw…/lb…: impairment relay twin pairs (lab alias).
  const links = (await host.links.hostLinks('l')).filter((l) => /^l[vwb][0-9a-f]{13}$/.test(l.name));
  const ours = links.filter((l) => l.alias === `${ALIAS_PREFIX}${lab}` || (planned.has(l.name) && !l.alias));
  await host.links.deleteHostLinks(ours.map((l) => l.name));
  removeState(lab);
  return {
    containers: cs.length,
    ovsPorts: ifaces.length,
    veths: ours.length,
    relays: relays.length,
    nbRows:
      nb.switches.length +
      nb.ports.length +
      nb.routers.length +
      nb.routerPorts.length +
      nb.acls.length +
      nb.routes.length,
  };
}
