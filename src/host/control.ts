/**
 * `labctl host start` / `labctl host stop`: run the plan from plan.ts. Start is idempotent — a host where everything
 * runs with the right chassis keys gets no command at all — and every wait is bounded. Daemons are started the way
 * platform.md measured: ovs-ctl for ovsdb-server only, ovs-vswitchd directly (ovs-ctl would load the kernel module),
 * ovn-ctl for the central and ovn-controller, systemd units instead where the host runs systemd.
 */

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { daemonAnswers } from '../drivers/daemons.js';
import { DOCKER_SOCKET, loadDockerode } from '../drivers/docker-client.js';
import { readOvsConfig, setBridgeDatapathType } from '../drivers/ovs-config.js';
import { NEIGH_TABLE_MIN, raiseSysctls } from '../drivers/sysctl.js';
import { envError } from '../errors.js';
import { run, which } from '../exec.js';
import { DOCKER_PIDFILE, LOCAL_SB_REMOTE, normalizeRemote } from './constants.js';
import {
  type ChassisKeys,
  type DatapathChoice,
  datapathFromEnv,
  type HostStep,
  planConfigSteps,
  planHostStart,
  planHostStop,
  type StartOptions,
  type StopOptions,
} from './plan.js';
import { describeFailure, probeHost } from './probe.js';
import { check, type HostReport } from './report.js';
import { hasSystemd, isRoot, kernelModuleState, newSystemId, storedOvsExternalIds } from './system.js';

export type StepStatus =
  | 'already'
  | 'started'
  | 'set'
  | 'loaded'
  | 'waited'
  | 'skipped'
  | 'stopped'
  | 'not-running';

export interface StepResult {
  id: HostStep['id'];
  title: string;
  status: StepStatus;
  detail: string;
}

export interface HostControlResult {
  ok: boolean;
  /** false when nothing had to be done */
  changed: boolean;
  steps: StepResult[];
  report: HostReport;
  /** host start only: the datapath used and why (auto says what it picked) */
  datapath?: DatapathChoice;
}

export interface ControlOptions {
  log?: (line: string) => void;
  /** bound of the final wait for chassis registration (default 30 s) */
  waitMs?: number;
}

const DOCKER_WAIT_MS = 60_000;
const DAEMON_WAIT_MS = 20_000;

function requireRoot(command: string): void {
  if (!isRoot()) {
    throw envError(
      `labctl host ${command} must run as root (it starts and stops system daemons)`,
      `run labctl as root (sudo labctl host ${command})`,
    );
  }
}

export function formatStep(r: StepResult): string {
  const word: Record<StepStatus, string> = {
    already: '',
    started: 'started: ',
    set: '',
    loaded: 'loaded: ',
    waited: '',
    skipped: 'skipped: ',
    stopped: 'stopped: ',
    'not-running': '',
  };
  return `${r.title.padEnd(28)} ${word[r.status]}${r.detail}`;
}

/** Poll until fn() is true or the bound passes; returns whether it became true. */
export async function waitUntil(
  fn: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}

async function runStepCommands(step: HostStep): Promise<void> {
  for (const argv of step.commands) {
    const [file, ...args] = argv as [string, ...string[]];
    if (!which(file) && !existsSync(file)) {
      throw envError(`${file} is not installed: cannot ${step.action} ${step.title}`, 'labctl host install');
    }
    const r = await run(file, args, { reject: false, timeoutMs: 120_000 });
    if (r.exitCode !== 0) {
      const err = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      throw envError(
        `${argv.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}): ${err}`,
        'labctl host check',
      );
    }
  }
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const Docker = await loadDockerode();
    await new Docker({ socketPath: DOCKER_SOCKET, timeout: 2000 }).ping();
    return true;
  } catch {
    return false;
  }
}

/** Start a daemon detached, its stdout/stderr appended to a log file; fails fast if it exits before answering. */
async function spawnDaemon(
  argv: readonly string[],
  log: string,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const [file, ...args] = argv as [string, ...string[]];
  if (!which(file)) throw envError(`${file} is not installed`, 'labctl host install');
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'a');
  let exited: string | undefined;
  try {
    // A daemon that outlives labctl: node's spawn with an argv array (no shell), detached, its output handed the
    // log file's descriptor directly (execa would pipe it through this process, which is about to exit).
    const sub = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd] });
    sub.on('error', (err) => {
      exited = err.message;
    });
    sub.on('exit', (code, signal) => {
      exited = `exit ${code ?? signal ?? '?'}`;
    });
    sub.unref();
  } finally {
    closeSync(fd);
  }
  const up = await waitUntil(async () => (exited ? true : ready()), timeoutMs, 500);
  if (exited || !up) {
    const tail = readTail(log, 5);
    throw envError(
      `${file} ${exited ? `exited (${exited})` : `did not answer within ${timeoutMs / 1000} s`}; see ${log}`,
      `tail ${log}`,
      tail,
    );
  }
}

