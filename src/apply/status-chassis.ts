/**
 * What `labctl status` adds for a multi-chassis lab (design.md "Multi-chassis contract"): its central's sockets,
 * its chassis (name, kind, system_id, encap_ip, ovs_db, netns, and which daemons run), read from each chassis's own
 * OVS and the lab's own central.
 */
import { centralOvn, chassisOvs } from '../drivers/chassis-host.js';
import type { PortBindingState } from '../drivers/ovn.js';
import type { OvsInterface } from '../drivers/ovs.js';
import { type ChassisDaemon, centralDaemons, chassisDaemons } from '../drivers/sim-chassis.js';
import { centralPaths, chassisPaths } from '../plan/chassis-naming.js';
import type { Plan } from '../plan/types.js';

export interface ChassisStatus {
  name: string;
  kind: 'simulated' | 'remote';
  system_id: string;
  encap_ip: string;
  /** the chassis's OVS database (ovs-vsctl --db=…) */
  ovs_db: string;
  netns?: string;
  /** remote chassis: user@host labctl reaches it as (ovs_db is then a path on that machine) */
  ssh?: string;
  /** each daemon's pid, null when it does not run */
  daemons: Record<ChassisDaemon, number | null>;
}

export interface CentralStatus {
  nb: string;
  sb: string;
  daemons: Record<string, number | null>;
}

/** An HA gateway port and which of its chassis is active (SB Port_Binding of its chassisredirect port). */
export interface GatewayStatus {
  router: string;
  network: string;
  /** the distributed gateway port (NB Logical_Router_Port) */
  port: string;
  /** its chassisredirect port in the SB (cr-…) */
  redirect_port: string;
  /** the gateway chassis (lab names), highest priority first */
  chassis: { name: string; priority: number }[];
  /** the chassis (lab name) the redirect port is bound to now; null when none is */
  active: string | null;
}

export interface ChassisLabView {
  central: CentralStatus;
  chassis: ChassisStatus[];
  gateways: GatewayStatus[];
  ifaces: OvsInterface[];
  bindings: PortBindingState[];
}

const orNull = <K extends string>(r: Record<K, number | undefined>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v ?? null])) as Record<K, number | null>;

export async function chassisLabView(plan: Plan, lsps: string[]): Promise<ChassisLabView> {
  const c = centralPaths(plan.lab);
  const rc = plan.chassis?.some((ch) => ch.kind === 'remote')
    ? await import('../drivers/remote-chassis.js')
    : undefined;
  const chassis: ChassisStatus[] = await Promise.all(
    (plan.chassis ?? []).map(async (ch) => ({
      name: ch.name,
      kind: ch.kind,
      system_id: ch.systemId,
      encap_ip: ch.encapIp,
      // a remote chassis: its machine's own database, reached over ssh
      ovs_db:
        rc && ch.kind === 'remote' ? rc.REMOTE_OVS_DB : `unix:${chassisPaths(plan.lab, ch.name).dbSock}`,
      ...(ch.netns ? { netns: ch.netns } : {}),
      ...(ch.ssh ? { ssh: ch.ssh } : {}),
      daemons:
        rc && ch.kind === 'remote'
          ? orNull(await rc.remoteDaemonPids(ch).catch(() => ({}) as Record<ChassisDaemon, undefined>))
          : orNull(chassisDaemons(plan.lab, ch.name)),
    })),
  );
  const central = {
    nb: `unix:${c.nbSock}`,
    sb: `unix:${c.sbSock}`,
    daemons: orNull(centralDaemons(plan.lab)),
  };
  // A chassis or central that does not run has nothing to say (its interfaces show as not plugged / unbound).
  const ifaces = (
    await Promise.all(
      chassis
        .filter((ch) => ch.daemons['ovsdb-server'])
        .map((ch) =>
          (rc && ch.kind === 'remote'
            ? rc.remoteOvs(plan.chassis!.find((x) => x.name === ch.name)!)
            : chassisOvs(plan.lab, ch.name)
          )
            .listLabInterfaces(plan.lab)
            .catch(() => []),
        ),
    )
  ).flat();
  const gws = plan.routers.filter((r) => r.gateway);
  const redirects = gws.map((r) => r.gateway!.redirectPort);
  const all =
    central.daemons.sb !== null
      ? await centralOvn(plan.lab)
          .bindings([...lsps, ...redirects])
          .catch(() => [])
      : [];
  const bindings = all.filter((b) => !redirects.includes(b.logicalPort));
  const nameOf = new Map((plan.chassis ?? []).map((ch) => [ch.systemId, ch.name]));
  const gateways = gws.map((r) => {
    const g = r.gateway!;
    const b = all.find((x) => x.logicalPort === g.redirectPort);
    return {
      router: r.name,
      network: g.network,
      port: g.port,
      redirect_port: g.redirectPort,
      chassis: g.chassis.map((c) => ({ name: c.name, priority: c.priority })),
      active: b?.chassis ? (nameOf.get(b.chassis) ?? b.chassis) : null,
    };
  });
  return { central, chassis, gateways, ifaces, bindings };
}
