/**
 * Everything host-specific behind one driver: the Docker endpoint, namespace and link plumbing, and the local OVS.
 * A lab on several chassis gets one HostDriver per host; the OVN northbound driver is shared (it is central).
 */

import { labDir } from '../apply/state.js';
import { getChassisName } from '../host/probe.js';
import type { DatapathTarget } from './conntrack.js';
import { type ContainerDriver, dockerContainers } from './containers.js';
import { connectDocker } from './docker-client.js';
import { type LinkDriver, localLinks } from './links.js';
import { localOvs, type OvsDriver } from './ovs.js';
import { localRelays, type RelayDriver } from './relay.js';

export interface HostDriver {
  name: string;
  containers: ContainerDriver;
  links: LinkDriver;
  ovs: OvsDriver;
  /** the impairment relays of labs on this host (relay.ts) */
  relays: RelayDriver;
  /** this host's OVN chassis name (the Open_vSwitch row's system-id) */
  chassis(): Promise<string>;
  /**
   * a simulated chassis's own datapath (conntrack lives in its ovs-vswitchd) and its ovn-controller's control
   * socket; absent: this host's (the default ovs-appctl / ovn-appctl targets)
   */
  datapath?: DatapathTarget & { controllerCtl?: () => string | undefined };
}

export async function localHost(): Promise<HostDriver> {
  const docker = await connectDocker();
  return {
    name: 'local',
    containers: dockerContainers(docker),
    links: localLinks(),
    ovs: localOvs(),
    relays: localRelays(labDir),
    chassis: getChassisName,
  };
}
