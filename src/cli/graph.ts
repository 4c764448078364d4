/**
 * `labctl graph`: the lab's topology as a picture (docs/graph.md). SVG (default), one self-contained HTML page, or
 * Graphviz DOT / Mermaid text, to stdout or -o FILE. With --health the doctor runs first (or --from reads a report
 * of `labctl doctor --json`) and every node, interface and router link is coloured by its worst result.
 * Exit: 0 the picture was written (and, with health, every check passed); 1 invalid lab, bad usage, or the health
 * shows a failed root cause (the picture is still written); 2 the doctor could not run, or the output could not be
 * written.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { LabctlError, usageError } from '../errors.js';
import type { ReportLike } from '../graph/health.js';
import type { Plan } from '../plan/types.js';

export const FORMATS = ['svg', 'html', 'dot', 'mermaid'] as const;
export type GraphFormat = (typeof FORMATS)[number];

interface GraphOpts {
  file: string;
  lab?: string;
  format?: string;
  health?: boolean;
  from?: string;
  output?: string;
}

const EXT: Record<string, GraphFormat> = {
  '.svg': 'svg',
  '.html': 'html',
  '.htm': 'html',
  '.dot': 'dot',
  '.gv': 'dot',
  '.mmd': 'mermaid',
  '.mermaid': 'mermaid',
};

/** --format, else the -o file's extension, else svg. */
export function formatOf(opts: { format?: string; output?: string }): GraphFormat {
  if (opts.format !== undefined) {
    if (!(FORMATS as readonly string[]).includes(opts.format))
      throw usageError(`unknown --format ${opts.format}`, `labctl graph --format ${FORMATS.join('|')}`);
    return opts.format as GraphFormat;
  }
  const ext = opts.output?.match(/\.[a-z]+$/i)?.[0]?.toLowerCase();
  return (ext && EXT[ext]) || 'svg';
}

