import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { LabctlError } from '../errors.js';
import { requireRoot } from './lab-args.js';
import { printJson, reportError } from './output.js';

interface RunOpts {
  file: string;
  json?: boolean;
  junit?: string;
  plot?: string;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run a scenario of the lab file: flows measured across steps (loss, gap, tcp session outcome)',
    )
    .argument('<scenario>', 'a name under scenarios: in the lab file')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--json', 'print the report as JSON')
    .option('--junit <file>', 'also write the expectations as JUnit XML to FILE')
    .option('--plot <file>', 'also draw the timeline as SVG to FILE')
    .action((name: string, opts: RunOpts) => couldNotRunIsTwo(() => runCommand(name, opts), opts.json));
}

/**
 * Run a measuring command: every LabctlError that kept it from running exits 2 (1 is kept for a failed
 * expectation), whatever its kind; anything else is a bug and goes up.
 */
export async function couldNotRunIsTwo(fn: () => Promise<void>, json?: boolean): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof LabctlError && err.exitCode !== 2) {
      reportError(err, json);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

async function runCommand(name: string, opts: RunOpts): Promise<void> {
  const { loadLabFile } = await import('../lab/load.js');
  const lab = loadLabFile(opts.file);
  const scenario = lab.scenarios?.find((s) => s.name === name);
  if (!scenario) {
    const names = (lab.scenarios ?? []).map((s) => s.name);
    throw new LabctlError('environment', `lab file ${opts.file} has no scenario ${name}`, {
      hint: names.length
        ? `scenarios: ${names.join(', ')}`
        : 'add one under scenarios: (docs/experiments.md)',
    });
  }
  requireRoot('labctl run');
  const { openLab } = await import('../ops/context.js');
  const rt = await openLab({ file: opts.file });
  const { runScenario } = await import('../experiment/run.js');
  const { withProgress } = await import('../experiment/progress.js');
  const report = await withProgress(
    `Run scenario ${name} on lab ${lab.name} (${scenario.flows.length} flow(s), ${scenario.steps.length} step(s))`,
    opts.json,
    (line) =>
      runScenario(rt, lab, scenario, {
        onPhase: line,
        onStep: (i, what) => line(`step ${i + 1}/${scenario.steps.length}: ${what}`),
      }),
  );
  if (opts.plot) {
    const { renderTimeline } = await import('../experiment/plot.js');
    writeFileSync(opts.plot, renderTimeline(report));
  }
  if (opts.junit) {
    const { toJunit } = await import('../experiment/report.js');
    writeFileSync(opts.junit, toJunit(report));
  }
  if (opts.json) {
    printJson({ ...report, flows: report.flows.map(({ deliveries: _d, losses: _l, ...f }) => f) });
  } else {
    const { formatReport } = await import('../experiment/report.js');
    process.stdout.write(formatReport(report));
  }
  process.exitCode = report.error ? 2 : report.ok ? 0 : 1;
}
