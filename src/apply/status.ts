/** Lab status on this host: labs, nodes, containers, interfaces, addresses and binding state. */
import type { HostDriver } from '../drivers/host.js';
import type { OvnDriver } from '../drivers/ovn.js';
import { runtimeLabs } from '../drivers/sim-chassis.js';
import { describeImpair, type Impair, impairValues } from '../lab/impair.js';
import { ovsPortOf } from '../plan/types.js';
import { impairOfParams } from './impair-diff.js';
import { listStateLabs, loadState } from './state.js';
import {
  type CentralStatus,
  type ChassisStatus,
  chassisLabView,
  type GatewayStatus,
} from './status-chassis.js';

export interface InterfaceStatus {
  name: string;
  network: string;
  /** "ip/prefix"; '' on an IPv6-only network */
  ip: string;
  /** "ip6/prefix6" when the interface has IPv6 (docs/ipv6.md) */
  ip6?: string;
  mac: string;
  hostVeth: string;
  lsp: string;
  plugged: boolean;
  ovnInstalled: boolean;
  bound: boolean;
  chassis: string;
  /** the planned link impairment (docs/impairments.md) and what its relay applies (absent: not impaired) */
  impair?: Impair & { summary: string; relay: 'running' | 'not running'; applied?: Impair };
}

export interface NodeStatus {
  name: string;
  /** multi-chassis labs: the chassis (lab name) the node is placed on */
  chassis?: string;
  container: string;
  state: string;
  interfaces: InterfaceStatus[];
}

export interface LabStatus {
  lab: string;
  file?: string;
  nodes: NodeStatus[];
  ready: boolean;
  /** multi-chassis labs: the lab's own OVN central */
  central?: CentralStatus;
  /** multi-chassis labs: its chassis */
  chassis?: ChassisStatus[];
  /** multi-chassis labs with HA gateways: each gateway port and its active chassis */
  gateways?: GatewayStatus[];
}

export async function labStatus(host: HostDriver, ovn: OvnDriver, only?: string): Promise<LabStatus[]> {
  const [containers, ifaces, nbLabs] = await Promise.all([
    host.containers.list(only),
    host.ovs.listLabInterfaces(only),
    ovn.labs(),
  ]);
  const names = new Set<string>([
    ...listStateLabs(),
    ...containers.map((c) => c.lab),
    ...nbLabs,
    ...runtimeLabs(),
  ]);
  const labs = [...names].filter((l) => only === undefined || l === only).sort();
  const ifaceByName = new Map(ifaces.map((i) => [i.name, i]));
  const out: LabStatus[] = [];
  for (const lab of labs) {
    const state = loadState(lab);
    const plan = state?.plan;
    const lsps = plan?.nodes.flatMap((n) => n.interfaces.map((i) => i.lsp)) ?? [];
    // a multi-chassis lab is read from its own chassis and central, not from this host's OVS/OVN
    const mc = plan?.chassis?.length ? await chassisLabView(plan, lsps) : undefined;
    const bindings = new Map((mc ? mc.bindings : await ovn.bindings(lsps)).map((b) => [b.logicalPort, b]));
    const ifaceOf = mc ? new Map(mc.ifaces.map((i) => [i.name, i])) : ifaceByName;
    const relays = new Map(host.relays.list(lab).map((r) => [r.hostVeth, r]));
    const nodes: NodeStatus[] = [];
    const nodeNames = new Set([
      ...(plan?.nodes.map((n) => n.name) ?? []),
      ...containers.filter((c) => c.lab === lab).map((c) => c.node),
    ]);
    for (const name of nodeNames) {
      const pn = plan?.nodes.find((n) => n.name === name);
      const c = containers.find((x) => x.lab === lab && x.node === name);
      nodes.push({
        name,
        ...(mc && pn ? { chassis: pn.host } : {}),
        container: c?.name ?? pn?.container ?? '',
        state: c ? c.state : 'missing',
        interfaces: (pn?.interfaces ?? []).map((i) => {
          const o = ifaceOf.get(ovsPortOf(i));
          const b = bindings.get(i.lsp);
          const relay = relays.get(i.hostVeth);
          const impair: InterfaceStatus['impair'] = i.impair
            ? {
                ...impairValues(i.impair),
                summary: describeImpair(i.impair),
                relay: relay?.pid ? 'running' : 'not running',
                ...(relay?.params ? { applied: impairOfParams(relay.params) } : {}),
              }
            : undefined;
          return {
            ...(impair ? { impair } : {}),
            name: i.name,
            network: i.network,
            ip: i.ip !== undefined ? `${i.ip}/${i.prefix}` : '',
            ...(i.ip6 !== undefined ? { ip6: `${i.ip6}/${i.prefix6}` } : {}),
            mac: i.mac,
            hostVeth: i.hostVeth,
            lsp: i.lsp,
            plugged: Boolean(o && (o.ofport ?? -1) > 0 && !o.error),
            ovnInstalled: o?.externalIds['ovn-installed'] === 'true',
            bound: Boolean(b?.chassis),
            chassis: b?.chassis ?? '',
          };
        }),
      });
    }
    out.push({
      lab,
      ...(state?.file ? { file: state.file } : {}),
      nodes,
      ready:
        nodes.length > 0 &&
        nodes.every(
          (n) => n.state === 'running' && n.interfaces.every((i) => i.plugged && i.ovnInstalled && i.bound),
        ),
      ...(mc ? { central: mc.central, chassis: mc.chassis } : {}),
      ...(mc?.gateways.length ? { gateways: mc.gateways } : {}),
    });
  }
  return out;
}
