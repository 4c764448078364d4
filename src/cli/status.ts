import type { Command } from 'commander';
import { printJson } from './output.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('labs on this host: nodes, containers, interfaces, addresses, binding state')
    .option('--lab <name>', 'only this lab')
    .option('--json', 'print as JSON')
    .action(async (opts: { lab?: string; json?: boolean }) => {
      // Loaded here, not at the top: `labctl status --help` needs none of it.
      const [{ labStatus }, { localHost }, { ovnDriver }] = await Promise.all([
        import('../apply/status.js'),
        import('../drivers/host.js'),
        import('../drivers/ovn.js'),
      ]);
      const labs = await labStatus(await localHost(), ovnDriver(), opts.lab);
      if (opts.json) {
        printJson({ labs });
        return;
      }
      if (!labs.length) {
        process.stdout.write('no labs on this host\n');
        return;
      }
      for (const lab of labs) {
        process.stdout.write(
          `lab ${lab.lab}${lab.file ? ` (${lab.file})` : ''}: ${lab.ready ? 'ready' : 'NOT ready'}\n`,
        );
        if (lab.central)
          process.stdout.write(
            `  central: nb ${lab.central.nb}, sb ${lab.central.sb}${Object.values(lab.central.daemons).every((p) => p) ? '' : ' (NOT all running)'}\n`,
          );
        for (const c of lab.chassis ?? [])
          process.stdout.write(
            `  chassis ${c.name.padEnd(12)} ${c.kind} ${c.system_id} encap ${c.encap_ip}  ovs ${c.ovs_db}${
              Object.values(c.daemons).every((p) => p)
                ? ''
                : `  down: ${Object.entries(c.daemons)
                    .filter(([, p]) => !p)
                    .map(([d]) => d)
                    .join(', ')}`
            }\n`,
          );
        for (const g of lab.gateways ?? [])
          process.stdout.write(
            `  gateway ${g.router} on ${g.network}: active ${g.active ?? 'NONE'} (${g.chassis
              .map((c) => `${c.name} ${c.priority}`)
              .join(', ')})\n`,
          );
        for (const n of lab.nodes) {
          process.stdout.write(
            `  ${n.name.padEnd(16)} ${n.state.padEnd(8)} ${n.container}${n.chassis ? `  on ${n.chassis}` : ''}\n`,
          );
          for (const i of n.interfaces) {
            const b = !i.plugged
              ? 'not plugged'
              : !i.bound
                ? 'unbound'
                : !i.ovnInstalled
                  ? 'bound, flows pending'
                  : `bound on ${i.chassis}`;
            process.stdout.write(
              `    ${i.name.padEnd(6)} ${(i.ip || i.ip6 || '').padEnd(18)} ${i.mac}  ${i.network}  ${b}\n`,
            );
            // dual-stack: the IPv6 address on its own line under the IPv4 one
            if (i.ip && i.ip6) process.stdout.write(`           ${i.ip6}\n`);
            if (i.impair)
              process.stdout.write(
                `           impaired: ${i.impair.summary}${i.impair.relay === 'running' ? '' : ' (relay NOT running)'}\n`,
              );
          }
        }
      }
    });
}
