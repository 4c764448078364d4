/**
 * Every doctor check, in order: the runner runs them layer by layer (host → wiring → dataplane) and, within a
 * layer, concurrently; the order here is also the order in which a failure may explain a later one of the same
 * layer (checks/runner.ts), so list a layer's checks from the most basic up.
 *
 * Adding a check: write checks/<layer>-<name>.ts exporting a DoctorCheck (or a Check<CheckContext>) and add it
 * below in its layer's block. Facts (containers, PIDs, OVS rows, NB, SB, nsState, offload, host links, the
 * host report) are in ctx.facts, read once per run (checks/facts.ts).
 */

import { dataplaneConntrack } from './dataplane-conntrack.js';
import { dataplaneDhcp } from './dataplane-dhcp.js';
import { dataplaneDns } from './dataplane-dns.js';
import { dataplaneIcmp } from './dataplane-icmp.js';
import { dataplaneService } from './dataplane-service.js';
import { dataplaneTcp } from './dataplane-tcp.js';
import { dataplaneUdp } from './dataplane-udp.js';
import { hostChassis } from './host-chassis.js';
import { hostChassisKeys } from './host-chassis-keys.js';
import { hostDatapath } from './host-datapath.js';
import { hostDockerd } from './host-dockerd.js';
import { hostOvnController } from './host-ovn-controller.js';
import { hostOvnNb } from './host-ovn-nb.js';
import { hostOvnNorthd } from './host-ovn-northd.js';
import { hostOvnSb } from './host-ovn-sb.js';
import { hostOvsVswitchd } from './host-ovs-vswitchd.js';
import { hostOvsdb } from './host-ovsdb.js';
import { hostSbConnection } from './host-sb-connection.js';
import { hostTools } from './host-tools.js';
import type { DoctorCheck } from './runner.js';
import { wiringAddress } from './wiring-address.js';
import { wiringBinding } from './wiring-binding.js';
import { wiringContainer } from './wiring-container.js';
import { wiringImpair } from './wiring-impair.js';
import { wiringLsp } from './wiring-lsp.js';
import { wiringMtu } from './wiring-mtu.js';
import { wiringOffload } from './wiring-offload.js';
import { wiringOvnInstalled } from './wiring-ovn-installed.js';
import { wiringOvsPort } from './wiring-ovs-port.js';
import { wiringRoutes } from './wiring-routes.js';
import { wiringVeth } from './wiring-veth.js';

export const CHECKS: DoctorCheck[] = [
  // ---- host: daemons first, then the chassis configuration that depends on them
  hostTools,
  hostDockerd,
  hostOvsdb,
  hostOvsVswitchd,
  hostOvnNb,
  hostOvnSb,
  hostOvnNorthd,
  hostOvnController,
  hostChassisKeys,
  hostDatapath,
  hostSbConnection,
  hostChassis,

  // ---- wiring: per node and interface, from the container outwards
  wiringContainer,
  wiringVeth,
  wiringAddress,
  wiringMtu,
  wiringOffload,
  wiringRoutes,
  wiringOvsPort,
  wiringImpair,
  wiringLsp,
  wiringBinding,
  wiringOvnInstalled,

  // ---- dataplane: one shared probe run (src/probe) serves icmp, udp, tcp and service
  dataplaneIcmp,
  dataplaneUdp,
  dataplaneTcp,
  dataplaneService,
  dataplaneConntrack,
  // ---- dataplane: OVN's DHCP and DNS (docs/dhcp-dns.md)
  dataplaneDhcp,
  dataplaneDns,
];
