import type { Command } from 'commander';
import { capture } from '../ops/capture.js';
import { openLab } from '../ops/context.js';
import { requireRoot } from './lab-args.js';

export function registerCapture(program: Command): void {
  program
    .command('capture')
    .description(
      "capture packets on a node's interface (tcpdump in its netns): a pcap file or a live summary",
    )
    .argument('<node>')
    .argument('<iface>')
    .argument('[filter...]', 'pcap filter expression, e.g. tcp port 80')
    .option('-f, --file <file>', 'lab file (names the lab)', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .option('-w, --write <pcap>', 'write packets to this pcap file instead of printing them')
    .option('-c, --count <n>', 'stop after this many packets', '100')
    .option('--seconds <s>', 'stop after this many seconds', '10')
    .action(
      async (
        node: string,
        iface: string,
        filter: string[],
        opts: { file: string; lab?: string; write?: string; count: string; seconds: string },
      ) => {
        requireRoot('labctl capture');
        const code = await capture(await openLab(opts), node, iface, {
          filter,
          ...(opts.write ? { write: opts.write } : {}),
          count: Number(opts.count),
          seconds: Number(opts.seconds),
        });
        process.exitCode = code;
      },
    );
}
