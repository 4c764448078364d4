import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { isSafeName, MAX_LAB_NAME } from '../names.js';
import { requireRoot } from './lab-args.js';
import { printJson } from './output.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description(
      "remove exactly this lab's containers, veths, OVS ports, OVN rows and state (found by label)",
    )
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--lab <name>', 'lab name, when the file is gone')
    .option('--json', 'print the result as JSON')
    .option(
      '--forget-remotes',
      'multi-chassis: give up on remote chassis ssh cannot reach (what labctl made there stays there)',
    )
    .action(async (opts: { file: string; lab?: string; json?: boolean; forgetRemotes?: boolean }) => {
      // The lab file only names the lab: with --lab, yaml, zod and the validator are never loaded. The rest is
      // loaded here too, so that `labctl down --help` loads nothing but commander.
      const name = opts.lab ?? (await import('../lab/load.js')).loadLabFile(opts.file).name;
      if (!isSafeName(name, MAX_LAB_NAME))
        throw usageError(`"${name}" is not a lab name`, 'labctl status   (lists the labs on this host)');
      requireRoot('labctl down');
      // Only what down uses is loaded: the Engine API is spoken directly (no dockerode, no `/_ping` before the list;
      // an unreachable daemon fails the list with the same message), and nothing host-check related.
      const [
        { destroyLab },
        { withLabLock },
        { dockerApi },
        { apiContainers },
        { localOvs },
        { localLinks },
        { ovnDriver },
      ] = await Promise.all([
        import('../apply/down.js'),
        import('../apply/state.js'),
        import('../drivers/docker-client.js'),
        import('../drivers/containers.js'),
        import('../drivers/ovs.js'),
        import('../drivers/links.js'),
        import('../drivers/ovn.js'),
      ]);
      const host = { containers: apiContainers(dockerApi()), ovs: localOvs(), links: localLinks() };
      // A multi-chassis lab: containers, then its own chassis and central, all of it (docs/multichassis.md).
      const mc = await import('../apply/chassis.js');
      if (await mc.hasChassisRuntime(name)) {
        const r = await withLabLock(name, () =>
          mc.destroyChassisLab(name, host.containers, { forgetRemotes: Boolean(opts.forgetRemotes) }),
        );
        if (opts.json) printJson({ ok: true, lab: name, removed: r });
        else if (!r.containers && !r.processes && !r.namespaces)
          process.stdout.write(`lab ${name}: nothing to remove (already down)\n`);
        else
          process.stdout.write(
            `lab ${name} is down: removed ${r.containers} containers, ${r.processes} chassis and central processes, ${r.namespaces} network namespaces (with their veths, sockets and OVN databases)\n`,
          );
        return;
      }
      const r = await withLabLock(name, () => destroyLab(name, host, ovnDriver()));
      if (opts.json) printJson({ ok: true, lab: name, removed: r });
      else if (!r.containers && !r.ovsPorts && !r.nbRows && !r.veths)
        process.stdout.write(`lab ${name}: nothing to remove (already down)\n`);
      else
        process.stdout.write(
          `lab ${name} is down: removed ${r.containers} containers, ${r.ovsPorts} OVS ports, ${r.veths} veths, ${r.nbRows} OVN NB rows\n`,
        );
    });
}