/** A doctor report read from a file: `labctl doctor --json`'s shape, checked as far as the picture relies on it. */
export function readReport(path: string): ReportLike {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError(
      `cannot read the doctor report ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      'labctl doctor --json > report.json, then labctl graph --from report.json',
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw usageError(
      `${path} is not JSON: ${(err as Error).message}`,
      'labctl doctor --json > report.json (only the JSON report, without --junit on stdout)',
    );
  }
  const d = doc as Partial<ReportLike> & { error?: unknown; fix?: unknown };
  if (d && typeof d === 'object' && typeof d.error === 'string' && !Array.isArray(d.checks))
    throw new LabctlError('environment', `the report ${path} says the doctor could not run: ${d.error}`, {
      ...(typeof d.fix === 'string' ? { hint: d.fix } : {}),
    });
  if (!d || typeof d !== 'object' || typeof d.lab !== 'string' || !Array.isArray(d.checks))
    throw usageError(
      `${path} is not a doctor report (expected { "lab", "checks": [...] } as labctl doctor --json prints)`,
      'labctl doctor --json > report.json',
    );
  for (const [k, c] of d.checks.entries())
    if (!c || typeof c.id !== 'string' || typeof c.subject !== 'string' || typeof c.status !== 'string')
      throw usageError(
        `${path}: checks[${k}] has no id, subject or status`,
        'labctl doctor --json > report.json',
      );
  return d as ReportLike;
}

/** The plan to draw: --lab's saved plan, the lab file's (as it runs: sticky addresses), or the report's lab. */
async function planToDraw(opts: GraphOpts, report?: ReportLike): Promise<{ plan: Plan; file?: string }> {
  const { resolvePlan } = await import('./lab-args.js');
  if (opts.lab) return resolvePlan({ lab: opts.lab });
  if (existsSync(opts.file)) return { ...(await resolvePlan({ file: opts.file })), file: opts.file };
  if (report) {
    const { loadState } = await import('../apply/state.js');
    const state = loadState(report.lab);
    if (state) return { plan: state.plan };
  }
  throw usageError(
    `no lab file ${opts.file}${report ? ` and no saved state of lab ${report.lab}` : ''}`,
    'labctl graph -f FILE, or labctl graph --lab NAME for a lab that is up (labctl status lists them)',
  );
}

/** Run the doctor (every layer) on the plan and return its JSON report. */
async function runDoctor(opts: GraphOpts): Promise<{ plan: Plan; report: ReportLike }> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new LabctlError('environment', 'labctl graph --health needs root: it runs the doctor', {
      hint: 'sudo labctl graph --health …, or labctl graph --from REPORT.json with a saved labctl doctor --json',
    });
  const [doctor, { CHECKS }, { toJson }, { ovnDriver }] = await Promise.all([
    import('./doctor.js'),
    import('../../checks/registry.js'),
    import('../../checks/report.js'),
    import('../drivers/ovn.js'),
  ]);
  const { plan, file } = doctor.resolveDoctorPlan({
    file: opts.file,
    ...(opts.lab ? { lab: opts.lab } : {}),
    layer: [],
    check: [],
    concurrency: '16',
  });
  const host = await doctor.readOnlyHost();
  const ovn = ovnDriver({ nb: plan.ovn.nb, sb: plan.ovn.remote });
  const ctx = doctor.makeContext(plan, host, ovn, file, 16, false);
  // progress goes to stderr exactly as `labctl doctor` shows it; stdout carries only the picture
  const run = await doctor.runWithProgress(
    ctx,
    CHECKS,
    doctor.progressMode(false),
    `doctor: lab ${plan.lab}`,
  );
  return { plan, report: toJson(run) };
}

export async function graphCommand(opts: GraphOpts): Promise<number> {
  const format = formatOf(opts);
  let plan: Plan;
  let report: ReportLike | undefined;
  if (opts.from) {
    report = readReport(opts.from);
    ({ plan } = await planToDraw(opts, report));
    if (report.lab !== plan.lab)
      throw usageError(
        `the report ${opts.from} is of lab ${report.lab}, the plan drawn is of lab ${plan.lab}`,
        `labctl graph --lab ${report.lab} --from ${opts.from}, or the lab file of ${report.lab} with -f`,
      );
  } else if (opts.health) ({ plan, report } = await runDoctor(opts));
  else ({ plan } = await planToDraw(opts));

  const [{ topologyOf }, { healthOf }] = await Promise.all([
    import('../graph/model.js'),
    import('../graph/health.js'),
  ]);
  const topo = topologyOf(plan);
  const health = report ? healthOf(plan, report) : undefined;
  let out: string;
  if (format === 'dot' || format === 'mermaid') {
    const { renderDot, renderMermaid } = await import('../graph/render-text.js');
    out = format === 'dot' ? renderDot(topo, health) : renderMermaid(topo, health);
  } else {
    const [{ layoutTopology }, { renderSvg }] = await Promise.all([
      import('../graph/layout.js'),
      import('../graph/render-svg.js'),
    ]);
    const svg = renderSvg(topo, await layoutTopology(topo, health?.elements), health ? { health } : {});
    if (format === 'svg') out = svg;
    else {
      const { renderHtml } = await import('../graph/render-html.js');
      out = renderHtml(svg, { title: `labctl graph: lab ${plan.lab}`, ...(health ? { health } : {}) });
    }
  }
  if (opts.output) {
    try {
      writeFileSync(opts.output, out);
    } catch (err) {
      throw new LabctlError(
        'environment',
        `cannot write ${opts.output}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { hint: 'pass -o with a path in a directory that exists and is writable, or omit -o for stdout' },
      );
    }
    if (health)
      process.stderr.write(
        `wrote ${opts.output}: ${health.roots.length ? `${health.roots.length} root cause${health.roots.length === 1 ? '' : 's'} marked` : 'every check passed'}\n`,
      );
  } else process.stdout.write(out);
  return health && !health.ok ? 1 : 0;
}

export function registerGraph(program: Command): void {
  program
    .command('graph')
    .description(
      "draw the topology (SVG, self-contained HTML, DOT or Mermaid); --health colours it by the doctor's results",
    )
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--lab <name>', 'lab name: draw the plan saved by its last up (no lab file needed)')
    .option('--format <format>', `${FORMATS.join(' | ')} (default: from -o's extension, else svg)`)
    .option('--health', 'run the doctor and colour every node, interface and router link by its worst result')
    .option(
      '--from <report>',
      'colour by a saved report of labctl doctor --json instead of running the doctor',
    )
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .action(async (opts: GraphOpts) => {
      process.exitCode = await graphCommand(opts);
    });
}
