/** MTUs agree: the container's interface, the plan, and the host-side veth end. */
import type { FixAction } from '../src/doctor/causes.js';
import type { DoctorCheck } from './runner.js';
import { command, fail, nsCommand, pass, perIface, refOf, upCommand } from './wiring-common.js';

export const wiringMtu: DoctorCheck = {
  id: 'wiring.mtu',
  layer: 'wiring',
  title: 'MTU consistent (container, plan, host end)',
  run(ctx) {
    return perIface(this, ctx, async ({ node, iface }) => {
      const [ns, links, pid] = await Promise.all([
        ctx.facts.nsState(node.name),
        ctx.facts.hostLinks(),
        ctx.facts.pid(node.name),
      ]);
      const inside = ns.links.find((l) => l.name === iface.name);
      const hostEnd = links.get(iface.hostVeth);
      if (!inside || !hostEnd)
        return fail(
          'link-missing',
          `${!inside ? `${iface.name} inside ${node.name}` : iface.hostVeth} not found`,
          upCommand(ctx),
        );
      const fixes: FixAction[] = [];
      if (inside.mtu !== iface.mtu)
        fixes.push(nsCommand(pid, ['ip', 'link', 'set', 'dev', iface.name, 'mtu', String(iface.mtu)]));
      if (hostEnd.mtu !== iface.mtu)
        fixes.push(command('ip', 'link', 'set', 'dev', iface.hostVeth, 'mtu', String(iface.mtu)));
      const seen = `${iface.name} in ${node.name} ${inside.mtu}, host end ${iface.hostVeth} ${hostEnd.mtu}, plan ${iface.mtu}`;
      if (fixes.length)
        return fail('mtu-mismatch', seen, fixes, {
          insideMtu: inside.mtu,
          hostMtu: hostEnd.mtu,
          planMtu: iface.mtu,
        });
      return pass(`MTU ${iface.mtu} on both ends`);
    });
  },
  async fix(ctx, result) {
    const ref = refOf(ctx, result);
    if (result.cause !== 'mtu-mismatch' || !ref) return undefined;
    const mtu = ref.iface.mtu;
    const done: string[] = [];
    if (result.data?.hostMtu !== mtu) {
      await ctx.host.links.hostBatch([`link set dev ${ref.iface.hostVeth} mtu ${mtu}`]);
      done.push(`${ref.iface.hostVeth} MTU ${mtu}`);
    }
    if (result.data?.insideMtu !== mtu) {
      const pid = await ctx.facts.pid(ref.node.name);
      if (pid === undefined) return undefined;
      await ctx.host.links.nsBatch(pid, [`link set dev ${ref.iface.name} mtu ${mtu}`]);
      done.push(`${ref.iface.name} in ${ref.node.name} MTU ${mtu}`);
    }
    return done.length ? `set ${done.join(', ')}` : undefined;
  },
};
