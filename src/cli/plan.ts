import type { Command } from 'commander';
import { compileRunningPlan } from '../apply/running-plan.js';
import { loadLabFile } from '../lab/load.js';
import { renderPlan } from '../plan/render.js';
import { printJson } from './output.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description(
      'compile the lab file and print the plan: containers, veths, OVS ports, OVN rows (a dry run)',
    )
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--json', 'print the plan as JSON')
    .action((opts: { file: string; json?: boolean }) => {
      // A lab that runs keeps the addresses it was given (sticky): the plan shows what `up` would converge to.
      const plan = compileRunningPlan(loadLabFile(opts.file));
      if (opts.json) printJson(plan);
      else process.stdout.write(renderPlan(plan));
    });
}
