/**
 * Geneve adds 58 bytes: a node interface whose MTU + 58 exceeds the underlay's MTU passes small packets while
 * large ones vanish in the tunnel (ovs-vswitchd logs "Message too long" on the uplink) — the multi-chassis twin of
 * the checksum trap. The MTU is read inside the container, the underlay's from each chassis's uplink.
 */
import { uplinkState } from '../src/drivers/chassis-state.js';
import { GENEVE_OVERHEAD } from '../src/lab/validate/chassis.js';
import type { DoctorCheck } from './runner.js';
import { fail, nsCommand, pass, perIface } from './wiring-common.js';

export const tunnelMtu: DoctorCheck = {
  id: 'tunnel.mtu',
  layer: 'wiring',
  title: 'node MTU + 58 (geneve) fits the underlay',
  async run(ctx) {
    const uplinks = await Promise.all(
      (ctx.plan.chassis ?? []).map(async (c) => ({ c, u: c.netns ? await uplinkState(c.netns) : undefined })),
    );
    const sized = uplinks.filter((x) => x.u?.exists && x.u.mtu > 0);
    const planned = ctx.plan.underlay?.mtu ?? 1500;
    const smallest = sized.reduce((a, x) => (x.u!.mtu < a.mtu ? { mtu: x.u!.mtu, at: x.c.name } : a), {
      mtu: planned,
      at: 'underlay.mtu',
    });
    return perIface(this, ctx, async ({ node, iface }) => {
      const ns = await ctx.facts.nsState(node.name);
      const link = ns.links.find((l) => l.name === iface.name);
      if (!link) return { status: 'skip', evidence: `${iface.name} not in ${node.name} (wiring reports it)` };
      if (link.mtu + GENEVE_OVERHEAD <= smallest.mtu)
        return pass(`${iface.name} mtu ${link.mtu} + ${GENEVE_OVERHEAD} ≤ underlay ${smallest.mtu}`);
      const pid = await ctx.facts.pid(node.name);
      const fits = smallest.mtu - GENEVE_OVERHEAD;
      return fail(
        'tunnel-mtu',
        `${node.name}.${iface.name} mtu ${link.mtu} + ${GENEVE_OVERHEAD} (geneve) > underlay mtu ${smallest.mtu} (${smallest.at === 'underlay.mtu' ? 'underlay.mtu' : `chassis ${smallest.at}'s uplink`}): small packets pass, large ones vanish in the tunnel`,
        nsCommand(pid, ['ip', 'link', 'set', 'dev', iface.name, 'mtu', String(Math.min(iface.mtu, fits))]),
        { mtu: link.mtu, underlayMtu: smallest.mtu },
      );
    });
  },
};
