import type { Command } from 'commander';
import { saveState, withLabLock } from '../apply/state.js';
import { type ApplyResult, applyPlan, labBaseDir } from '../apply/up.js';
import { connectDocker } from '../drivers/docker-client.js';
import { localHost } from '../drivers/host.js';
import { ovnDriver } from '../drivers/ovn.js';
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
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('validate, compile and converge this host to the lab; wait until every port is bound')
    .option('-f, --file <file>', 'lab file', 'lab.yml')
    .option('--timeout <seconds>', 'how long to wait for every port to be ready', '90')
    .option('--json', 'print the result as JSON')
    .action(async (opts: UpOpts) => {
      const lab = loadLabFile(opts.file);
      const plan = compilePlan(lab);
      requireRoot('labctl up');
      const mode = progressMode(opts.json);
      const ctx: { result?: ApplyResult } = {};
      await runTasks(
        [
          { title: 'Check host (Docker, OVS, OVN)', task: () => assertHostReady(plan.ovn) },
          {
            title: `Converge lab ${plan.lab} (${plan.nodes.length} nodes)`,
            task: async (c, task) =>
              withLabLock(plan.lab, async () => {
                saveState({ plan, lab, file: lab.file, updatedAt: new Date().toISOString() });
                const docker = await connectDocker();
                const host = await localHost();
                const ovn = ovnDriver({ nb: plan.ovn.nb, sb: plan.ovn.remote });
                c.result = await applyPlan(plan, host, ovn, {
                  baseDir: labBaseDir(lab.file),
                  readyTimeoutMs: Number(opts.timeout) * 1000,
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
