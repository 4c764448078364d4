/** A node's interfaces: names, the network each attaches to, explicit addresses and MACs. */

import type { z } from 'zod';
import { IFNAME_RE } from '../../names.js';
import { parseImpair } from '../impair.js';
import { intToIp, isIPv4 } from '../ipv4.js';
import { normalize6 } from '../ipv6.js';
import { isMulticastMac, normalizeMac } from '../mac.js';
import type { interfaceSchema } from '../schema.js';
import type { LabInterface } from '../types.js';
import { checkHostIp, checkHostIp6 } from './addresses.js';
import type { PathSeg, ValidateContext } from './context.js';
import { didYouMean } from './suggest.js';

type InterfaceDoc = z.output<typeof interfaceSchema>;
type InterfaceSpec = Exclude<InterfaceDoc, string>;

/** The interface of this node that first holds an address. */
interface OwnAddress {
  ifname: string;
  network: string;
}

/**
 * Checks the interfaces of node `node`. `macs` maps every explicit MAC seen so far in the lab to its holder
 * (node.iface): MACs must be unique across the lab, not only within a node.
 */
export function validateInterfaces(
  ctx: ValidateContext,
  node: string,
  raws: InterfaceDoc[],
  p: PathSeg[],
  macs: Map<string, string>,
): LabInterface[] {
  const { doc, add } = ctx;
  const interfaces: LabInterface[] = [];
  const ifNames = new Set<string>();
  const own = new Map<number, OwnAddress>();
  const own6 = new Map<string, OwnAddress>();
  raws.forEach((raw, i) => {
    const ip = [...p, 'interfaces', i];
    const spec: InterfaceSpec = typeof raw === 'string' ? { network: raw } : raw;
    const ifname = spec.name ?? `eth${i + 1}`;
    if (spec.name !== undefined && !IFNAME_RE.test(spec.name)) {
      add(
        [...ip, 'name'],
        `interface name "${spec.name}" is not valid`,
        'at most 15 characters: a-z first, then a-z 0-9 _ -',
      );
    } else if (ifNames.has(ifname)) {
      add(
        spec.name !== undefined ? [...ip, 'name'] : ip,
        `node ${node} has two interfaces named ${ifname}`,
        'give each interface its own name',
      );
    }
    if (ifname === 'lo') add([...ip, 'name'], 'interface name "lo" is reserved', 'pick another name');
    ifNames.add(ifname);
    if (!(spec.network in doc.networks)) {
      add(
        typeof raw === 'string' ? ip : [...ip, 'network'],
        `node ${node} attaches to unknown network "${spec.network}"`,
        didYouMean(spec.network, ctx.networkNames, 'networks'),
      );
    }
    const iface: LabInterface = { name: ifname, network: spec.network };
    if (spec.mtu !== undefined) iface.mtu = spec.mtu;
    if (spec.ip === 'dhcp') {
      // The interface is allocated an address like one without ip:, which a DHCP client then takes from OVN.
      iface.dhcp = true;
      if (ctx.netByName.has(spec.network) && !doc.networks[spec.network]?.dhcp)
        add(
          [...ip, 'ip'],
          `node ${node} asks for DHCP on ${spec.network}, which has no DHCP server`,
          `set networks.${spec.network}.dhcp: true (or give the interface an address)`,
        );
      else if (ctx.netByName.get(spec.network) && !ctx.netByName.get(spec.network)!.subnet)
        add(
          [...ip, 'ip'],
          `${spec.network} is IPv6-only (no subnet:), so ip: dhcp (DHCPv4) has nothing to lease`,
          'remove ip: dhcp, or add subnet: to the network',
        );
    }
    const netDef = ctx.netByName.get(spec.network);
    if (spec.ip !== undefined && spec.ip !== 'dhcp') {
      iface.ip = spec.ip;
      if (netDef && !netDef.subnet)
        ctx.add(
          [...ip, 'ip'],
          `${spec.network} is IPv6-only (no subnet:), so ip ${spec.ip} has nowhere to go`,
          'use ip6:, or add subnet: to the network',
        );
      else checkAddress(ctx, node, ifname, spec.network, spec.ip, [...ip, 'ip'], own);
    } else if (netDef?.subnet) {
      const pending = ctx.pendingAlloc.get(spec.network);
      if (pending) pending.push(ip);
      else ctx.pendingAlloc.set(spec.network, [ip]);
    }
    if (spec.ip6 === 'dhcp') {
      // allocated like an interface without ip6:, then leased by a DHCPv6 client from OVN (stateful)
      iface.dhcp6 = true;
      if (netDef && !doc.networks[spec.network]?.dhcp)
        add(
          [...ip, 'ip6'],
          `node ${node} asks for DHCPv6 on ${spec.network}, which has no DHCP server`,
          `set networks.${spec.network}.dhcp: true (or give the interface an address)`,
        );
      else if (netDef && !netDef.subnet6)
        add(
          [...ip, 'ip6'],
          `${spec.network} has no subnet6:, so ip6: dhcp (DHCPv6) has nothing to lease`,
          'remove ip6: dhcp, or add subnet6: to the network',
        );
    }
    if (spec.ip6 !== undefined && spec.ip6 !== 'dhcp') {
      const v6 = checkAddress6(ctx, node, ifname, spec.network, spec.ip6, [...ip, 'ip6'], own6);
      iface.ip6 = v6 ?? spec.ip6;
    } else if (netDef?.subnet6) {
      const pending = ctx.pendingAlloc6.get(spec.network);
      if (pending) pending.push(ip);
      else ctx.pendingAlloc6.set(spec.network, [ip]);
    }
    if (spec.impair !== undefined) {
      const r = parseImpair(spec.impair);
      for (const issue of r.issues)
        add(issue.key ? [...ip, 'impair', issue.key] : [...ip, 'impair'], issue.message, issue.hint);
      if (r.impair) iface.impair = r.impair;
    }
    if (spec.mac !== undefined) {
      const mac = checkMac(ctx, spec.mac, [...ip, 'mac'], macs);
      if (mac) {
        macs.set(mac, `${node}.${ifname}`);
        iface.mac = mac;
      }
    }
    interfaces.push(iface);
  });
  return interfaces;
}

