/**
 * chassis, underlay and each node's placement (multi-chassis labs, docs/multichassis.md). A lab without chassis:
 * is on this host's chassis as before, and none of this applies. Geneve adds GENEVE_OVERHEAD bytes to every
 * packet, so a node MTU that does not fit the underlay MTU minus that is refused here: small packets would pass and
 * large ones vanish silently (the tunnel-mtu trap).
 */
import {
  broadcast,
  contains,
  firstHost,
  intToIp,
  ipToInt,
  isHostAddress,
  isIPv4,
  parseCidr,
  size,
} from '../ipv4.js';
import type { LabChassis, LabNetwork, LabNode, LabUnderlay } from '../types.js';
import type { ValidateContext } from './context.js';
import { didYouMean, nameIssue } from './suggest.js';

/** Bytes geneve (outer Ethernet 14 + IPv4 20 + UDP 8 + Geneve 8 + OVN option 8) adds to each packet. */
export const GENEVE_OVERHEAD = 58;
/** A chassis name ends up in a netns name, a system-id and tunnel port names: short. */
export const MAX_CHASSIS_NAME = 12;
const SSH_RE = /^([a-z_][a-z0-9_-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?$/;
/** an interface name labctl passes to ip/ovs-vsctl (remote uplink, underlay uplink) */
const IFACE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export interface ChassisSection {
  chassis: LabChassis[];
  underlay: LabUnderlay;
}

/** The chassis: section and the underlay; undefined for a single-chassis lab. */
export function validateChassis(ctx: ValidateContext): ChassisSection | undefined {
  const { doc, add } = ctx;
  if (doc.chassis === undefined) {
    if (doc.underlay !== undefined)
      add(['underlay'], 'underlay: is only used with chassis:', 'add chassis: { hv1: {}, hv2: {} }', true);
    return undefined;
  }
  const names = Object.keys(doc.chassis);
  if (!names.length)
    add(['chassis'], 'chassis: names no chassis', 'e.g. chassis: { hv1: {}, hv2: {} }, or drop it', true);
  const ul = doc.underlay ?? { subnet: '172.31.250.0/24', mtu: 1600 };
  const parsed = parseCidr(ul.subnet);
  let underlay: LabUnderlay = { cidr: ul.subnet, prefix: 24, mtu: ul.mtu };
  if (!parsed.ok || parsed.hostBitsSet)
    add(
      ['underlay', 'subnet'],
      `underlay subnet "${ul.subnet}" ${parsed.ok ? 'has host bits set' : `is not valid: ${parsed.reason}`}`,
      'an IPv4 CIDR such as 172.31.250.0/24',
    );
  else {
    underlay = { cidr: ul.subnet, prefix: parsed.cidr.prefix, mtu: ul.mtu };
    if (ul.bfd)
      underlay.bfd = {
        ...(ul.bfd.min_rx !== undefined ? { minRx: ul.bfd.min_rx } : {}),
        ...(ul.bfd.min_tx !== undefined ? { minTx: ul.bfd.min_tx } : {}),
        ...(ul.bfd.mult !== undefined ? { mult: ul.bfd.mult } : {}),
      };
    // labs with remote chassis: the central serves its SB over SSL on the underlay bridge (docs/multichassis.md)
    if (names.some((n) => doc.chassis![n]!.kind === 'remote')) {
      const cip = doc.underlay?.central_ip ?? intToIp(broadcast(parsed.cidr) - 1);
      if (!isIPv4(cip) || !contains(parsed.cidr, ipToInt(cip)) || !isHostAddress(parsed.cidr, ipToInt(cip)))
        add(
          ['underlay', 'central_ip'],
          `central_ip ${cip} is not a host address of the underlay ${ul.subnet}`,
          'drop central_ip (the last address of the underlay is used) or pick one inside it',
        );
      else underlay.centralIp = cip;
    } else if (doc.underlay?.central_ip !== undefined)
      add(['underlay', 'central_ip'], 'central_ip is only used with remote chassis', 'drop it');
    const simulated = names.filter((n) => doc.chassis![n]!.kind === 'simulated').length;
    if (size(parsed.cidr) - 2 < simulated)
      add(
        ['underlay', 'subnet'],
        `underlay subnet ${ul.subnet} has room for ${Math.max(0, size(parsed.cidr) - 2)} chassis, the lab has ${simulated}`,
        'use a larger subnet, e.g. /24',
      );
  }
  if (doc.underlay?.uplink !== undefined) {
    if (!IFACE_RE.test(doc.underlay.uplink))
      add(['underlay', 'uplink'], `uplink "${doc.underlay.uplink}" is not an interface name`, 'e.g. eth1');
    else underlay.uplink = doc.underlay.uplink;
  }
  if (doc.ovn.remote !== undefined || doc.ovn.nb !== undefined)
    add(
      ['ovn', doc.ovn.remote !== undefined ? 'remote' : 'nb'],
      'a lab with chassis: has its own OVN central; ovn.remote / ovn.nb cannot be given',
      'drop ovn.remote and ovn.nb (labctl status --json names the central it creates)',
    );

  // impairment relays run beside the host-side veth, which on a simulated chassis lives in its netns: not yet
  for (const [node, n] of Object.entries(doc.nodes ?? {}))
    (n.interfaces ?? []).forEach((i, k) => {
      if (typeof i !== 'string' && i.impair !== undefined)
        add(
          ['nodes', node, 'interfaces', k, 'impair'],
          'impair: is not supported in a multi-chassis lab yet',
          'drop impair: here, or run the lab without chassis: (docs/impairments.md)',
        );
    });
  const chassis: LabChassis[] = [];
  const byIp = new Map<string, string>();
  let next = parsed.ok ? firstHost(parsed.cidr) : 0;
  for (const name of names) {
    const c = doc.chassis[name]!;
    const p = ['chassis', name];
    const bad = nameIssue(name, MAX_CHASSIS_NAME);
    if (bad) add(p, `chassis name "${name}" ${bad}`, undefined, true);
    let encapIp = c.encap_ip;
    if (c.kind === 'remote') {
      if (c.ssh === undefined)
        add(p, `remote chassis ${name} needs ssh:`, 'e.g. ssh: labctl@198.51.100.12', true);
      else if (!SSH_RE.test(c.ssh))
        add([...p, 'ssh'], `ssh "${c.ssh}" is not user@host`, 'e.g. labctl@198.51.100.12');
      if (encapIp === undefined)
        add(p, `remote chassis ${name} needs encap_ip:`, "the machine's address other chassis reach", true);
      if (c.uplink !== undefined) {
        if (!IFACE_RE.test(c.uplink))
          add([...p, 'uplink'], `uplink "${c.uplink}" is not an interface name`, 'e.g. eth1');
        else if (
          encapIp !== undefined &&
          parsed.ok &&
          isIPv4(encapIp) &&
          !isHostAddress(parsed.cidr, ipToInt(encapIp))
        )
          add(
            [...p, 'encap_ip'],
            `encap_ip ${encapIp} of remote chassis ${name} (uplink ${c.uplink}) is not a host address of the underlay ${ul.subnet}`,
            'with uplink:, labctl puts encap_ip on br-phy with the underlay prefix: pick an address inside underlay.subnet',
          );
      }
      if (encapIp !== undefined && encapIp === underlay.centralIp)
        add(
          [...p, 'encap_ip'],
          `encap_ip ${encapIp} is the central's address on the underlay`,
          'pick another one, or set underlay.central_ip',
        );
    } else {
      if (c.ssh !== undefined)
        add([...p, 'ssh'], `simulated chassis ${name} takes no ssh:`, 'add kind: remote for a real machine');
      for (const k of ['ssh_key', 'known_hosts', 'uplink'] as const)
        if (c[k] !== undefined)
          add([...p, k], `simulated chassis ${name} takes no ${k}:`, 'add kind: remote for a real machine');
      if (encapIp === undefined && parsed.ok) {
        // the next address of the underlay no chassis named explicitly
        const explicit = new Set(
          Object.values(doc.chassis)
            .map((x) => x.encap_ip)
            .filter((x): x is string => x !== undefined),
        );
        if (underlay.centralIp) explicit.add(underlay.centralIp);
        while (explicit.has(intToIp(next))) next++;
        encapIp = intToIp(next++);
      } else if (encapIp !== undefined && parsed.ok && isIPv4(encapIp)) {
        const n = ipToInt(encapIp);
        if (!contains(parsed.cidr, n) || !isHostAddress(parsed.cidr, n))
          add(
            [...p, 'encap_ip'],
            `encap_ip ${encapIp} of simulated chassis ${name} is not a host address of the underlay ${ul.subnet}`,
            'drop encap_ip (it is allocated from underlay.subnet) or pick one inside it',
          );
      }
    }
    if (encapIp !== undefined) {
      if (!isIPv4(encapIp))
        add([...p, 'encap_ip'], `encap_ip "${encapIp}" is not an IPv4 address`, 'e.g. 198.51.100.12');
      else if (c.encap_ip !== undefined && byIp.has(encapIp))
        add(
          [...p, 'encap_ip'],
          `encap_ip ${encapIp} is also chassis ${byIp.get(encapIp)}'s`,
          'every chassis needs its own tunnel address',
        );
      byIp.set(encapIp, name);
    }
    const lc: LabChassis = { name, kind: c.kind, encapIp: encapIp ?? '' };
    if (c.ssh !== undefined) lc.ssh = c.ssh;
    if (c.kind === 'remote') {
      if (c.ssh_key !== undefined) lc.sshKey = c.ssh_key;
      if (c.known_hosts !== undefined) lc.knownHosts = c.known_hosts;
      lc.hostKey = c.host_key;
      if (c.uplink !== undefined && IFACE_RE.test(c.uplink)) lc.uplink = c.uplink;
    }
    chassis.push(lc);
  }
  return { chassis, underlay };
}

/**
 * Each node's chassis (the first chassis when it names none) and its interfaces' MTU against the underlay. Nodes
 * naming a chassis in a lab without chassis: are reported too.
 */
export function placeNodes(
  ctx: ValidateContext,
  section: ChassisSection | undefined,
  nodes: LabNode[],
  networks: LabNetwork[],
): void {
  const { doc, add } = ctx;
  const names = section?.chassis.map((c) => c.name) ?? [];
  const netMtu = new Map(networks.map((n) => [n.name, n.mtu]));
  // a network's (or the default) MTU that does not fit is reported once, where it is set
  const reported = new Set<string>();
  for (const node of nodes) {
    const nd = doc.nodes[node.name];
    const p = ['nodes', node.name];
    if (!section) {
      if (nd?.chassis !== undefined)
        add(
          [...p, 'chassis'],
          `node ${node.name} names chassis ${nd.chassis}, but the lab has no chassis: section`,
          'add chassis: { hv1: {}, hv2: {} } to the lab, or drop the node’s chassis:',
        );
      continue;
    }
    if (nd?.chassis !== undefined && !names.includes(nd.chassis)) {
      add([...p, 'chassis'], `unknown chassis "${nd.chassis}"`, didYouMean(nd.chassis, names, 'chassis'));
      continue;
    }
    node.chassis = nd?.chassis ?? names[0];
    node.interfaces.forEach((i, idx) => {
      const mtu = i.mtu ?? netMtu.get(i.network);
      if (mtu === undefined || mtu + GENEVE_OVERHEAD <= section.underlay.mtu) return;
      const docIface = nd?.interfaces[idx];
      const explicit = typeof docIface === 'object' && docIface.mtu !== undefined;
      const fromNet = doc.networks[i.network]?.mtu !== undefined;
      const path = explicit
        ? [...p, 'interfaces', idx, 'mtu']
        : fromNet
          ? ['networks', i.network, 'mtu']
          : ['defaults', 'mtu'];
      if (!explicit && reported.has(path.join('.'))) return;
      reported.add(path.join('.'));
      add(
        path,
        `MTU ${mtu} of ${node.name}.${i.name} does not fit the underlay: ${mtu} + ${GENEVE_OVERHEAD} (geneve) > ${section.underlay.mtu}`,
        `lower the MTU to ${section.underlay.mtu - GENEVE_OVERHEAD} or raise underlay.mtu to ${mtu + GENEVE_OVERHEAD} (large packets would vanish in the tunnel)`,
      );
    });
  }
}
