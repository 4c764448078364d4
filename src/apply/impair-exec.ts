/**
 * Carry out impairment changes (impair-diff.ts decides them) on one host: the relay wiring of an interface
 * (docs/impairments.md). The container and its interface are never touched: only the host side is re-plumbed.
 */
import type { HostDriver } from '../drivers/host.js';
import { ALIAS_PREFIX } from '../drivers/links.js';
import { extIds } from '../drivers/ovsdb-json.js';
import type { PlanInterface } from '../plan/types.js';
import type { ImpairChange } from './changes.js';
import { relayParams } from './impair-diff.js';

/**
 * Stop the relay (found by its pidfile), take the bridge end off the bridge and delete the twin pair. The host end
 * (lv…) is plugged back by the ovs-port plug the diff emits with this change.
 */
export async function unwireImpair(
  host: HostDriver,
  lab: string,
  bridge: string,
  c: ImpairChange,
): Promise<void> {
  await host.relays.stop(lab, c.hostVeth);
  await host.ovs.transact([['--if-exists', 'del-port', bridge, c.bridgeVeth]]);
  await host.links.deleteHostLinks([c.relayVeth]);
}

/**
 * (Re)build an impaired interface's host side: the relay stopped if one runs, lv… and a stale lb… off the bridge
 * (waited, so vswitchd lets go before a new device takes the name), the twin pair lw…/lb… created afresh with the
 * interface's MTU, IPv6 off (no router solicitations into the lab), every offload off on lv…, lw… and lb…, lb…
 * plugged with the interface's external_ids, and the relay started with its parameters.
 */
export async function wireImpair(
  host: HostDriver,
  lab: string,
  bridge: string,
  i: PlanInterface,
  c: ImpairChange,
): Promise<number> {
  const { hostVeth, relayVeth, bridgeVeth } = c;
  await host.relays.stop(lab, hostVeth);
  await host.ovs.transact([
    ['--if-exists', 'del-port', bridge, hostVeth],
    ['--if-exists', 'del-port', bridge, bridgeVeth],
  ]);
  await host.links.deleteHostLinks([relayVeth]);
  await host.links.hostBatch([
    `link add ${relayVeth} mtu ${i.mtu} type veth peer name ${bridgeVeth} mtu ${i.mtu}`,
    `link set dev ${relayVeth} alias ${ALIAS_PREFIX}${lab}`,
    `link set dev ${bridgeVeth} alias ${ALIAS_PREFIX}${lab}`,
    `link set dev ${relayVeth} addrgenmode none`,
    `link set dev ${bridgeVeth} addrgenmode none`,
    `link set dev ${relayVeth} up`,
    `link set dev ${bridgeVeth} up`,
    `link set dev ${hostVeth} up`,
  ]);
  await host.links.disableRelayOffloads([hostVeth, relayVeth, bridgeVeth]);
  await host.ovs.transact(
    [
      ['--may-exist', 'add-port', bridge, bridgeVeth],
      ['set', 'Interface', bridgeVeth, ...extIds(i.ovsExternalIds)],
    ],
    { noWait: true },
  );
  return host.relays.start(lab, hostVeth, relayVeth, relayParams(c.impair!));
}

/** New parameters for a running relay: params file rewritten, SIGHUP; nothing restarts. */
export function setImpair(host: HostDriver, lab: string, c: ImpairChange): void {
  host.relays.update(lab, c.hostVeth, relayParams(c.impair!));
}
