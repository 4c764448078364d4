import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { resolvePlan } from './lab-args.js';

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description(
      "run a command inside a node's container (all its namespaces): labctl exec NODE -- CMD ARGS…",
    )
    .argument('<node>', 'node name')
    .argument('<command...>', 'command and arguments')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .passThroughOptions()
    .action(async (nodeName: string, command: string[], opts: { file: string; lab?: string }) => {
      const { plan } = await resolvePlan(opts);
      const node = plan.nodes.find((n) => n.name === nodeName);
      if (!node)
        throw usageError(
          `lab ${plan.lab} has no node ${nodeName}`,
          `nodes: ${plan.nodes.map((n) => n.name).join(', ')}`,
        );
      const host = await (await import('../drivers/host.js')).localHost();
      const c = (await host.containers.list(plan.lab)).find((x) => x.node === nodeName);
      if (!c?.running) throw usageError(`node ${nodeName} is not running`, `labctl up -f ${opts.file}`);
      const pid = await host.containers.pid(c.id);
      // nsenter into every namespace of the container, with the terminal passed through.
      const { execa } = await import('execa');
      const r = await execa('nsenter', ['-t', String(pid), '-a', ...command], {
        stdio: 'inherit',
        reject: false,
      });
      process.exitCode = r.exitCode ?? 1;
    });
}
