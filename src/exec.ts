/**
 * The one way labctl runs a program: execa with an argument array, never a shell string. Every call has a timeout,
 * and a failure carries the command line and the program's own stderr, so errors can say exactly what failed.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Options } from 'execa';

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  /** do not throw on a non-zero exit; the caller inspects exitCode */
  reject?: boolean;
  env?: Record<string, string>;
  /** working directory of the program (default: labctl's) */
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  failed: boolean;
  timedOut: boolean;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
  ) {
    const why = result.timedOut ? 'timed out' : `exited ${result.exitCode}`;
    const err = result.stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${command} ${why}${err ? `: ${err}` : ''}`);
    this.name = 'CommandError';
  }
}

export function formatCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[A-Za-z0-9_./:=,@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const execaOpts: Options = {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    stripFinalNewline: true,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' }),
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  };
  // Loaded on first use (cached by the module system): validate and plan never spawn anything.
  const { execa } = await import('execa');
  const r = await execa(file, args, execaOpts);
  const result: RunResult = {
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    exitCode: r.exitCode ?? (r.timedOut ? 124 : 127),
    failed: Boolean(r.failed),
    timedOut: Boolean(r.timedOut),
  };
  if (result.failed && opts.reject !== false) {
    if ((r as { code?: string }).code === 'ENOENT' || (result.exitCode === 127 && !result.stderr)) {
      result.stderr ||= `${file}: command not found`;
    }
    throw new CommandError(formatCommand(file, args), result);
  }
  return result;
}

/** The signature of run: drivers that can work on another machine (over ssh, drivers/ssh.ts) take one. */
export type Runner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** Run and return trimmed stdout; throws CommandError on failure. */
export async function output(file: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(file, args, opts)).stdout.trim();
}

/** Where a program is on PATH (no shell involved), or undefined. */
export function which(file: string): string | undefined {
  const dirs = (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    ':',
  );
  for (const dir of [...dirs, '/usr/sbin', '/sbin']) {
    const full = join(dir, file);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return undefined;
}
