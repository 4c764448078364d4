/**
 * Running programs for the bench: wall time measured around the child's whole life (spawn → exit), a hard time
 * limit for every child, and for labctl itself the preload (bench/preload.ts) that reports its peak RSS, CPU
 * time and — when traced — every command and Docker request it made.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcReport } from '../preload.js';
import { trackChild } from './cleanup.js';

export const BENCH_DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = join(BENCH_DIST, '..', '..');
export const PRELOAD = join(BENCH_DIST, 'preload.js');

let labctlDist = join(ROOT, 'dist');
/** labctl's compiled tree the bench measures (dist/, or the snapshot of it taken at the start of the run). */
export const distRoot = () => labctlDist;
/** The CLI as installed (package.json "bin"): the bundle scripts/bundle.mjs writes, dist/labctl.mjs. */
export const cliPath = () => join(labctlDist, 'labctl.mjs');

/**
 * Copy the bundle (dist/labctl.mjs and dist/chunks), dist/src and dist/checks to
 * node_modules/.cache/labctl-bench/TAG/dist and measure that copy, so a rebuild of dist by someone else during a
 * long run cannot change the code under test half-way (what the bundle leaves out still resolves from the
 * repository's node_modules; the probe agent runs from the copy's src/probe). Returns the copy's path;
 * removeSnapshot() deletes it.
 */
export function snapshotDist(tag: string): string {
  const dir = join(ROOT, 'node_modules', '.cache', 'labctl-bench', tag, 'dist');
  mkdirSync(dir, { recursive: true });
  for (const sub of ['src', 'checks', 'chunks', 'labctl.mjs'])
    cpSync(join(ROOT, 'dist', sub), join(dir, sub), { recursive: true });
  labctlDist = dir;
  return dir;
}

export function removeSnapshot(tag: string): void {
  rmSync(join(ROOT, 'node_modules', '.cache', 'labctl-bench', tag), { recursive: true, force: true });
}

export interface RunResult {
  wallMs: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

export interface RunOpts {
  timeoutMs: number;
  env?: Record<string, string>;
  input?: string;
  cwd?: string;
  /** own process group; on timeout the whole group is killed (for scripts that spawn many commands) */
  group?: boolean;
}

const MAX_OUTPUT = 256 * 1024 * 1024; // a 200-node full-mesh doctor report is ~85 MB of JSON

export function runTimed(file: string, args: string[], opts: RunOpts): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: opts.group ?? false,
    });
    (child as typeof child & { benchGroup?: boolean }).benchGroup = opts.group ?? false;
    trackChild(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (stdout.length < MAX_OUTPUT) stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < MAX_OUTPUT) stderr += d.toString();
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let timedOut = false;
    const kill = (sig: NodeJS.Signals) => {
      try {
        if (opts.group && child.pid) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 5000).unref();
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ wallMs: performance.now() - t0, exitCode: code, signal, timedOut, stdout, stderr });
    });
  });
}

export interface LabctlRun extends RunResult {
  report?: ProcReport;
}

/** Run the built CLI under the preload; the report file lives in a private temp dir and is removed after reading. */
export async function labctl(
  args: string[],
  opts: { timeoutMs: number; trace?: boolean; cwd?: string },
): Promise<LabctlRun> {
  const dir = mkdtempSync(join(tmpdir(), 'labctl-bench-proc-'));
  const out = join(dir, 'report.json');
  try {
    const r = await runTimed(process.execPath, ['--import', PRELOAD, cliPath(), ...args], {
      timeoutMs: opts.timeoutMs,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { LABCTL_BENCH_OUT: out, LABCTL_BENCH_TRACE: opts.trace ? '1' : '0', CI: 'true' },
    });
    let report: ProcReport | undefined;
    try {
      report = JSON.parse(readFileSync(out, 'utf8')) as ProcReport;
    } catch {
      report = undefined;
    }
    return { ...r, ...(report ? { report } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describeFailure(what: string, r: RunResult): string {
  const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exited ${r.exitCode}`;
  const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-4).join(' | ');
  return `${what} ${why}${tail ? `: ${tail}` : ''}`;
}
