/**
 * `labctl doctor`: layered diagnostics of a lab (checks/, docs/doctor.md). Runs every registered check layer by
 * layer, shows progress on stderr (see Mode; nothing with --json), then the report on stdout, grouped by root cause. --fix applies the safe fixes of the root causes, prints what changed and runs the checks
 * again; the exit code is the final run's: 0 every check passed (warnings allowed), 1 a check failed, 2 doctor
 * could not run (no lab file and no saved state, not root, an unknown --check).
 */
import { existsSync, fstatSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { DefaultRenderer, ListrTaskWrapper, SimpleRenderer } from 'listr2';
import { isFailing } from '../../checks/analyze.js';
import { CHASSIS_LAB_CHECKS } from '../../checks/chassis-registry.js';
import { createFacts } from '../../checks/facts.js';
import { CHECKS } from '../../checks/registry.js';
import {
  checkStatus,
  type FixRecord,
  progressLine,
  renderText,
  toJson,
  toJunit,
  writeJson,
} from '../../checks/report.js';
import {
  type DoctorCheck,
  type DoctorContext,
  type DoctorRun,
  runChecks,
  selectChecks,
} from '../../checks/runner.js';
import type { CheckContext, CheckResult, Layer, Status } from '../../checks/types.js';
import { LAYERS } from '../../checks/types.js';
import type { Drivers } from '../apply/observe.js';
import { compileRunningPlan } from '../apply/running-plan.js';
import { labDir, loadState, withLabLock } from '../apply/state.js';
import type { ApplyOptions } from '../apply/up.js';
import { chassisDrivers } from '../drivers/chassis-host.js';
import { dockerContainers } from '../drivers/containers.js';
import { connectDocker, DOCKER_SOCKET, loadDockerode } from '../drivers/docker-client.js';
import type { HostDriver } from '../drivers/host.js';
import { localLinks } from '../drivers/links.js';
import { type OvnDriver, ovnDriver } from '../drivers/ovn.js';
import { localOvs } from '../drivers/ovs.js';
import { localRelays } from '../drivers/relay.js';
import { LabctlError } from '../errors.js';
import { getChassisName } from '../host/probe.js';
import { loadLabFile } from '../lab/load.js';
import { ovsPortOf, type Plan } from '../plan/types.js';
import { reportError } from './output.js';

/**
 * How doctor shows progress. The report goes to stdout and already lists every check, so progress (on stderr)
 * never repeats it where both end up in one place:
 * - `tty`: stdout and stderr are terminals: listr2's live view on stderr, cleared before the report;
 * - `status`: stderr is a terminal, stdout is not (`labctl doctor | tee report.txt`, `> report.txt`): one status
 *   line on stderr, rewritten in place and erased before the report;
 * - `lines`: stderr is not a terminal and goes elsewhere than stdout (`2>progress.log`, CI capturing both apart): a
 *   line per check on stderr;
 * - `layers`: stderr goes where stdout goes (`2>&1`, one CI log): a line per layer as it completes, not per check;
 * - `silent`: --json.
 */
type Mode = 'tty' | 'status' | 'lines' | 'layers' | 'silent';

/** stdout and stderr are the same file, pipe or terminal. */
function sameDestination(): boolean {
  try {
    const out = fstatSync(1);
    const err = fstatSync(2);
    return out.dev === err.dev && out.ino === err.ino;
  } catch {
    return false;
  }
}

export function progressMode(json: boolean): Mode {
  if (json) return 'silent';
  const ci = Boolean(process.env.CI);
  if (process.stderr.isTTY && !ci) return process.stdout.isTTY ? 'tty' : 'status';
  return sameDestination() ? 'layers' : 'lines';
}

export const EXIT_PASS = 0;
export const EXIT_FAILED = 1;
export const EXIT_COULD_NOT_RUN = 2;

export interface DoctorOpts {
  file: string;
  lab?: string;
  json?: boolean;
  junit?: string;
  fix?: boolean;
  layer: string[];
  check: string[];
  verbose?: boolean;
  concurrency: string;
}

const collect = (value: string, prev: string[]) => [
  ...prev,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** The plan to diagnose: the lab file's, or the one the last `up` of --lab saved. */
export function resolveDoctorPlan(opts: DoctorOpts): { plan: Plan; file?: string } {
  if (opts.lab) {
    const state = loadState(opts.lab);
    if (!state)
      throw new LabctlError('environment', `lab ${opts.lab} has no saved state on this host`, {
        hint: 'labctl status   (lists the labs here), or pass the lab file with -f FILE',
      });
    return { plan: state.plan, ...(state.file ? { file: state.file } : {}) };
  }
  if (!existsSync(opts.file))
    throw new LabctlError('environment', `no lab file ${opts.file} and no --lab given`, {
      hint: 'labctl doctor -f FILE, or labctl doctor --lab NAME for a lab that is up (labctl status lists them)',
    });
  const lab = loadLabFile(opts.file);
  const plan = compileRunningPlan(lab);
  // Doctor diagnoses the running lab: when the file's lab is up and what runs differs from the file (a readdress,
  // or an edit not applied yet), the plan the last up/readdress applied is the truth to check against.
  const state = loadState(lab.name);
  if (state && JSON.stringify(state.plan) !== JSON.stringify(plan)) {
    process.stderr.write(
      `note: lab ${lab.name} runs a plan that differs from ${opts.file} (last applied ${state.updatedAt}); checking what runs. labctl up -f ${opts.file} applies the file.\n`,
    );
    return { plan: state.plan, ...(lab.file ? { file: lab.file } : {}) };
  }
  return { plan, ...(lab.file ? { file: lab.file } : {}) };
}

/**
 * A host driver that does not probe Docker first (localHost() does, and throws): with dockerd down the doctor
 * still runs, and the host layer names the cause. Reads only, so a client-side timeout is fine here.
 */
export async function readOnlyHost(): Promise<HostDriver> {
  const Docker = await loadDockerode();
  const docker = new Docker({ socketPath: DOCKER_SOCKET, timeout: 15_000 });
  const host = {
    name: 'local',
    containers: dockerContainers(docker),
    links: localLinks(),
    ovs: localOvs(),
    relays: localRelays(labDir),
    chassis: getChassisName,
  };
  return host satisfies HostDriver;
}

function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

export function makeContext(
  plan: Plan,
  host: HostDriver,
  ovn: OvnDriver,
  file: string | undefined,
  concurrency: number,
  fixing: boolean,
): DoctorContext {
  const base: CheckContext = { plan, host, ovn };
  let chassisHosts: Drivers | undefined;
  if (plan.chassis?.length) {
    // a multi-chassis lab: each node's host side is read and fixed through its chassis's driver
    chassisHosts = chassisDrivers(plan, host.containers);
    base.hostOf = (h) => chassisHosts!.host(h);
  }
  const ctx: DoctorContext = { ...base, facts: createFacts(base, { concurrency }) };
  if (file) ctx.labFile = file;
  if (fixing) {
    // --fix only (loaded on use: a plain doctor run never converges, builds images or starts the host)
    ctx.converge = memo(() =>
      withLabLock(plan.lab, async () => {
        const [{ applyPlan, applyPlanWith, labBaseDir }, { ensureImage }, { localHost }] = await Promise.all([
          import('../apply/up.js'),
          import('../images/ensure-image.js'),
          import('../drivers/host.js'),
        ]);
        const docker = await connectDocker();
        const opts: ApplyOptions = {
          ...(file ? { baseDir: labBaseDir(file) } : {}),
          readyTimeoutMs: 60_000,
          ensureImage: (image, build, baseDir, log) =>
            ensureImage(docker, image, {
              ...(build ? { build } : {}),
              ...(baseDir ? { baseDir } : {}),
              onProgress: log,
            }),
        };
        // a multi-chassis lab converges through its chassis's drivers and its own central, as its up does
        const r = chassisHosts
          ? await applyPlanWith(plan, chassisHosts, opts)
          : await applyPlan(plan, await localHost(), ovn, opts);
        return r.changes;
      }),
    );
    const started = new Map<string, Promise<string[]>>();
    ctx.startHost = (o = {}) => {
      const key = JSON.stringify(o);
      let p = started.get(key);
      if (!p) {
        p = import('../host/control.js').then(({ startHost, formatStep }) =>
          startHost({ ...(plan.ovn.remote ? { remote: plan.ovn.remote } : {}), ...o }).then((r) =>
            r.steps
              .filter((s) => s.status !== 'already' && s.status !== 'skipped')
              .map((s) => formatStep(s).replace(/\s+/g, ' ')),
          ),
        );
        started.set(key, p);
      }
      return p;
    };
  }
  return ctx;
}

/** Run the checks with the progress view of `mode`. */
export async function runWithProgress(
  ctx: DoctorContext,
  checks: DoctorCheck[],
  mode: Mode,
  heading: string,
): Promise<DoctorRun> {
  if (mode === 'silent') return runChecks(ctx, checks);
  if (mode === 'lines') {
    process.stderr.write(`${heading}\n`);
    return runChecks(ctx, checks, {
      onCheckDone: (check, results, ms) =>
        process.stderr.write(`  ${progressLine(check.id, check.layer, results, ms)}\n`),
    });
  }
  if (mode === 'layers' || mode === 'status') {
    const t0 = performance.now();
    const total = new Map<Layer, number>();
    for (const c of checks) total.set(c.layer, (total.get(c.layer) ?? 0) + 1);
    const done = new Map<Layer, Status[]>();
    let finished = 0;
    const status = (text: string) => process.stderr.write(`\r\x1b[K${text}`);
    if (mode === 'layers') process.stderr.write(`${heading}\n`);
    else status(`${heading}: starting`);
    try {
      return await runChecks(ctx, checks, {
        onCheckDone: (check, results) => {
          const list = done.get(check.layer) ?? [];
          list.push(checkStatus(results));
          done.set(check.layer, list);
          finished++;
          const of = total.get(check.layer)!;
          if (mode === 'status') {
            const failed = list.filter((x) => x === 'fail' || x === 'error').length;
            status(
              `${heading}: ${check.layer} ${list.length}/${of} checks${failed ? `, ${failed} failed` : ''} (${finished}/${checks.length} in all)`,
            );
          } else if (list.length === of) {
            const n = (x: Status) => list.filter((y) => y === x).length;
            const parts = [`${n('pass')} pass`];
            if (n('fail') + n('error')) parts.push(`${n('fail') + n('error')} failed`);
            if (n('warn')) parts.push(`${n('warn')} warn`);
            if (n('skip')) parts.push(`${n('skip')} skipped`);
            const s = ((performance.now() - t0) / 1000).toFixed(1);
            process.stderr.write(`  [${check.layer}] ${of} checks done: ${parts.join(', ')} (${s} s)\n`);
          }
        },
      });
    } finally {
      if (mode === 'status') status('');
    }
  }
  // TTY: one listr2 task per layer, one concurrent subtask per check, resolved by the runner's events.
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const done = new Map<
    string,
    {
      resolve: (r: { results: CheckResult[]; ms: number }) => void;
      promise: Promise<{ results: CheckResult[]; ms: number }>;
    }
  >();
  for (const c of checks) {
    let resolve!: (r: { results: CheckResult[]; ms: number }) => void;
    const promise = new Promise<{ results: CheckResult[]; ms: number }>((r) => {
      resolve = r;
    });
    done.set(c.id, { resolve, promise });
  }
  const layers = LAYERS.filter((l) => checks.some((c) => c.layer === l));
  const list = new Listr(
    layers.map((layer) => ({
      title: `${layer} layer`,
      task: (_: unknown, task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>) =>
        task.newListr(
          checks
            .filter((c) => c.layer === layer)
            .map((c) => ({
              title: `${c.id}  ${c.title}`,
              task: async (
                _ctx: unknown,
                t: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>,
              ) => {
                const { results, ms } = await done.get(c.id)!.promise;
                const line = progressLine(c.id, c.layer, results, ms).replace(/^\[\w+\] \S+ /, '');
                if (results.some(isFailing)) throw new Error(line);
                t.title = line;
              },
            })),
          { concurrent: true, exitOnError: false },
        ),
    })),
    {
      concurrent: false,
      exitOnError: false,
      renderer: 'default',
      rendererOptions: {
        collapseSubtasks: false,
        collapseErrors: false,
        // the report that follows repeats every check's line: do not leave the live view above it
        clearOutput: true,
        // progress goes to stderr; stdout carries only the report
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
      // biome-ignore lint/suspicious/noExplicitAny: listr2's option types are per renderer
    } as any,
  );
  const [, run] = await Promise.all([
    list.run().catch(() => undefined),
    runChecks(ctx, checks, {
      onCheckDone: (check, results, ms) => done.get(check.id)?.resolve({ results, ms }),
    }),
  ]);
  return run;
}

/** Apply the fixes of the root causes, lowest layer first, one at a time. */
async function applyFixes(
  run: DoctorRun,
  ctx: DoctorContext,
  checks: DoctorCheck[],
  log: (l: string) => void,
): Promise<FixRecord[]> {
  const records: FixRecord[] = [];
  const seen = new Set<string>();
  for (const r of run.results.filter((x) => x.status === 'fail' && !x.followsFrom)) {
    const check = checks.find((c) => c.id === r.id);
    const rec: FixRecord = { id: r.id, subject: r.subject, ...(r.cause ? { cause: r.cause } : {}) };
    if (!check?.fix) {
      rec.changed = undefined;
      rec.error = 'no safe automatic fix; run the fix command shown';
      records.push(rec);
      continue;
    }
    try {
      const changed = await check.fix(ctx, r);
      if (changed) {
        rec.changed = changed;
        // converge and host start run once and fix many results: say so once
        if (!seen.has(changed)) log(`fixed ${r.id} ${r.subject}: ${changed}`);
        else log(`fixed ${r.id} ${r.subject}: (by the step above)`);
        seen.add(changed);
      } else rec.error = 'no safe automatic fix; run the fix command shown';
    } catch (err) {
      rec.error = `fix failed: ${(err as Error).message.split('\n')[0]}`;
      log(`could not fix ${r.id} ${r.subject}: ${rec.error}`);
    }
    records.push(rec);
  }
  return records;
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description(
      'layered diagnostics: host daemons and chassis, per-port wiring, data plane; root causes first',
    )
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--lab <name>', 'lab name: use the plan saved by its last up (no lab file needed)')
    .option('--json', 'print only the JSON report on stdout')
    .option('--junit <file>', 'also write the results as JUnit XML to FILE')
    .option('--fix', 'apply the safe fixes of the root causes, then check again')
    .option('--layer <layers>', `only these layers (comma list of ${LAYERS.join(', ')})`, collect, [])
    .option('--check <id>', 'only this check (repeatable, or a comma list)', collect, [])
    .option('-v, --verbose', 'a line per checked subject instead of a line per check')
    .option('--concurrency <n>', 'parallel per-node reads (nsenter, ethtool, docker inspect)', '16')
    .action(async (opts: DoctorOpts) => {
      const json = Boolean(opts.json);
      let plan: Plan;
      let file: string | undefined;
      let checks: DoctorCheck[];
      try {
        if (typeof process.getuid === 'function' && process.getuid() !== 0)
          throw new LabctlError(
            'environment',
            'labctl doctor needs root: it reads container namespaces and OVS',
            {
              hint: 'sudo labctl doctor',
            },
          );
        ({ plan, file } = resolveDoctorPlan(opts));
        try {
          // a multi-chassis lab has its own check set (checks/chassis-registry.ts, docs/multichassis.md)
          const all = plan.chassis?.length ? CHASSIS_LAB_CHECKS : CHECKS;
          checks = selectChecks(all, { layers: opts.layer as Layer[], checks: opts.check });
        } catch (err) {
          throw new LabctlError('usage', (err as Error).message, { hint: 'labctl doctor --help' });
        }
        if (!checks.length)
          throw new LabctlError('usage', 'no check selected', { hint: 'labctl doctor --help' });
      } catch (err) {
        reportError(err, json);
        process.exitCode = EXIT_COULD_NOT_RUN;
        return;
      }
      const concurrency = Math.max(1, Number(opts.concurrency) || 16);
      // listr2 draws only when both streams are terminals (it falls back to plain stdout lines otherwise)
      const mode = progressMode(json);
      const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
      const ovn = ovnDriver({ nb: plan.ovn.nb, sb: plan.ovn.remote });
      const host = await readOnlyHost();

      const first = await runWithProgress(
        makeContext(plan, host, ovn, file, concurrency, Boolean(opts.fix)),
        checks,
        mode,
        `doctor: lab ${plan.lab}`,
      );
      let final = first;
      let fixes: FixRecord[] | undefined;
      if (opts.fix) {
        const log = (l: string) => {
          if (!json) process.stdout.write(`${l}\n`);
        };
        if (first.ok) log('--fix: nothing to fix');
        else {
          if (!json) process.stdout.write(renderText(first, { color, verbose: Boolean(opts.verbose) }));
          log('');
          fixes = await applyFixes(first, makeContext(plan, host, ovn, file, concurrency, true), checks, log);
          if (fixes.some((f) => f.changed)) {
            // Ports rebind and flows are reinstalled asynchronously after a daemon start or an iface-id change.
            const ports = plan.nodes.flatMap((n) =>
              n.interfaces.map((i) => ({ node: n.name, iface: i.name, hostVeth: ovsPortOf(i), lsp: i.lsp })),
            );
            const { waitForPorts } = await import('../apply/wait.js');
            if (plan.chassis?.length) {
              // a multi-chassis lab's ports are on its chassis's own OVS
              const { chassisDrivers } = await import('../drivers/chassis-host.js');
              const d = chassisDrivers(plan, host.containers);
              for (const h of plan.hosts) {
                const mine = new Set(plan.nodes.filter((n) => n.host === h.name).map((n) => n.name));
                await waitForPorts(
                  d.host(h.name),
                  ovn,
                  ports.filter((p) => mine.has(p.node)),
                  30_000,
                ).catch(() => undefined);
              }
            } else await waitForPorts(host, ovn, ports, 30_000).catch(() => undefined);
          }
          log('');
          final = await runWithProgress(
            makeContext(plan, host, ovn, file, concurrency, false),
            checks,
            mode,
            `doctor: lab ${plan.lab} (after --fix)`,
          );
        }
      }
      if (opts.junit) writeFileSync(opts.junit, toJunit(final, { timestamp: new Date().toISOString() }));
      if (json) await writeJson(toJson(final, fixes ? { fixes, before: first.summary } : {}));
      else process.stdout.write(renderText(final, { color, verbose: Boolean(opts.verbose) }));
      process.exitCode = final.ok ? EXIT_PASS : EXIT_FAILED;
    });
}
