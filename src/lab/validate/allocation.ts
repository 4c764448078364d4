/** Whether every network has a free address for each interface compile will allocate one to (IPv4 and IPv6). */
import { size } from '../ipv4.js';
import { size6 } from '../ipv6.js';
import type { LabNetwork } from '../types.js';
import type { ValidateContext } from './context.js';

export function checkFreeAddresses(ctx: ValidateContext, networks: LabNetwork[]): void {
  for (const net of networks) {
    const want = ctx.pendingAlloc.get(net.name);
    if (net.subnet && want?.length) {
      const usable = size(net.subnet) - (net.subnet.prefix >= 31 ? 0 : 2);
      const free = usable - ctx.addresses.count(net.name);
      if (want.length > free) {
        // Reported at the first interface that would find the subnet full.
        ctx.add(
          want[Math.max(0, free)]!,
          `network ${net.name} (${net.cidr}) has no free address left for this interface`,
          `use a larger subnet than /${net.subnet.prefix}`,
        );
      }
    }
    const want6 = ctx.pendingAlloc6.get(net.name);
    if (net.subnet6 && want6?.length) {
      // every address but the subnet-router anycast one (::0) is a host address
      const usable = size6(net.subnet6) - 1n;
      const free = usable - BigInt(ctx.addresses6.count(net.name));
      if (BigInt(want6.length) > free) {
        ctx.add(
          want6[Math.max(0, Number(free))]!,
          `network ${net.name} (${net.cidr6}) has no free IPv6 address left for this interface`,
          `use a larger subnet6 than /${net.subnet6.prefix} (/64 is usual)`,
        );
      }
    }
  }
}
