/** dhcp: and dns: (docs/dhcp-dns.md): the service address of routerless networks is reserved before the nodes. */
import { ipToInt } from '../ipv4.js';
import { serviceAddressOf } from '../service-address.js';
import type { LabNetwork } from '../types.js';
import type { ValidateContext } from './context.js';

/** Networks that need a service address: DHCP or DNS on, and no router linking them. */
export function reserveServiceAddresses(ctx: ValidateContext, networks: LabNetwork[]): void {
  const dns = ctx.doc.dns === true;
  for (const net of networks) {
    if (!net.subnet || !(net.dhcp || dns) || ctx.nextHops.get(net.name)?.by === 'router') continue;
    const ip = serviceAddressOf(net.subnet);
    ctx.addresses.take(
      net.name,
      ipToInt(ip),
      `the DHCP/DNS service address of ${net.name} (${ip}: it has no router)`,
      ['networks', net.name, ...(net.dhcp ? ['dhcp'] : [])],
    );
  }
}

/** With dns:, a load balancer's name is a DNS name beside the nodes' (`<lb>.<lab>` → its VIP): they must differ. */
export function checkDnsNames(ctx: ValidateContext): void {
  if (ctx.doc.dns !== true) return;
  for (const lb of Object.keys(ctx.doc.load_balancers))
    if (ctx.nodeNames.includes(lb))
      ctx.add(
        ['load_balancers', lb],
        `with dns: true, load balancer ${lb} and node ${lb} would both be the name ${lb}.${ctx.doc.name}`,
        'rename the load balancer or the node',
        true,
      );
}
