/**
 * An impaired interface's relay (docs/impairments.md) runs with the planned parameters: its pidfile names a live
 * relay process, its params file says what the plan says, the twin pair lw…/lb… exists, and every offload is off
 * on lv…, lw… and lb… (the relay copies frames as they are). An interface the plan does not impair has no relay
 * and no twin pair left. Cause impair-mismatch, with planned vs found as evidence and the `labctl impair` command
 * that restores the plan as the fix.
 */
import { impairOfParams } from '../src/apply/impair-diff.js';
import type { FixAction } from '../src/doctor/causes.js';
import type { HostLink } from '../src/drivers/links.js';
import type { RelayDriver, RelayState } from '../src/drivers/relay.js';
import { describeImpair, formatRate, impairValues, sameImpair } from '../src/lab/impair.js';
import { naming } from '../src/plan/compile.js';
import type { PlanInterface, PlanNode } from '../src/plan/types.js';
import type { DoctorCheck, DoctorContext } from './runner.js';
import { fail, fixByConverge, pass, perIface } from './wiring-common.js';

/** The command that puts NODE.IFACE's impairment back to the plan's (the lab's saved state). */
/** The `labctl impair` command that puts an interface back to its planned impairment (as a fix action). */
export function impairCommand(lab: string, node: PlanNode, iface: PlanInterface): FixAction {
  const i = iface.impair;
  const args = ['impair', node.name, iface.name];
  if (!i) args.push('--clear');
  else {
    if (i.delayMs) args.push('--delay', `${i.delayMs}ms`);
    if (i.jitterMs) args.push('--jitter', `${i.jitterMs}ms`);
    if (i.lossPct) args.push('--loss', `${i.lossPct}%`);
    if (i.rateBps) args.push('--rate', formatRate(i.rateBps));
    if (i.direction !== 'egress') args.push('--direction', i.direction);
  }
  args.push('--lab', lab);
  return { kind: 'command', argv: ['labctl', ...args] };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

export const wiringImpair: DoctorCheck = {
  id: 'wiring.impair',
  layer: 'wiring',
  title: 'impairment relays as planned',
  run(ctx: DoctorContext) {
    const lab = ctx.plan.lab;
    // (a host driver without relays — a test's fake, an older caller — has none to find)
    const relays = new Map<string, RelayState>(
      ((ctx.host.relays as RelayDriver | undefined)?.list(lab) ?? []).map((r) => [r.hostVeth, r]),
    );
    const links = once(
      async () => new Map<string, HostLink>((await ctx.host.links.hostLinks('l')).map((l) => [l.name, l])),
    );
    return perIface(this, ctx, async ({ node, iface }) => {
      const relay = relays.get(iface.hostVeth);
      const relayVeth = naming.relayVeth(iface.hostVeth);
      const bridgeVeth = naming.bridgeVeth(iface.hostVeth);
      const fix = impairCommand(lab, node, iface);
      if (!iface.impair) {
        const left: string[] = [];
        if (relay?.pid) left.push(`relay pid ${relay.pid} running`);
        else if (relay) left.push('relay files left');
        if ((await ctx.facts.ovs()).byName.has(bridgeVeth)) left.push(`${bridgeVeth} on the bridge`);
        if (!left.length) return pass('not impaired (no relay)');
        return fail('impair-mismatch', `planned: no impairment; found: ${left.join(', ')}`, fix, {
          planned: null,
        });
      }
      const planned = impairValues(iface.impair);
      const seen = await links();
      const wrong: string[] = [];
      const applied = relay?.params ? impairOfParams(relay.params) : undefined;
      if (!relay?.pid)
        wrong.push(
          relay?.pidfile
            ? 'the relay in the pidfile is not running'
            : `no relay (no pidfile for ${iface.hostVeth})`,
        );
      if (!applied) wrong.push('no readable params file');
      else if (!sameImpair(applied, planned)) wrong.push(`relay applies ${describeImpair(applied)}`);
      for (const dev of [relayVeth, bridgeVeth]) if (!seen.has(dev)) wrong.push(`${dev} missing`);
      if (!wrong.length) {
        const on = await Promise.all(
          [iface.hostVeth, relayVeth, bridgeVeth].map(async (d) => ({
            d,
            on: await ctx.host.links.offloadsOn(d),
          })),
        );
        for (const { d, on: features } of on)
          if (features === undefined) wrong.push(`ethtool -k ${d} failed`);
          else if (features.length) wrong.push(`${d} has ${features.join(', ')} on`);
      }
      const data = {
        planned,
        ...(applied ? { applied } : {}),
        ...(relay?.pid ? { relayPid: relay.pid } : {}),
      };
      if (wrong.length)
        return fail(
          'impair-mismatch',
          `planned: ${describeImpair(planned)}; found: ${wrong.join('; ')}`,
          fix,
          data,
        );
      return pass(
        `relay pid ${relay!.pid} applies ${describeImpair(planned)} (${iface.hostVeth} ⇄ ${relayVeth}, ${bridgeVeth} on the bridge; offloads off)`,
        data,
      );
    });
  },
  fix: fixByConverge,
};
