/**
 * tx checksum offload is off on the container-side end: on the userspace datapath ICMP passes but TCP and UDP
 * are dropped while it is on (platform.md, "Checksum offload").
 */
import type { DoctorCheck } from './runner.js';
import { fail, nsCommand, pass, perIface, refOf, upCommand } from './wiring-common.js';

export const wiringOffload: DoctorCheck = {
  id: 'wiring.offload',
  layer: 'wiring',
  title: 'tx checksum offload off (container side)',
  run(ctx) {
    return perIface(this, ctx, async ({ node, iface }) => {
      const ns = await ctx.facts.nsState(node.name);
      if (!ns.links.some((l) => l.name === iface.name))
        return fail('link-missing', `${iface.name} not found inside ${node.container}`, upCommand(ctx));
      const [on, pid] = await Promise.all([
        ctx.facts.txOffload(node.name, iface.name),
        ctx.facts.pid(node.name),
      ]);
      if (on === undefined)
        throw new Error(`ethtool -k ${iface.name} inside ${node.name} gave no tx-checksumming line`);
      if (on)
        return fail(
          'checksum-offload',
          `tx-checksumming: on for ${iface.name} inside ${node.name} (expected off: the userspace datapath drops TCP/UDP with offloaded checksums)`,
          nsCommand(pid, ['ethtool', '-K', iface.name, 'tx', 'off']),
          { pid },
        );
      return pass(`tx-checksumming: off on ${iface.name}`);
    });
  },
  async fix(ctx, result) {
    const ref = refOf(ctx, result);
    if (result.cause !== 'checksum-offload' || !ref) return undefined;
    const pid = await ctx.facts.pid(ref.node.name);
    if (pid === undefined) return undefined;
    await ctx.host.links.disableTxOffload(ref.iface.name, pid);
    return `tx checksum offload off on ${ref.iface.name} inside ${ref.node.name}`;
  },
};
