/**
 * The OVS side of an OVN chassis, the same on a simulated and a remote one: the Open_vSwitch keys ovn-controller
 * reads (system-id, SB remote, geneve encap), br-int, and br-phy carrying the tunnel address on the underlay
 * uplink (userspace datapath). One ovs-vsctl transaction's arguments; the caller runs them with its own ovs-vsctl.
 */
import { assertArg } from '../names.js';
import { EXTID_LAB } from '../plan/types.js';

export interface ChassisOvs {
  systemId: string;
  /** ovn-remote: the lab's SB (unix:… for a simulated chassis, ssl:… for a remote one) */
  ovnRemote: string;
  encapIp: string;
  datapath: 'netdev' | 'system';
  /** the interface br-phy takes as its port; absent: no br-phy (the kernel datapath uses the machine's address) */
  uplink?: string;
  /** MTU of br-phy (the underlay's) */
  mtu: number;
  /** mark the bridges with the lab (a remote machine's OVS is not the lab's alone) */
  lab?: string;
}

export function chassisOvsArgs(c: ChassisOvs): string[] {
  const mark = c.lab ? [`external_ids:${EXTID_LAB}=${c.lab}`] : [];
  return [
    'set',
    'Open_vSwitch',
    '.',
    `external_ids:system-id=${c.systemId}`,
    `external_ids:hostname=${c.systemId}`,
    `external_ids:ovn-remote="${c.ovnRemote}"`,
    'external_ids:ovn-encap-type=geneve',
    `external_ids:ovn-encap-ip=${c.encapIp}`,
    `external_ids:ovn-bridge-datapath-type=${c.datapath}`,
    '--',
    '--may-exist',
    'add-br',
    'br-int',
    '--',
    'set',
    'Bridge',
    'br-int',
    `datapath_type=${c.datapath}`,
    'fail-mode=secure',
    'other-config:disable-in-band=true',
    ...mark,
    ...(c.uplink
      ? [
          '--',
          '--may-exist',
          'add-br',
          'br-phy',
          '--',
          'set',
          'Bridge',
          'br-phy',
          'datapath_type=netdev',
          ...mark,
          '--',
          '--may-exist',
          'add-port',
          'br-phy',
          assertArg(c.uplink, 'interface name'),
          '--',
          'set',
          'Interface',
          'br-phy',
          `mtu_request=${c.mtu}`,
        ]
      : []),
  ];
}
