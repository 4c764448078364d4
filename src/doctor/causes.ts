/**
 * The one cause table (design.md "Cause codes"; additions in docs/doctor.md and docs/host.md): every cause code the
 * doctor and the host report give, what it means, and which other causes it explains (checks/analyze.ts: a root
 * cause's symptoms are counted and fixed once). Codes are stable: add new ones, never rename.
 *
 * Fixes are data too (FixAction): the command to print is derived from it (fixText), and `labctl doctor --fix`
 * acts on the data, never on the printed text.
 */
import { formatCommand } from '../exec.js';

export interface CauseInfo {
  /** what is wrong, in a few words */
  summary: string;
  /** causes that follow from this one when both are in scope (beyond the same cause again); each is a Cause
   * (checked by test/unit/doctor-causes.test.ts: typing it here would make the table refer to itself) */
  explains?: readonly string[];
}

const WIRING_OF_A_NODE = [
  'link-missing',
  'link-down',
  'iface-id-mismatch',
  'address-mismatch',
  'port-unbound',
  'checksum-offload',
  'mtu-mismatch',
  'route-missing',
] as const;

/** Every cause code, in design.md's order, then the additions. */
export const CAUSE_TABLE = {
  'docker-unreachable': {
    summary: 'the Docker API does not answer',
    explains: [
      'container-not-running',
      'link-missing',
      'link-down',
      'address-mismatch',
      'checksum-offload',
      'mtu-mismatch',
      'route-missing',
    ],
  },
  'ovsdb-down': {
    summary: 'ovsdb-server (the Open_vSwitch database) does not answer',
    explains: [
      'ovs-vswitchd-down',
      'ovn-controller-down',
      'sb-disconnected',
      'chassis-not-registered',
      'chassis-id-mismatch',
      'encap-missing',
      'datapath-unsupported',
      'bridge-missing',
      'iface-id-mismatch',
      'port-unbound',
    ],
  },
  'ovs-vswitchd-down': {
    summary: 'ovs-vswitchd does not answer',
    explains: ['bridge-missing', 'datapath-unsupported', 'iface-id-mismatch', 'port-unbound'],
  },
  'ovn-northd-down': { summary: 'ovn-northd does not answer', explains: ['port-unbound'] },
  'ovn-controller-down': {
    summary: 'ovn-controller does not answer',
    explains: [
      'sb-disconnected',
      'chassis-not-registered',
      'chassis-id-mismatch',
      'encap-missing',
      'bridge-missing',
      'port-unbound',
    ],
  },
  'sb-disconnected': {
    summary: 'ovn-controller is not connected to the southbound DB (or its remote is not the lab’s)',
    explains: ['chassis-not-registered', 'chassis-id-mismatch', 'encap-missing', 'port-unbound'],
  },
  'chassis-not-registered': {
    summary: 'this host has no Chassis row in the southbound DB',
    explains: ['port-unbound'],
  },
  'chassis-id-mismatch': {
    summary: 'another chassis holds this host’s name or encap',
    explains: ['chassis-not-registered', 'port-unbound'],
  },
  'encap-missing': {
    summary: 'the chassis has no (or another) tunnel encap',
    explains: ['port-unbound'],
  },
  'datapath-unsupported': {
    summary: 'the bridge datapath type cannot run on this kernel',
    explains: ['port-unbound', 'iface-id-mismatch'],
  },
  'container-not-running': {
    summary: 'the node’s container is missing or stopped',
    explains: WIRING_OF_A_NODE,
  },
  'link-missing': {
    summary: 'an end of the node’s veth is missing',
    explains: WIRING_OF_A_NODE.filter((c) => c !== 'link-missing'),
  },
  // The kernel drops a device's routes when it goes down, and ovn-controller unbinds nothing for it.
  'link-down': { summary: 'an end of the node’s veth is down', explains: ['route-missing'] },
  'iface-id-mismatch': {
    summary: 'the OVS interface does not carry the logical port’s iface-id (or another one does)',
    explains: ['port-unbound'],
  },
  'lsp-missing': { summary: 'the logical switch port is missing', explains: ['port-unbound'] },
  'port-unbound': { summary: 'the logical port is not bound (or its flows not installed) on this chassis' },
  // Flushing an address drops the routes through its subnet.
  'address-mismatch': {
    summary: 'a MAC or IPv4 address differs from the plan',
    explains: ['route-missing'],
  },
  'checksum-offload': {
    summary: 'tx checksum offload is on where the userspace datapath needs it off',
  },
  'mtu-mismatch': { summary: 'the MTUs along a path disagree' },
  'acl-drop': { summary: 'an ACL drops traffic that should pass' },
  'no-listener': { summary: 'nothing listens on a declared port' },
  'stale-conntrack': { summary: 'conntrack entries name an address nobody has any more' },
  'unexpected-reachability': { summary: 'traffic that should be blocked gets through' },
  // added with the host layer and the wiring routes check (docs/host.md, docs/doctor.md)
  'ovn-nb-down': {
    summary: 'the OVN northbound DB does not answer',
    explains: ['ovn-northd-down', 'lsp-missing', 'port-unbound'],
  },
  'ovn-sb-down': {
    summary: 'the OVN southbound DB does not answer',
    explains: [
      'ovn-northd-down',
      'sb-disconnected',
      'chassis-not-registered',
      'chassis-id-mismatch',
      'encap-missing',
      'port-unbound',
    ],
  },
  'bridge-missing': {
    summary: 'the integration bridge does not exist',
    explains: ['iface-id-mismatch', 'port-unbound', 'datapath-unsupported'],
  },
  'tools-missing': { summary: 'a command labctl needs is not installed' },
  'not-root': { summary: 'labctl runs without root' },
  'route-missing': { summary: 'a planned route is missing in the node' },
  // added with the doctor's probe pacing (docs/probes.md "Pacing")
  'neigh-table-full': { summary: 'the host’s neighbour (ARP) table cannot hold the lab’s pairs' },
  // added with link impairments (docs/impairments.md)
  'impair-mismatch': { summary: 'an interface’s impairment relay is not as planned' },
  // multi-chassis labs (docs/multichassis.md)
  'chassis-down': {
    summary: 'a simulated chassis’s OVS/OVN daemons are not running',
    explains: ['port-unbound', 'chassis-not-registered', 'tunnel-missing'],
  },
  'tunnel-missing': { summary: 'a chassis has no geneve tunnel port to another chassis' },
  'underlay-down': { summary: 'a chassis cannot reach the others over the underlay' },
  'tunnel-mtu': {
    summary: 'a node MTU plus the geneve overhead (58 bytes) exceeds the underlay MTU',
    explains: ['mtu-mismatch'],
  },
  // OVN's DHCP and DNS (docs/dhcp-dns.md)
  'dhcp-no-lease': { summary: 'OVN offers an ip: dhcp interface no lease, or not its planned address' },
  'dns-stale': { summary: "a node's name resolves to other addresses than its current ones" },
} as const satisfies Record<string, CauseInfo>;

