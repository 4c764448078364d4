/**
 * The container's interface has the planned MAC, exactly the planned IPv4 address and exactly the planned global
 * IPv6 address (a hand change shows). The kernel's own link-local fe80:: address is not compared (docs/ipv6.md).
 */
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
      const want = iface.ip !== undefined ? `${iface.ip}/${iface.prefix}` : undefined;
      const want6 = iface.ip6 !== undefined ? `${iface.ip6}/${iface.prefix6}` : undefined;
      const have6 = link.addrs6 ?? [];
      const wrong: string[] = [];
      if (link.mac.toLowerCase() !== iface.mac.toLowerCase())
        wrong.push(`MAC ${link.mac}, expected ${iface.mac}`);
      if (want ? link.addrs.length !== 1 || link.addrs[0] !== want : link.addrs.length > 0)
        wrong.push(
          `IPv4 ${link.addrs.length ? link.addrs.join(', ') : '(none)'}, expected ${want ?? '(none)'}`,
        );
      if (want6 ? have6.length !== 1 || have6[0] !== want6 : have6.length > 0)
        wrong.push(`IPv6 ${have6.length ? have6.join(', ') : '(none)'}, expected ${want6 ?? '(none)'}`);
      if (wrong.length)
        return fail(
          'address-mismatch',
          `${iface.name} in ${node.name}: ${wrong.join('; ')}`,
          upCommand(ctx),
          {
            seen: { mac: link.mac, addrs: link.addrs, ...(want6 || have6.length ? { addrs6: have6 } : {}) },
            expected: { mac: iface.mac, addr: want, ...(want6 ? { addr6: want6 } : {}) },
          },
        );
      return pass(`${iface.name} ${link.mac} ${[want, want6].filter(Boolean).join(' ')}`);
    });
  },
  // applyPlan readdresses the interface (and re-adds the routes the flush took with it).
  fix: fixByConverge,
};
