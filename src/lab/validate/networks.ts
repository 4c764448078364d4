/** networks: names, subnets and gateways. Fills ctx.netByName with every network whose subnet is usable. */
import { MAX_OBJECT_NAME } from '../../names.js';
import { type Cidr, formatCidr, parseCidr } from '../ipv4.js';
import type { LabNetwork } from '../types.js';
import { checkHostIp } from './addresses.js';
import type { ValidateContext } from './context.js';
import { nameIssue } from './suggest.js';

export function validateNetworks(ctx: ValidateContext): LabNetwork[] {
  const { doc, add } = ctx;
  const networks: LabNetwork[] = [];
  for (const [name, n] of Object.entries(doc.networks)) {
    const p = ['networks', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `network name "${name}" ${bad}`, undefined, true);
    const subnet = checkSubnet(ctx, n.subnet, [...p, 'subnet']);
    if (!subnet) continue;
    if (n.gateway !== undefined) checkHostIp(n.gateway, subnet, n.subnet, [...p, 'gateway'], add);
    const net: LabNetwork = {
      name,
      subnet,
      cidr: formatCidr(subnet),
      gateway: n.gateway,
      mtu: n.mtu ?? doc.defaults.mtu,
    };
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
