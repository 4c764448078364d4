/**
 * `labctl chassis stop|start NAME [-f FILE | --lab LAB]`: take one simulated chassis of a running multi-chassis lab
 * down (its ovn-controller, ovs-vswitchd and ovsdb-server stop; its nodes keep running but lose the data plane)
 * or bring it back (the daemons start with their kept databases and rebind the chassis's ports). For experiments
 * such as failover; docs/multichassis.md.
 */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { type LabArgs, requireRoot, resolvePlan } from './lab-args.js';
import { printJson } from './output.js';

export function registerChassis(program: Command): void {
  const cmd = program
    .command('chassis')
    .description('stop or start one simulated chassis of a multi-chassis lab (docs/multichassis.md)');
  for (const action of ['stop', 'start'] as const)
    cmd
      .command(`${action} <name>`)
      .description(
        action === 'stop'
          ? "stop a chassis's ovn-controller, ovs-vswitchd and ovsdb-server (its nodes lose the data plane)"
          : "start a chassis's daemons again (its ports rebind)",
      )
      .option('-f, --file <file>', 'lab file', 'lab.yml')
      .option('--lab <name>', 'lab name (uses the plan saved by up)')
      .option('--json', 'print the result as JSON')
      .action(async (name: string, opts: LabArgs & { json?: boolean }) => {
        requireRoot(`labctl chassis ${action}`);
        const { plan } = await resolvePlan(opts);
        const ch = plan.chassis?.find((c) => c.name === name);
        if (!ch)
          throw usageError(
            plan.chassis?.length
              ? `lab ${plan.lab} has no chassis ${name} (it has ${plan.chassis.map((c) => c.name).join(', ')})`
              : `lab ${plan.lab} has no chassis: section`,
            'labctl status   (lists each lab with its chassis)',
          );
        const [{ withLabLock }, sim, { remoteUnsupported }] = await Promise.all([
          import('../apply/state.js'),
          import('../drivers/sim-chassis.js'),
          import('../drivers/chassis-host.js'),
        ]);
        if (ch.kind !== 'simulated') throw remoteUnsupported(ch);
        const central = sim.centralDaemons(plan.lab);
        if (!central.nb || !central.sb)
          throw usageError(`lab ${plan.lab} is not up`, `labctl up -f ${opts.file ?? 'lab.yml'}`);
        const t0 = performance.now();
        const changed = await withLabLock(plan.lab, async () => {
          if (action === 'stop') return (await sim.stopChassisDaemons(plan.lab, ch.name)) > 0;
          const before = Object.values(sim.chassisDaemons(plan.lab, ch.name)).filter(Boolean).length;
          await sim.startChassisDaemons(plan.lab, ch, plan.underlay!);
          return before < 3;
        });
        const ms = Math.round(performance.now() - t0);
        if (opts.json)
          printJson({ ok: true, lab: plan.lab, chassis: ch.name, action, changed, durationMs: ms });
        else
          process.stdout.write(
            changed
              ? `chassis ${ch.name} of lab ${plan.lab}: ${action === 'stop' ? 'stopped' : 'started'} (${ms} ms)\n`
              : `chassis ${ch.name} of lab ${plan.lab}: already ${action === 'stop' ? 'stopped' : 'running'}\n`,
          );
      });
}
