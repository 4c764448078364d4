import type { Command } from 'commander';
import { openLab } from '../ops/context.js';
import { readdress } from '../ops/readdress.js';
import { requireRoot } from './lab-args.js';
import { printJson } from './output.js';

export function registerReaddress(program: Command): void {
  program
    .command('readdress')
    .description(
      "change an interface's address while the lab runs (container, OVN port, ACLs and state follow)",
    )
    .argument('<node>')
    .argument('<iface>')
    .argument('<address>', 'new IPv4 or IPv6 address in the same subnet (subnet6)')
    .option('-f, --file <file>', 'lab file (names the lab)', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        node: string,
        iface: string,
        address: string,
        opts: { file: string; lab?: string; json?: boolean },
      ) => {
        requireRoot('labctl readdress');
        const r = await readdress(await openLab(opts), node, iface, address);
        if (opts.json) printJson({ ok: true, ...r });
        else {
          process.stdout.write(
            r.from === r.to
              ? `${node}.${iface} already has ${r.to}\n`
              : `${node}.${iface}: ${r.from} → ${r.to}\n`,
          );
          for (const c of r.changes) process.stdout.write(`  ${c}\n`);
          if (r.from !== r.to)
            process.stdout.write(
              `note: the lab file still says the old address; the next labctl up restores it unless you edit it\n`,
            );
        }
      },
    );
}
