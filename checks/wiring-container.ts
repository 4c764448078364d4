/** Every node's container exists and runs (labelled labctl.lab / labctl.node). */
import type { DoctorCheck } from './runner.js';
import { command, fail, fixByConverge, pass, perNode, upCommand } from './wiring-common.js';

export const wiringContainer: DoctorCheck = {
  id: 'wiring.container',
  layer: 'wiring',
  title: 'containers running',
  run(ctx) {
    return perNode(this, ctx, async (node) => {
      const c = (await ctx.facts.containers()).get(node.name);
      if (!c)
        return fail(
          'container-not-running',
          `no container labelled labctl.lab=${ctx.plan.lab},labctl.node=${node.name} (expected ${node.container}, running)`,
          upCommand(ctx),
        );
      if (!c.running)
        return fail(
          'container-not-running',
          `container ${c.name} is ${c.state} (expected running)`,
          [command('docker', 'start', c.name), upCommand(ctx)],
          { container: c.name, state: c.state },
        );
      const pid = await ctx.facts.pid(node.name);
      if (pid === undefined)
        return fail(
          'container-not-running',
          `container ${c.name} has no PID (stopped just now?)`,
          upCommand(ctx),
        );
      return pass(`${c.name} running (pid ${pid})`, { container: c.name, pid });
    });
  },
  // applyPlan starts a stopped container (or creates a missing one) and re-plumbs its links into the new netns.
  fix: fixByConverge,
};
