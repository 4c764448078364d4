import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { resolvePlan, splitCommandArgs } from './lab-args.js';

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description(
      "run a command inside a node's container (all its namespaces): labctl exec NODE [-f FILE | --lab NAME] -- CMD ARGS…",
    )
    .usage('<node> [-f FILE | --lab NAME] -- <command...>')
    .argument('<node>', 'node name')
    .argument('<command...>', 'command and arguments (after --; labctl options before it)')
    .option('-f, --file <file>', 'lab file (default: ./lab.yml)')
    .option('--lab <name>', 'lab name, instead of the file')
    // commander stops parsing options at NODE so the command's own options reach it untouched; labctl's own
    // -f/--lab after NODE (before `--`) are read by splitCommandArgs.
    .passThroughOptions()
    .action(async (nodeName: string, rest: string[], opts: { file?: string; lab?: string }) => {
      const { args, command } = splitCommandArgs(rest, opts);
      if (!command.length)
        throw usageError('no command to run', `labctl exec ${nodeName} [-f FILE | --lab NAME] -- CMD…`);
      const { plan } = await resolvePlan(args);
      const where = args.lab ? `its saved state (--lab ${args.lab})` : (args.file ?? 'lab.yml');
      const node = plan.nodes.find((n) => n.name === nodeName);
      if (!node)
        throw usageError(
          `lab ${plan.lab} (from ${where}) has no node ${nodeName}`,
          `its nodes: ${plan.nodes.map((n) => n.name).join(', ')}; another lab: -f FILE or --lab NAME before --`,
        );
      const host = await (await import('../drivers/host.js')).localHost();
      const c = (await host.containers.list(plan.lab)).find((x) => x.node === nodeName);
      if (!c?.running)
        throw usageError(
          `node ${nodeName} of lab ${plan.lab} is not running`,
          args.lab
            ? `labctl up -f LAB_FILE   (the file of lab ${args.lab})`
            : `labctl up -f ${args.file ?? 'lab.yml'}`,
        );
      const pid = await host.containers.pid(c.id);
      // nsenter into every namespace of the container, with the terminal passed through; `--` so a command
      // that starts with a dash is never taken for one of nsenter's options.
      const { execa } = await import('execa');
      const r = await execa('nsenter', ['-t', String(pid), '-a', '--', ...command], {
        stdio: 'inherit',
        reject: false,
      });
      process.exitCode = r.exitCode ?? 1;
    });
}