/** An explicit address: in the subnet, not the next hop's, held by no one else on the network nor by this node. */
function checkAddress(
  ctx: ValidateContext,
  node: string,
  ifname: string,
  network: string,
  text: string,
  path: PathSeg[],
  own: Map<number, OwnAddress>,
): void {
  const net = ctx.netByName.get(network);
  if (!net) {
    // The network is unknown or its subnet invalid (both reported): only the address's form can be checked.
    if (!isIPv4(text)) ctx.add(path, `"${text}" is not an IPv4 address`);
    return;
  }
  const v = checkHostIp(text, net.subnet!, net.cidr!, path, ctx.add);
  if (v === undefined) return;
  const hop = ctx.nextHops.get(network);
  if (hop?.ip === intToIp(v)) {
    ctx.add(path, `${text} is the ${hop.by} address of ${network}`, `pick another address in ${net.cidr!}`);
    return;
  }
  ctx.addresses.take(network, v, `node ${node}`, path);
  // Two networks may share a subnet (separate VPCs), so the per-network book above cannot see one node holding
  // an address on both; the kernel would then answer on either interface. A repeat on the same network is
  // already reported by the book.
  const first = own.get(v);
  if (!first) own.set(v, { ifname, network });
  else if (first.network !== network)
    ctx.add(
      path,
      `address ${intToIp(v)} of node ${node} is already on its interface ${first.ifname} (${first.network})`,
      `give each interface of ${node} its own address`,
    );
}

/** The IPv6 twin of checkAddress; returns the RFC 5952 form when the address is usable. */
function checkAddress6(
  ctx: ValidateContext,
  node: string,
  ifname: string,
  network: string,
  text: string,
  path: PathSeg[],
  own: Map<string, OwnAddress>,
): string | undefined {
  const net = ctx.netByName.get(network);
  if (!net) {
    if (normalize6(text) === undefined) ctx.add(path, `"${text}" is not an IPv6 address`);
    return undefined;
  }
  if (!net.subnet6 || !net.cidr6) {
    ctx.add(
      path,
      `${network} has no subnet6, so ip6 ${text} has nowhere to go`,
      `add subnet6: "fd00:1::/64" (for example) to ${network}, or remove ip6`,
    );
    return undefined;
  }
  const v = checkHostIp6(text, net.subnet6, net.cidr6, path, ctx.add);
  if (v === undefined) return undefined;
  const hop = ctx.nextHops6.get(network);
  if (hop?.ip === v) {
    ctx.add(path, `${v} is the ${hop.by} IPv6 address of ${network}`, `pick another address in ${net.cidr6}`);
    return v;
  }
  ctx.addresses6.take(network, v, `node ${node}`, path);
  const first = own.get(v);
  if (!first) own.set(v, { ifname, network });
  else if (first.network !== network)
    ctx.add(
      path,
      `IPv6 address ${v} of node ${node} is already on its interface ${first.ifname} (${first.network})`,
      `give each interface of ${node} its own address`,
    );
  return v;
}

/** The normalized MAC when it is a usable unicast one; a repeat is reported but still returned. */
function checkMac(
  { add }: ValidateContext,
  text: string,
  path: PathSeg[],
  macs: Map<string, string>,
): string | undefined {
  const mac = normalizeMac(text);
  if (!mac) add(path, `"${text}" is not a MAC address`, 'six hex pairs, e.g. 0a:00:00:00:00:10');
  else if (isMulticastMac(mac))
    add(path, `${mac} is a multicast MAC`, 'the first octet must be even, e.g. 0a:…');
  else if (mac === '00:00:00:00:00:00')
    add(path, 'the all-zero MAC is not usable', 'pick another, e.g. 0a:00:00:00:00:10');
  else {
    const holder = macs.get(mac);
    if (holder) add(path, `MAC ${mac} is already used by ${holder}`, 'each interface needs its own MAC');
    return mac;
  }
  return undefined;
}
