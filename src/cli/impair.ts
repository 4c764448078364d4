import type { Command } from 'commander';
import { usageError } from '../errors.js';
import type { ImpairSpec } from '../lab/impair.js';
import { openLab } from '../ops/context.js';
import { describeImpairResult, impair } from '../ops/impair.js';
import { requireRoot } from './lab-args.js';
import { printJson } from './output.js';

interface ImpairOpts {
  file: string;
  lab?: string;
  json?: boolean;
  delay?: string;
  jitter?: string;
  loss?: string;
  rate?: string;
  direction?: string;
  clear?: boolean;
}

export function registerImpair(program: Command): void {
  program
    .command('impair')
    .description(
      "set or clear an interface's link impairment while the lab runs (delay, jitter, loss, rate; docs/impairments.md)",
    )
    .argument('<node>')
    .argument('<iface>')
    .option('--delay <d>', 'one-way delay added to what the node sends, e.g. 50ms')
    .option('--jitter <j>', 'the delay varies by ± this (needs --delay), e.g. 5ms')
    .option('--loss <p>', 'random loss, e.g. 1%')
    .option('--rate <r>', 'rate limit, e.g. 10mbit')
    .option('--direction <dir>', 'egress (default) or both (also traffic to the node)')
    .option('--clear', 'remove the impairment')
    .option('-f, --file <file>', 'lab file (names the lab)', 'lab.yml')
    .option('--lab <name>', 'lab name, instead of the file')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nThe options given replace the whole impairment (what is not given is none). The next `labctl up -f FILE`\nrestores the values of the lab file.',
    )
    .action(async (node: string, iface: string, opts: ImpairOpts) => {
      const spec: ImpairSpec = {};
      if (opts.delay !== undefined) spec.delay = opts.delay;
      if (opts.jitter !== undefined) spec.jitter = opts.jitter;
      if (opts.loss !== undefined) spec.loss = opts.loss;
      if (opts.rate !== undefined) spec.rate = opts.rate;
      if (opts.direction !== undefined) spec.direction = opts.direction;
      const given = Object.keys(spec).length > 0;
      if (opts.clear && given)
        throw usageError(
          '--clear takes no other impairment option',
          `labctl impair ${node} ${iface} --clear`,
        );
      if (!opts.clear && !given)
        throw usageError(
          'say what to set, or --clear',
          `labctl impair ${node} ${iface} --delay 50ms --loss 1%   (or --clear)`,
        );
      requireRoot('labctl impair');
      const r = await impair(await openLab(opts), node, iface, opts.clear ? 'clear' : spec);
      if (opts.json) printJson({ ok: true, ...r });
      else {
        process.stdout.write(`${describeImpairResult(r)}\n`);
        for (const c of r.changes) process.stdout.write(`  ${c}\n`);
        if (r.changes.length)
          process.stdout.write(
            'note: the lab file still says the old impairment; the next labctl up restores it unless you edit it\n',
          );
      }
    });
}
