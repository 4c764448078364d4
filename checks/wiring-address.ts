/** The container's interface has the planned MAC and exactly the planned IPv4 address (a hand change shows). */
import type { DoctorCheck } from './runner.js';
import { fail, fixByConverge, pass, perIface, upCommand } from './wiring-common.js';

export const wiringAddress: DoctorCheck = {
  id: 'wiring.address',
  layer: 'wiring',
  title: 'container MAC and IP as planned',
  run(ctx) {
    return perIface(this, ctx, async ({ node, iface }) => {
      const ns = await ctx.facts.nsState(node.name);
      const link = ns.links.find((l) => l.name === iface.name);
      if (!link)
        return fail('link-missing', `${iface.name} not found inside ${node.container}`, upCommand(ctx));
      const want = `${iface.ip}/${iface.prefix}`;
      const wrong: string[] = [];
      if (link.mac.toLowerCase() !== iface.mac.toLowerCase())
        wrong.push(`MAC ${link.mac}, expected ${iface.mac}`);
      if (link.addrs.length !== 1 || link.addrs[0] !== want)
        wrong.push(`IPv4 ${link.addrs.length ? link.addrs.join(', ') : '(none)'}, expected ${want}`);
      if (wrong.length)
        return fail(
          'address-mismatch',
          `${iface.name} in ${node.name}: ${wrong.join('; ')}`,
          upCommand(ctx),
          {
            seen: { mac: link.mac, addrs: link.addrs },
            expected: { mac: iface.mac, addr: want },
          },
        );
      return pass(`${iface.name} ${link.mac} ${want}`);
    });
  },
  // applyPlan readdresses the interface (and re-adds the routes the flush took with it).
  fix: fixByConverge,
};
