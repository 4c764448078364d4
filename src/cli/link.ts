import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { openLab } from '../ops/context.js';
import { setLink } from '../ops/link.js';
import { requireRoot } from './lab-args.js';

export function registerLink(program: Command): void {
  program
    .command('link')
    .description("set a node's link down (pull the cable) or up; labctl up restores the plan")
    .argument('<node>')
    .argument('<iface>')
    .argument('<state>', 'up or down')
    .option('-f, --file <file>', 'lab file (names the lab)', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .action(async (node: string, iface: string, state: string, opts: { file: string; lab?: string }) => {
      if (state !== 'up' && state !== 'down')
        throw usageError(
          `link state must be up or down, not "${state}"`,
          `labctl link ${node} ${iface} down`,
        );
      requireRoot('labctl link');
      process.stdout.write(`${await setLink(await openLab(opts), node, iface, state)}\n`);
    });
}
