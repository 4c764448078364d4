/**
 * A scenario's steps, each one of labctl's runtime operations called directly (src/ops/*, src/apply/up.ts), never
 * through the CLI. Each returns a one-line detail; a failing step throws (the runner records it and stops).
 */
import { dirname, resolve } from 'node:path';
import { execa } from 'execa';
import { loadState, saveState, withLabLock } from '../apply/state.js';
import { labBaseDir, localDrivers, planUp } from '../apply/up.js';
import { LabctlError } from '../errors.js';
import { describeImpair } from '../lab/impair.js';
import type { LabStep } from '../lab/types.js';
import { chassisAction, describeChassisAction } from '../ops/chassis.js';
import { flushConntrack } from '../ops/conntrack.js';
import type { LabRuntime } from '../ops/context.js';
import { nodePid } from '../ops/context.js';
import { describeImpairResult, impair } from '../ops/impair.js';
import { setLink } from '../ops/link.js';
import { readdress } from '../ops/readdress.js';

/** A step of labctl measure: a command on the host (a script), its output passed through to stderr. */
export interface CommandStep {
  kind: 'command';
  argv: string[];
}
export type RunStep = LabStep | CommandStep;

/** The longest an exec step may run. */
const EXEC_TIMEOUT_MS = 120_000;

export function describeStep(s: RunStep): string {
  switch (s.kind) {
    case 'command':
      return `command: ${s.argv.join(' ')}`;
    case 'wait':
      return `wait ${s.ms >= 1000 ? `${s.ms / 1000} s` : `${s.ms} ms`}`;
    case 'up':
      return `up ${s.file}`;
    case 'readdress':
      return `readdress ${s.node} ${s.iface} ${s.ip}`;
    case 'link':
      return `link ${s.node} ${s.iface} ${s.state}`;
    case 'conntrack-flush':
      return `conntrack-flush ${s.address ?? (s.node ? `node ${s.node}` : 'lab')}`;
    case 'exec':
      return `exec ${s.node}: ${s.cmd.join(' ')}`;
    case 'impair':
      return `impair ${s.node} ${s.iface} ${s.impair ? describeImpair(s.impair) : 'clear'}`;
    case 'chassis':
      return `chassis ${s.action} ${s.chassis}`;
  }
}

export interface StepContext {
  rt: LabRuntime;
  /** the lab file the scenario came from (an up step's file is relative to it) */
  labFile?: string;
  /** stops a wait early (the run was interrupted) */
  signal?: AbortSignal;
}

export async function runStep(s: RunStep, ctx: StepContext): Promise<string> {
  const { rt } = ctx;
  switch (s.kind) {
    case 'command': {
      const r = await execa(s.argv[0]!, s.argv.slice(1), {
        reject: false,
        stdin: 'ignore',
        stdout: process.stderr,
        stderr: process.stderr,
      });
      // the command may have changed the lab (labctl readdress, up): later targets read the new state
      refreshState(rt);
      if (r.exitCode !== 0)
        throw new LabctlError(
          'environment',
          `${s.argv[0]} exited ${r.exitCode ?? r.signal}${r.failed && r.exitCode === undefined ? ` (${r.shortMessage})` : ''}`,
        );
      return 'exit 0';
    }
    case 'wait':
      await new Promise<void>((res) => {
        const t = setTimeout(res, s.ms);
        ctx.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          res();
        });
      });
      return `waited ${s.ms} ms`;
    case 'link':
      return setLink(rt, s.node, s.iface, s.state);
    case 'readdress': {
      const r = await readdress(rt, s.node, s.iface, s.ip);
      refreshState(rt);
      return `${s.node}.${s.iface}: ${r.from} → ${r.to}`;
    }
    case 'conntrack-flush':
      return (await flushConntrack(rt, { node: s.node, address: s.address })).join('; ');
    case 'exec': {
      const pid = await nodePid(rt, s.node);
      const r = await execa('nsenter', ['-t', String(pid), '-a', '--', ...s.cmd], {
        reject: false,
        timeout: EXEC_TIMEOUT_MS,
        stdin: 'ignore',
        all: true,
      });
      const out = String(r.all ?? '')
        .trim()
        .split('\n')
        .slice(-3)
        .join(' / ');
      if (r.exitCode !== 0)
        throw new LabctlError(
          'environment',
          `exec in ${s.node} exited ${r.timedOut ? 'by the time limit' : (r.exitCode ?? r.signal)}${out ? `: ${out}` : ''}`,
        );
      return out ? `exit 0: ${out.slice(0, 200)}` : 'exit 0';
    }
    case 'up':
      return upStep(s.file, ctx);
    case 'impair': {
      const r = await impair(rt, s.node, s.iface, s.impair ?? 'clear');
      refreshState(rt);
      return describeImpairResult(r);
    }
    case 'chassis':
      return describeChassisAction(await chassisAction(rt.state.plan, s.chassis, s.action));
  }
}

/** Converge the running lab to another lab file (same lab name), as `labctl up -f FILE` does. */
async function upStep(file: string, ctx: StepContext): Promise<string> {
  const { rt } = ctx;
  const path = resolve(ctx.labFile ? dirname(ctx.labFile) : '.', file);
  const { loadLabFile } = await import('../lab/load.js');
  const lab = loadLabFile(path);
  if (lab.name !== rt.state.plan.lab)
    throw new LabctlError('usage', `up ${file}: that file is lab ${lab.name}, not ${rt.state.plan.lab}`, {
      hint: `name: ${rt.state.plan.lab} in ${file}`,
    });
  const r = await withLabLock(lab.name, async () => {
    const drivers = localDrivers(rt.host, rt.ovn);
    const up = await planUp(lab, drivers);
    saveState({ plan: up.plan, lab, file: lab.file, updatedAt: new Date().toISOString() });
    const [{ executeChanges }, { connectDocker }, { ensureImage }] = await Promise.all([
      import('../apply/execute.js'),
      import('../drivers/docker-client.js'),
      import('../images/ensure-image.js'),
    ]);
    const docker = await connectDocker();
    return executeChanges(up.plan, up.changes, up.observed, drivers, {
      baseDir: labBaseDir(lab.file),
      readyTimeoutMs: 90_000,
      labFile: path,
      ensureImage: (image, build, baseDir, log) =>
        ensureImage(docker, image, {
          ...(build ? { build } : {}),
          ...(baseDir ? { baseDir } : {}),
          onProgress: log,
        }),
    });
  });
  refreshState(rt);
  return `${r.changes.length} change(s)${r.changes.length ? `: ${r.changes.slice(0, 3).join('; ')}${r.changes.length > 3 ? '; …' : ''}` : ''}`;
}

/** The saved state after an operation changed it (readdress, up): later steps and targets read the new plan. */
export function refreshState(rt: LabRuntime): void {
  const s = loadState(rt.state.plan.lab);
  if (s) rt.state = s;
}
