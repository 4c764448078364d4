/**
 * `labctl chassis stop|start NAME [-f FILE | --lab LAB]`: take one simulated chassis of a running multi-chassis lab
 * down (its ovn-controller, ovs-vswitchd and ovsdb-server stop; its nodes keep running but lose the data plane)
 * or bring it back (the daemons start with their kept databases and rebind the chassis's ports). For experiments
 * such as failover; docs/multichassis.md.
 */
import type { Command } from 'commander';
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
        const { chassisAction } = await import('../ops/chassis.js');
        const r = await chassisAction(plan, name, action, `labctl up -f ${opts.file ?? 'lab.yml'}`);
        const { changed, durationMs: ms } = r;
        const ch = { name: r.chassis };
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