export type Cause = keyof typeof CAUSE_TABLE;

/** Every cause code (design.md's, then the additions). */
export const CAUSES = Object.keys(CAUSE_TABLE) as readonly Cause[];

export const isCause = (s: unknown): s is Cause => typeof s === 'string' && Object.hasOwn(CAUSE_TABLE, s);

/** Does root cause `root` explain symptom cause `symptom` (the same cause, or one it lists)? */
export function causeExplains(root: Cause, symptom: Cause): boolean {
  if (root === symptom) return true;
  const info: CauseInfo = CAUSE_TABLE[root];
  return info.explains?.includes(symptom) ?? false;
}

/**
 * A fix as data. The printed fix line is fixText(action); --fix acts on the action itself.
 * - host-start: `labctl host start` with options (src/host/control.ts startHost);
 * - converge: `labctl up -f FILE` (applyPlan: the lab back to its plan);
 * - command: one command, an argument vector (never a shell string);
 * - advice: something only a person can do (a choice, or an action on something that is not labctl's).
 */
export type FixAction =
  | {
      kind: 'host-start';
      datapath?: 'auto' | 'system' | 'netdev';
      remote?: string;
      encap?: { type: string; ip: string };
    }
  | { kind: 'converge'; file?: string }
  | { kind: 'command'; argv: readonly string[] }
  | { kind: 'advice'; text: string };

/** The fix line people read (and may paste). */
export function fixText(f: FixAction): string {
  switch (f.kind) {
    case 'host-start': {
      const argv = ['labctl', 'host', 'start'];
      if (f.remote) argv.push('--remote', f.remote);
      if (f.encap) argv.push('--encap-type', f.encap.type, '--encap-ip', f.encap.ip);
      if (f.datapath) argv.push('--datapath', f.datapath);
      return formatCommand(argv[0]!, argv.slice(1));
    }
    case 'converge':
      return `labctl up -f ${f.file ?? 'lab.yml'}`;
    case 'command':
      return formatCommand(f.argv[0] ?? '', f.argv.slice(1));
    case 'advice':
      return f.text;
  }
}

/** A host-start --fix may apply: only a repair of this host (a datapath it supports), never another remote or encap. */
export const isSafeHostStart = (f: FixAction | undefined): f is Extract<FixAction, { kind: 'host-start' }> =>
  f?.kind === 'host-start' && !f.remote && !f.encap;