function readTail(file: string, n: number): string[] {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

/** What to wait for after a step started something, so the next step finds it running. */
function readiness(step: HostStep): (() => Promise<boolean>) | undefined {
  switch (step.id) {
    case 'dockerd':
      return dockerAnswers;
    case 'ovsdb-server':
      return daemonAnswers.ovsdbServer;
    case 'ovs-vswitchd':
      return daemonAnswers.ovsVswitchd;
    case 'ovn-central':
      return daemonAnswers.ovnCentral;
    case 'ovn-controller':
      return daemonAnswers.ovnController;
    default:
      return undefined;
  }
}

function bridgeFor(keys: Record<string, string>, bridges: { name: string; datapathType: string }[]) {
  const name = keys['ovn-bridge'] || 'br-int';
  const row = bridges.find((b) => b.name === name);
  return { name, exists: Boolean(row), ...(row ? { datapathType: row.datapathType } : {}) };
}

export async function startHost(options: StartOptions & ControlOptions = {}): Promise<HostControlResult> {
  requireRoot('start');
  const envDatapath = options.datapath ? undefined : datapathFromEnv();
  const opts: StartOptions & ControlOptions = envDatapath
    ? { ...options, datapath: envDatapath, datapathFrom: 'env' }
    : options;
  const log = opts.log ?? (() => undefined);
  const [kernel, systemd] = [await kernelModuleState(), hasSystemd()];

  let report = await probeHost(opts.remote ? { remote: opts.remote } : {});
  const ovsdbUp = check(report, 'ovsdb-server')?.ok === true;
  const storedKeys = ovsdbUp ? undefined : await storedOvsExternalIds();
  const remote = normalizeRemote(
    opts.remote ?? (ovsdbUp ? report.keys['ovn-remote'] : storedKeys?.['ovn-remote']) ?? LOCAL_SB_REMOTE,
  );
  if (remote !== report.remote) report = await probeHost({ remote });

  const { steps, desired, datapath } = planHostStart(
    report,
    { systemd, kernel, storedKeys, newSystemId: newSystemId() },
    opts,
  );
  const results: StepResult[] = [];
  const record = (step: HostStep, status: StepStatus, detail = step.detail) => {
    const r: StepResult = { id: step.id, title: step.title, status, detail };
    results.push(r);
    log(formatStep(r));
  };
  let ovsRestarted = false;

  for (const step of steps) {
    // planned from the stored database when ovsdb-server was down: decided again from the live one (below)
    if (ovsRestarted && (step.id === 'chassis-keys' || step.id === 'br-int')) continue;
    if (step.action === 'none') {
      record(step, 'already');
      continue;
    }
    if (step.action === 'skip') {
      record(step, 'skipped');
      continue;
    }
    if (step.id === 'chassis-keys' || step.id === 'br-int') {
      if (step.action === 'wait') {
        record(step, 'waited', step.detail);
        continue;
      }
      await runStepCommands(step);
      record(step, 'set');
      continue;
    }
    if (step.id === 'chassis') {
      const r = await waitForChassis(desired, opts.waitMs ?? 30_000);
      record(step, 'waited', r);
      continue;
    }
    if (step.spawn) {
      await spawnDaemon(step.spawn.argv, step.spawn.log, dockerAnswers, DOCKER_WAIT_MS);
    } else {
      await runStepCommands(step);
      const ready = readiness(step);
      if (ready && !(await waitUntil(ready, step.id === 'dockerd' ? DOCKER_WAIT_MS : DAEMON_WAIT_MS))) {
        throw envError(`${step.title} was started but does not answer`, 'labctl host check');
      }
    }
    record(step, step.action === 'load' ? 'loaded' : 'started');
    if (step.id === 'ovsdb-server') {
      ovsRestarted = true;
      const live = await readOvsConfig();
      if (!live) throw envError('ovsdb-server was started but does not answer', 'labctl host check');
      for (const cfg of planConfigSteps(live.keys, bridgeFor(live.keys, live.bridges), desired)) {
        if (cfg.action === 'set') await runStepCommands(cfg);
        record(cfg, cfg.action === 'set' ? 'set' : cfg.action === 'wait' ? 'waited' : 'already');
      }
    }
  }

  // The doctor probes every pair of a lab's nodes: the host's neighbour table must hold a full mesh.
  const raised = raiseSysctls(NEIGH_TABLE_MIN);
  const neigh: StepResult = {
    id: 'neigh-table',
    title: 'neighbour table',
    status: raised.length ? 'set' : 'already',
    detail: raised.length
      ? `raised ${raised.join(', ')} (a full mesh of N nodes needs N·(N−1) entries)`
      : `holds ${NEIGH_TABLE_MIN['net.ipv4.neigh.default.gc_thresh3']} entries or more`,
  };
  results.push(neigh);
  log(formatStep(neigh));

  const final = await probeHost({ remote: desired['ovn-remote'] });
  const failure = describeFailure(final);
  if (failure) throw envError(failure.message, failure.fix);
  return {
    ok: final.ok,
    changed: results.some((r) => r.status !== 'already' && r.status !== 'skipped'),
    steps: results,
    report: final,
    datapath,
  };
}

/**
 * Bounded wait until the chassis is registered with its encap and the integration bridge has the wanted
 * datapath_type; a bridge ovn-controller created with an unusable type is switched (once) on the way.
 */
async function waitForChassis(desired: ChassisKeys, timeoutMs: number): Promise<string> {
  let fixed = false;
  let last: HostReport | undefined;
  const done = await waitUntil(
    async () => {
      last = await probeHost({ remote: desired['ovn-remote'] });
      const bridge = last.bridge;
      if (
        !fixed &&
        bridge.exists &&
        (bridge.datapathType || 'system') !== desired['ovn-bridge-datapath-type']
      ) {
        fixed = true;
        await setBridgeDatapathType(bridge.name, desired['ovn-bridge-datapath-type']);
        return false;
      }
      return ['chassis.registered', 'sb-connection', 'br-int'].every(
        (id) => check(last!, id as 'br-int')?.ok,
      );
    },
    timeoutMs,
    500,
  );
  if (!done && last) {
    const failure = describeFailure(last);
    throw envError(
      `chassis ${desired['system-id']} is not ready after ${timeoutMs / 1000} s: ${failure?.message ?? 'unknown'}`,
      failure?.fix ?? 'labctl host check',
    );
  }
  return `${desired['system-id']} registered (${desired['ovn-encap-type']} ${desired['ovn-encap-ip']}), ${last?.bridge.name ?? 'br-int'} datapath_type ${desired['ovn-bridge-datapath-type']}`;
}

export async function stopHost(opts: StopOptions & ControlOptions = {}): Promise<HostControlResult> {
  requireRoot('stop');
  const log = opts.log ?? (() => undefined);
  const report = await probeHost();
  const steps = planHostStop(report, { systemd: hasSystemd() }, opts);
  const results: StepResult[] = [];
  for (const step of steps) {
    let status: StepStatus;
    if (step.action === 'none') status = 'not-running';
    else if (step.action === 'skip') status = 'skipped';
    else {
      if (step.id === 'dockerd' && step.commands.length === 0) await stopDockerdByPid();
      else await runStepCommands(step);
      status = 'stopped';
    }
    const r: StepResult = { id: step.id, title: step.title, status, detail: step.detail };
    results.push(r);
    log(formatStep(r));
  }
  const after = await probeHost();
  return { ok: true, changed: results.some((r) => r.status === 'stopped'), steps: results, report: after };
}

async function stopDockerdByPid(): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(DOCKER_PIDFILE, 'utf8').trim(), 10);
  } catch {
    throw envError(
      `dockerd answers but ${DOCKER_PIDFILE} is missing: cannot tell which process to stop`,
      'stop dockerd by hand',
    );
  }
  if (!Number.isInteger(pid) || pid <= 1)
    throw envError(`${DOCKER_PIDFILE} holds no usable pid`, 'stop dockerd by hand');
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  if (!(await waitUntil(async () => !alive(), 30_000, 250))) {
    throw envError(`dockerd (pid ${pid}) did not exit within 30 s of SIGTERM`, `kill ${pid}`);
  }
}
