import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { flushConntrack } from '../ops/conntrack.js';
import { openLab } from '../ops/context.js';
import { requireRoot } from './lab-args.js';

export function registerConntrack(program: Command): void {
  program
    .command('conntrack')
    .description('connection tracking of a lab: flush it for the lab, one node or one address')
    .argument('<action>', 'flush')
    .option('-f, --file <file>', 'lab file (names the lab)', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .option('--node <node>', 'only this node (its OVN zones and its own netns table)')
    .option('--address <ip>', 'only entries to or from this address (e.g. a VIP or an old address)')
    .action(async (action: string, opts: { file: string; lab?: string; node?: string; address?: string }) => {
      if (action !== 'flush')
        throw usageError(
          `unknown conntrack action "${action}"`,
          'labctl conntrack flush [--node N | --address IP]',
        );
      requireRoot('labctl conntrack');
      const rt = await openLab(opts);
      if (opts.node && !rt.state.plan.nodes.some((n) => n.name === opts.node))
        throw usageError(
          `lab ${rt.state.plan.lab} has no node ${opts.node}`,
          `nodes: ${rt.state.plan.nodes.map((n) => n.name).join(', ')}`,
        );
      for (const line of await flushConntrack(rt, {
        ...(opts.node ? { node: opts.node } : {}),
        ...(opts.address ? { address: opts.address } : {}),
      }))
        process.stdout.write(`${line}\n`);
    });
}
