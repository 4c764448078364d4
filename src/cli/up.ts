import type { Command } from 'commander';
import { type Change, formatChange } from '../apply/changes.js';
import type { ApplyResult } from '../apply/execute.js';
import { saveState, withLabLock } from '../apply/state.js';
import { DEFAULT_UP_CONCURRENCY, labBaseDir, localDrivers, planUp, type UpPlan } from '../apply/up.js';
import { connectDocker } from '../drivers/docker-client.js';
import { localHost } from '../drivers/host.js';
import { ovnDriver } from '../drivers/ovn.js';
import { usageError } from '../errors.js';
import { assertHostReady } from '../host/probe.js';
import { ensureImage } from '../images/ensure-image.js';
import { loadLabFile } from '../lab/load.js';
import { requireRoot } from './lab-args.js';
import { printJson } from './output.js';
import { progressMode, runTasks } from './progress.js';

/** Changes listed after an up on a terminal. */
const TTY_CHANGES = 30;

interface UpOpts {
  file: string;
  json?: boolean;
  dryRun?: boolean;
  timeout: string;
  concurrency: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('validate, compile and converge this host to the lab; wait until every port is bound')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option(
      '--dry-run',
      'print the changes up would make to the running lab, one per line, and change nothing',
    )
    .option('--timeout <seconds>', 'how long to wait for every port to be ready', '90')
    .option('--concurrency <n>', 'containers created and started at once', String(DEFAULT_UP_CONCURRENCY))
    .option('--json', 'print the result as JSON')
    .action(async (opts: UpOpts) => {
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
        throw usageError(`--concurrency must be an integer from 1 to 256, got ${opts.concurrency}`);
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 3600)
        throw usageError(`--timeout must be a number of seconds from 1 to 3600, got ${opts.timeout}`);
      const lab = loadLabFile(opts.file);
      requireRoot(opts.dryRun ? 'labctl up --dry-run' : 'labctl up');
      const mode = progressMode(opts.json);
      const ctx: { result?: ApplyResult; up?: UpPlan } = {};
      // Load and probe the Docker client while the host check waits on its probes (the check reports a Docker that
      // does not answer; this early connection's own failure is only seen if the check passed).
      const dockerEarly = connectDocker();
      dockerEarly.catch(() => undefined);
      // A multi-chassis lab runs on its own central and simulated chassis (docs/multichassis.md), started here.
      const multi = Boolean(lab.chassis?.length);
      const driversOf = async (start = true) => {
        if (!multi) return localDrivers(await localHost(), ovnDriver({ nb: lab.ovn.nb, sb: lab.ovn.remote }));
        const mc = await import('./up-chassis.js');
        return mc.chassisLabDrivers(lab, await dockerEarly, start);
      };
      const hostCheck = multi
        ? {
            title: 'Check host (Docker, OVS and OVN programs for simulated chassis)',
            task: async () => (await import('./up-chassis.js')).assertChassisHost(dockerEarly),
          }
        : { title: 'Check host (Docker, OVS, OVN)', task: () => assertHostReady(lab.ovn) };
      if (opts.dryRun) {
        await runTasks(
          [
            hostCheck,
            {
              title: `Diff lab ${lab.name} against what runs`,
              task: async (c: typeof ctx) => {
                // a multi-chassis lab that does not run yet: everything is to be made (nothing is started)
                c.up = multi
                  ? await (await import('./up-chassis.js')).planChassisUp(lab, await dockerEarly)
                  : await planUp(lab, await driversOf());
              },
            },
          ],
          mode,
          ctx,
        );
        printDryRun(ctx.up!, opts.json);
        return;
      }
      await runTasks(
        [
          hostCheck,
          {
            title: `Converge lab ${lab.name} (${lab.nodes.length} nodes)`,
            task: async (c, task) =>
              withLabLock(lab.name, async () => {
                const drivers = await driversOf();
                const up = await planUp(lab, drivers);
                const { plan } = up;
                saveState({ plan, lab, file: lab.file, updatedAt: new Date().toISOString() });
                const docker = await dockerEarly;
                const { executeChanges } = await import('../apply/execute.js');
                c.up = up;
                c.result = await executeChanges(plan, up.changes, up.observed, drivers, {
                  baseDir: labBaseDir(lab.file),
                  readyTimeoutMs: timeoutS * 1000,
                  concurrency,
                  labFile: opts.file,
                  log: (line) => {
                    task.output = line;
                  },
                  onChange: (ch: Change) => {
                    task.output = formatChange(ch);
                  },
                  ensureImage: (image, build, baseDir, log) =>
                    ensureImage(docker, image, {
                      ...(build ? { build } : {}),
                      ...(baseDir ? { baseDir } : {}),
                      onProgress: log,
                    }),
                });
              }),
          },
        ],
        mode,
        ctx,
      );
      const r = ctx.result!;
      const plan = ctx.up!.plan;
      if (opts.json) {
        printJson({
          ok: true,
          lab: plan.lab,
          changed: r.changes.length > 0,
          changes: r.changes,
          containers: r.containers,
          durationMs: Math.round(r.durationMs),
        });
        return;
      }
      const secs = (r.durationMs / 1000).toFixed(1);
      if (!r.changes.length)
        process.stdout.write(
          `lab ${plan.lab} is up to date: no changes (${plan.nodes.length} nodes, checked in ${secs} s)\n`,
        );
      else {
        const c = r.containers;
        process.stdout.write(
          `lab ${plan.lab} is up: ${plan.nodes.length} nodes ready in ${secs} s (${c.created.length} created, ${c.recreated.length} recreated, ${c.started.length} started, ${c.removed.length} removed, ${c.kept.length} kept; ${r.changes.length} changes)\n`,
        );
        // Plain output (logs, CI) lists every change; a terminal the first TTY_CHANGES (a cold up of 50 nodes makes
        // hundreds), with where to find the rest.
        const shown = mode === 'plain' ? r.changes : r.changes.slice(0, TTY_CHANGES);
        for (const ch of shown) process.stdout.write(`  ${ch}\n`);
        if (shown.length < r.changes.length)
          process.stdout.write(
            `  … and ${r.changes.length - shown.length} more (labctl up --json lists them all)\n`,
          );
      }
    });
}

function printDryRun(up: UpPlan, json?: boolean): void {
  const { changes } = up.changes;
  if (json) {
    printJson({ ok: true, lab: up.plan.lab, dryRun: true, changed: changes.length > 0, changes });
    return;
  }
  const hosts = new Set(changes.map((c) => c.host).filter((h) => h !== 'central'));
  if (!changes.length) {
    process.stdout.write(`lab ${up.plan.lab}: no changes (dry run)\n`);
    return;
  }
  process.stdout.write(
    `lab ${up.plan.lab}: ${changes.length} change(s) up would make (dry run: nothing was changed)\n`,
  );
  for (const c of changes) process.stdout.write(`${formatChange(c, hosts.size > 1)}\n`);
}
