/** Both ends of every interface's veth pair exist and are up: the host end (lv…) and the container end (eth1…). */
import type { FixAction } from '../src/doctor/causes.js';
import type { DoctorCheck } from './runner.js';
import {
  command,
  fail,
  fixByConverge,
  nsCommand,
  pass,
  perIface,
  refOf,
  upCommand,
} from './wiring-common.js';

export const wiringVeth: DoctorCheck = {
  id: 'wiring.veth',
  layer: 'wiring',
  title: 'veth pairs present and up',
  run(ctx) {
    return perIface(this, ctx, async ({ node, iface }) => {
      const [links, ns, pid] = await Promise.all([
        ctx.facts.hostLinks(),
        ctx.facts.nsState(node.name),
        ctx.facts.pid(node.name),
      ]);
      const hostEnd = links.get(iface.hostVeth);
      const inside = ns.links.find((l) => l.name === iface.name);
      const missing: string[] = [];
      if (!hostEnd) missing.push(`host end ${iface.hostVeth} not found`);
      else if (hostEnd.peerNetnsId === undefined)
        missing.push(`host end ${iface.hostVeth} has no peer in a container netns`);
      if (!inside) missing.push(`${iface.name} not found inside ${node.container}`);
      if (missing.length)
        return fail(
          'link-missing',
          `${missing.join('; ')} (expected the pair ${iface.hostVeth} ↔ ${node.name}:${iface.name})`,
          upCommand(ctx),
        );
      const down: string[] = [];
      const fixes: FixAction[] = [];
      if (!hostEnd!.up) {
        // on a simulated chassis the host end lives in the chassis's namespace
        const netns = ctx.plan.chassis?.find((c) => c.name === node.host)?.netns;
        down.push(
          `host end ${iface.hostVeth} is down (${hostEnd!.operstate})${netns ? ` in chassis ${node.host}` : ''}`,
        );
        fixes.push(
          command('ip', ...(netns ? ['-n', netns] : []), 'link', 'set', 'dev', iface.hostVeth, 'up'),
        );
      }
      if (!inside!.up) {
        down.push(`${iface.name} inside ${node.name} is down (${inside!.operstate})`);
        fixes.push(nsCommand(pid, ['ip', 'link', 'set', 'dev', iface.name, 'up']));
      }
      if (down.length)
        return fail('link-down', `${down.join('; ')} (expected both ends up)`, fixes, {
          hostUp: hostEnd!.up,
          insideUp: inside!.up,
        });
      return pass(`${iface.hostVeth} up ↔ ${iface.name} up (${inside!.operstate})`);
    });
  },
  async fix(ctx, result) {
    if (result.cause === 'link-missing') return fixByConverge(ctx, result);
    const ref = refOf(ctx, result);
    if (result.cause !== 'link-down' || !ref) return undefined;
    const done: string[] = [];
    if (result.data?.hostUp === false) {
      // through the driver of the node's host: on a multi-chassis lab, its chassis's namespace
      const host = ctx.hostOf ? ctx.hostOf(ref.node.host) : ctx.host;
      await host.links.hostBatch([`link set dev ${ref.iface.hostVeth} up`]);
      done.push(`set ${ref.iface.hostVeth} up${ctx.hostOf ? ` in chassis ${ref.node.host}` : ''}`);
    }
    if (result.data?.insideUp === false) {
      const pid = await ctx.facts.pid(ref.node.name);
      if (pid === undefined) return undefined;
      await ctx.host.links.nsBatch(pid, [`link set dev ${ref.iface.name} up`]);
      done.push(`set ${ref.iface.name} up inside ${ref.node.name}`);
    }
    return done.join(', ') || undefined;
  },
};
