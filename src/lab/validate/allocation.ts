/** Whether every network has a free address for each interface compile will allocate one to. */
import { size } from '../ipv4.js';
import type { LabNetwork } from '../types.js';
import type { ValidateContext } from './context.js';

export function checkFreeAddresses(ctx: ValidateContext, networks: LabNetwork[]): void {
  for (const net of networks) {
    const want = ctx.pendingAlloc.get(net.name);
    if (!want?.length) continue;
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
}
