import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { isIPv4 } from '../lab/ipv4.js';
import { requireRoot, splitCommandArgs } from './lab-args.js';
import { printJson } from './output.js';
import { couldNotRunIsTwo } from './run.js';

interface MeasureOpts {
  file?: string;
  lab?: string;
  from: string;
  to: string;
  proto: string;
  port?: string;
  rate: string;
  before: string;
  after: string;
  json?: boolean;
  junit?: string;
  plot?: string;
}

export function registerMeasure(program: Command): void {
  program
    .command('measure')
    .description(
      'measure one flow (numbered packets, as labctl run) while a command on this host runs: labctl measure --from A --to B --proto P -- CMD…',
    )
    .usage(
      '--from NODE --to NODE|IP --proto icmp|udp|tcp [--port N] [--rate R] [-f FILE | --lab NAME] -- <command...>',
    )
    .argument('<command...>', 'the command to run while the flow is measured (after --)')
    .requiredOption('--from <node>', 'the node that sends')
    .requiredOption('--to <target>', 'a node (its address when each packet is sent) or an IPv4 address')
    .requiredOption('--proto <proto>', 'icmp, udp or tcp (tcp: one connection, numbered messages, echoed)')
    .option('--port <n>', "udp/tcp: the port labctl's echo listener serves")
    .option('--rate <r>', 'packets per second', '10')
    .option('--before <seconds>', 'how long the flow runs before the command starts', '1')
    .option('--after <seconds>', 'how long the flow runs after the command ends', '2')
    .option('-f, --file <file>', 'lab file (names the lab; default ./lab.yml)')
    .option('--lab <name>', 'lab name, instead of the file')
    .option('--json', 'print the report as JSON')
    .option('--junit <file>', 'also write the result as JUnit XML to FILE')
    .option('--plot <file>', 'also draw the timeline as SVG to FILE')
    .passThroughOptions()
    .action((rest: string[], opts: MeasureOpts) =>
      couldNotRunIsTwo(() => measureCommand(rest, opts), opts.json),
    );
}

function seconds(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || n > 3600)
    throw usageError(`--${name} must be a number of seconds from 0 to 3600, got ${text}`);
  return Math.round(n * 1000);
}

async function measureCommand(rest: string[], opts: MeasureOpts): Promise<void> {
  const { args, command } = splitCommandArgs(rest, { file: opts.file, lab: opts.lab });
  if (!command.length)
    throw usageError('no command to run', 'labctl measure --from A --to B --proto icmp -- CMD…');
  const proto = opts.proto;
  if (proto !== 'icmp' && proto !== 'udp' && proto !== 'tcp')
    throw usageError(`--proto must be icmp, udp or tcp, not "${proto}"`);
  const rate = Number(opts.rate);
  if (!(rate > 0 && rate <= 1000))
    throw usageError(`--rate must be above 0 and at most 1000, got ${opts.rate}`);
  let port: number | undefined;
  if (proto !== 'icmp') {
    port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw usageError(`a ${proto} flow needs --port 1..65535`, '--port 7000');
  } else if (opts.port !== undefined) throw usageError('icmp has no port', 'drop --port');
  const before = seconds(opts.before, 'before');
  const after = seconds(opts.after, 'after');
  requireRoot('labctl measure');
  const { openLab } = await import('../ops/context.js');
  const rt = await openLab({ file: args.file ?? (args.lab ? undefined : 'lab.yml'), lab: args.lab });
  const nodes = rt.state.plan.nodes.map((n) => n.name);
  if (!nodes.includes(opts.from))
    throw usageError(`lab ${rt.state.plan.lab} has no node ${opts.from}`, `nodes: ${nodes.join(', ')}`);
  if (!nodes.includes(opts.to) && !isIPv4(opts.to))
    throw usageError(`--to ${opts.to}: not a node of lab ${rt.state.plan.lab} or an IPv4 address`);
  const { runScenario } = await import('../experiment/run.js');
  const steps = [
    ...(before ? [{ kind: 'wait' as const, ms: before }] : []),
    { kind: 'command' as const, argv: command },
    ...(after ? [{ kind: 'wait' as const, ms: after }] : []),
  ];
  const { withProgress } = await import('../experiment/progress.js');
  const report = await withProgress(
    `Measure ${proto} ${opts.from} → ${opts.to} while ${command.join(' ')} runs`,
    opts.json,
    (line) =>
      runScenario(
        rt,
        { file: rt.state.file },
        {
          name: 'measure',
          flows: [{ name: 'flow', from: opts.from, to: opts.to, proto, port, rate }],
          steps,
          expect: [],
        },
        { onPhase: line, onStep: (_i, what) => line(what) },
      ),
  );
  if (opts.plot) writeFileSync(opts.plot, (await import('../experiment/plot.js')).renderTimeline(report));
  if (opts.junit) writeFileSync(opts.junit, (await import('../experiment/report.js')).toJunit(report));
  if (opts.json)
    printJson({ ...report, flows: report.flows.map(({ deliveries: _d, losses: _l, ...f }) => f) });
  else process.stdout.write((await import('../experiment/report.js')).formatReport(report));
  process.exitCode = report.error ? 2 : 0;
}
