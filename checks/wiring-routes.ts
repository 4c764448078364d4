/** The routes the plan gives a node (default via its network's router, routes to other subnets) are in its netns. */
import type { PlanRoute } from '../src/plan/types.js';
import type { DoctorCheck } from './runner.js';
import { fail, nsCommand, pass, perNode } from './wiring-common.js';

const show = (r: { dst: string; via?: string; dev: string }) =>
  `${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}`;

export function missingRoutes(
  planned: PlanRoute[],
  have: { dst: string; via?: string; dev: string }[],
): PlanRoute[] {
  return planned.filter((r) => !have.some((h) => h.dst === r.dst && h.via === r.via && h.dev === r.dev));
}

export const wiringRoutes: DoctorCheck = {
  id: 'wiring.routes',
  layer: 'wiring',
  title: 'routes inside the container as planned',
  run(ctx) {
    return perNode(this, ctx, async (node) => {
      if (!node.routes.length) return pass('no routes planned');
      const [ns, pid] = await Promise.all([ctx.facts.nsState(node.name), ctx.facts.pid(node.name)]);
      const missing = missingRoutes(node.routes, ns.routes);
      if (missing.length)
        return fail(
          'route-missing',
          `missing in ${node.name}: ${missing.map(show).join('; ')} (has: ${ns.routes.map(show).join('; ') || 'no routes'})`,
          missing.map((r) => nsCommand(pid, ['ip', 'route', 'replace', r.dst, 'via', r.via, 'dev', r.dev])),
          { missing },
        );
      return pass(node.routes.map(show).join('; '));
    });
  },
  async fix(ctx, result) {
    const node = ctx.plan.nodes.find((n) => n.name === result.data?.node);
    if (result.cause !== ('route-missing' as string) || !node) return undefined;
    const pid = await ctx.facts.pid(node.name);
    if (pid === undefined) return undefined;
    const missing = (result.data?.missing as PlanRoute[] | undefined) ?? [];
    await ctx.host.links.nsBatch(
      pid,
      missing.map((r) => `route replace ${r.dst} via ${r.via} dev ${r.dev}`),
    );
    return `added ${missing.length} route(s) in ${node.name}`;
  },
};
