/**
 * The checks a multi-chassis lab runs (docs/multichassis.md "Doctor"): the host layer per chassis (daemons, SB
 * registration) and of its own central, the tunnel checks (in the wiring layer: underlay, tunnel ports, MTU
 * headroom), then the data-plane probes — which follow the underlay check, whose pings warm the tunnels up.
 * The host checks of this machine's own OVS/OVN and the wiring checks that read it do not apply: nothing of the lab
 * is there. The container and veth checks do: they read each node's host side through its chassis's driver.
 */
import { chassisDaemonsCheck } from './chassis-daemons.js';
import { chassisRegistered } from './chassis-registered.js';
import { dataplaneIcmp } from './dataplane-icmp.js';
import { dataplaneService } from './dataplane-service.js';
import { dataplaneTcp } from './dataplane-tcp.js';
import { dataplaneUdp } from './dataplane-udp.js';
import type { DoctorCheck } from './runner.js';
import { tunnelMtu } from './tunnel-mtu.js';
import { tunnelPortsCheck } from './tunnel-ports.js';
import { tunnelUnderlay } from './tunnel-underlay.js';
import { wiringContainer } from './wiring-container.js';
import { wiringVeth } from './wiring-veth.js';

export const CHASSIS_LAB_CHECKS: DoctorCheck[] = [
  chassisDaemonsCheck,
  chassisRegistered,
  tunnelUnderlay,
  tunnelPortsCheck,
  tunnelMtu,
  // the node side, read and fixed through each node's chassis (ctx.hostOf): its container, its veth pair
  wiringContainer,
  wiringVeth,
  dataplaneIcmp,
  dataplaneUdp,
  dataplaneTcp,
  dataplaneService,
];
