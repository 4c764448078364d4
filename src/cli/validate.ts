import type { Command } from 'commander';
import { loadLabFile } from '../lab/load.js';
import { printJson } from './output.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a lab file and report every problem with file:line:col, path and a hint')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--json', 'print the result as JSON')
    .action((opts: { file: string; json?: boolean }) => {
      const lab = loadLabFile(opts.file);
      if (opts.json) printJson({ ok: true, lab: lab.name, file: lab.file, diagnostics: [] });
      else
        process.stdout.write(
          `${opts.file}: lab ${lab.name} is valid (${lab.nodes.length} nodes, ${lab.networks.length} networks, ${lab.routers.length} routers)\n`,
        );
    });
}
