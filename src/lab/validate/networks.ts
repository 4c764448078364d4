/** networks: names, subnets (IPv4 and/or IPv6) and gateways. Fills ctx.netByName with every usable network. */
import { MAX_OBJECT_NAME } from '../../names.js';
import { type Cidr, formatCidr, parseCidr } from '../ipv4.js';
import { type Cidr6, formatCidr6, parseCidr6 } from '../ipv6.js';
import type { LabNetwork } from '../types.js';
import { checkHostIp } from './addresses.js';
import type { ValidateContext } from './context.js';
import { nameIssue } from './suggest.js';

/** The longest IPv6 prefix a network may have: room for the router's address and a few nodes' (RFC 6164 /127s are links). */
export const MAX_PREFIX6 = 126;

export function validateNetworks(ctx: ValidateContext): LabNetwork[] {
  const { doc, add } = ctx;
  const networks: LabNetwork[] = [];
  for (const [name, n] of Object.entries(doc.networks)) {
    const p = ['networks', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `network name "${name}" ${bad}`, undefined, true);
    if (n.subnet === undefined && n.subnet6 === undefined) {
      add(
        p,
        `network ${name} has no subnet`,
        'add subnet: 10.0.1.0/24 (IPv4), subnet6: "fd00:1::/64" (IPv6), or both',
        true,
      );
      continue;
    }
    const subnet = n.subnet === undefined ? undefined : checkSubnet(ctx, n.subnet, [...p, 'subnet']);
    const subnet6 = n.subnet6 === undefined ? undefined : checkSubnet6(ctx, n.subnet6, [...p, 'subnet6']);
    if ((n.subnet !== undefined && !subnet) || (n.subnet6 !== undefined && !subnet6)) continue;
    if (n.gateway !== undefined) {
      if (subnet) checkHostIp(n.gateway, subnet, n.subnet!, [...p, 'gateway'], add);
      else
        add(
          [...p, 'gateway'],
          `network ${name} has no IPv4 subnet for gateway ${n.gateway}`,
          'add subnet:, or remove gateway (the router takes the first address of subnet6)',
        );
    }
    if (n.ra !== undefined && n.ra && !subnet6)
      add(
        [...p, 'ra'],
        `ra: router advertisements need an IPv6 subnet on ${name}`,
        'add subnet6:, or remove ra',
      );
    const net: LabNetwork = { name, gateway: n.gateway, mtu: n.mtu ?? doc.defaults.mtu };
    if (subnet) {
      net.subnet = subnet;
      net.cidr = formatCidr(subnet);
    }
    if (subnet6) {
      net.subnet6 = subnet6;
      net.cidr6 = formatCidr6(subnet6);
    }
    if (n.ra) net.ra = true;
    if (n.dhcp) net.dhcp = true;
    networks.push(net);
    ctx.netByName.set(name, net);
  }
  return networks;
}

function checkSubnet({ add }: ValidateContext, text: string, path: string[]): Cidr | undefined {
  const parsed = parseCidr(text);
  if (!parsed.ok) {
    add(path, `subnet "${text}": ${parsed.reason}`, 'write an IPv4 CIDR such as 10.0.1.0/24');
  } else if (parsed.hostBitsSet) {
    add(path, `subnet "${text}" has host bits set`, `did you mean ${formatCidr(parsed.cidr)}?`);
  } else if (parsed.cidr.prefix > 30) {
    // Smaller subnets have no room for the router's address and one node's.
    add(path, `subnet "${text}" is too small for a router and a node`, 'use /30 or larger');
  } else {
    return parsed.cidr;
  }
  return undefined;
}

/** The IPv6 twin of checkSubnet: a valid CIDR, no host bits, not longer than /126 (/64 is what hosts expect). */
function checkSubnet6({ add }: ValidateContext, text: string, path: string[]): Cidr6 | undefined {
  const parsed = parseCidr6(text);
  if (!parsed.ok) {
    add(path, `subnet6 "${text}": ${parsed.reason}`, 'write an IPv6 CIDR such as "fd00:1::/64"');
  } else if (parsed.hostBitsSet) {
    add(path, `subnet6 "${text}" has host bits set`, `did you mean ${formatCidr6(parsed.cidr)}?`);
  } else if (parsed.cidr.prefix > MAX_PREFIX6) {
    add(
      path,
      `subnet6 "${text}" is too small for a router and a node`,
      `use /${MAX_PREFIX6} or larger (/64 is the usual IPv6 subnet)`,
    );
  } else if (parsed.cidr.prefix < 8) {
    add(
      path,
      `subnet6 "${text}" is implausibly large (/${parsed.cidr.prefix})`,
      'use a /64, e.g. fd00:1::/64',
    );
  } else {
    return parsed.cidr;
  }
  return undefined;
}
