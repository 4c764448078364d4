/** Raw host facts for the host unit tests (shared by host-report and host-plan). */
import type { HostFacts } from '../../src/host/report.js';

export const NO_MODULE = { loaded: false, available: false, detail: 'no openvswitch kernel module' };
export const MODULE = { loaded: true, available: true, detail: 'openvswitch module loaded' };

/** A healthy single-host embedded control plane, like the one platform.md describes. */
export function healthyFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    root: true,
    hostname: 'vm',
    tools: { ip: true, ethtool: true, nsenter: true, ping: true, 'ovs-vsctl': true },
    optionalTools: { conntrack: true },
    kernelModule: NO_MODULE,
    docker: { ok: true, detail: 'Docker 20.10 (API 1.41)' },
    ovsdb: {
      ok: true,
      detail: 'answers',
      externalIds: {
        hostname: 'vm',
        'system-id': 'chassis-a',
        'ovn-remote': 'unix:/var/run/ovn/ovnsb_db.sock',
        'ovn-encap-type': 'geneve',
        'ovn-encap-ip': '127.0.0.1',
        'ovn-bridge-datapath-type': 'netdev',
      },
      bridges: [{ name: 'br-int', datapathType: 'netdev' }],
    },
    vswitchd: { ok: true, detail: 'ovs-vswitchd 3.1.0' },
    nb: { ok: true, detail: 'answers' },
    sb: {
      ok: true,
      detail: 'answers (1 chassis)',
      remote: 'unix:/var/run/ovn/ovnsb_db.sock',
      chassis: [{ name: 'chassis-a', hostname: 'vm' }],
      encaps: [{ type: 'geneve', ip: '127.0.0.1', chassis: 'chassis-a' }],
    },
    northd: { ok: true, detail: 'ovn-northd 23.03.1', status: 'status active' },
    controller: { ok: true, detail: 'ovn-controller 23.03.1' },
    connection: { ok: true, detail: 'connected' },
    ...over,
  };
}
