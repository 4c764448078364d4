import type { Command } from 'commander';
import { saveState, withLabLock } from '../apply/state.js';
import { type ApplyResult, applyPlan, DEFAULT_UP_CONCURRENCY, labBaseDir } from '../apply/up.js';
import { connectDocker } from '../drivers/docker-client.js';
import { localHost } from '../drivers/host.js';
import { ovnDriver } from '../drivers/ovn.js';
import { usageError } from '../errors.js';
import { assertHostReady } from '../host/probe.js';
import { ensureImage } from '../images/ensure-image.js';
import { loadLabFile } from '../lab/load.js';
import { compilePlan } from '../plan/compile.js';
import { requireRoot } from './lab-args.js';
import { printJson } from './output.js';
import { progressMode, runTasks } from './progress.js';

interface UpOpts {
  file: string;
  json?: boolean;
  timeout: string;
  concurrency: string;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('validate, compile and converge this host to the lab; wait until every port is bound')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
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
      const plan = compilePlan(lab);
      requireRoot('labctl up');
      const mode = progressMode(opts.json);
      const ctx: { result?: ApplyResult } = {};
      // Load and probe the Docker client while the host check waits on its probes (the check reports a Docker that
      // does not answer; this early connection's own failure is only seen if the check passed).
      const dockerEarly = connectDocker();
      dockerEarly.catch(() => undefined);
      await runTasks(
        [
          { title: 'Check host (Docker, OVS, OVN)', task: () => assertHostReady(plan.ovn) },
          {
            title: `Converge lab ${plan.lab} (${plan.nodes.length} nodes)`,
            task: async (c, task) =>
              withLabLock(plan.lab, async () => {
                saveState({ plan, lab, file: lab.file, updatedAt: new Date().toISOString() });
                const docker = await dockerEarly;
                const host = await localHost();
                const ovn = ovnDriver({ nb: plan.ovn.nb, sb: plan.ovn.remote });
                c.result = await applyPlan(plan, host, ovn, {
                  baseDir: labBaseDir(lab.file),
                  readyTimeoutMs: timeoutS * 1000,
                  concurrency,
                  log: (line) => {
                    task.output = line;
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
        if (mode === 'plain') for (const ch of r.changes.slice(0, 50)) process.stdout.write(`  ${ch}\n`);
      }
    });
}
