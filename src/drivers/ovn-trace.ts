/**
 * ovn-trace: simulate a packet through the southbound logical pipeline. The caller builds the arguments (its
 * printable command line is formatOvnTrace) and parses the detailed output; this runs it, bounded, never throwing
 * on a non-zero exit.
 */
import { formatCommand, type RunResult, run } from '../exec.js';

export function formatOvnTrace(args: readonly string[]): string {
  return formatCommand('ovn-trace', args);
}

export async function ovnTrace(args: readonly string[]): Promise<RunResult> {
  return run('ovn-trace', args, { timeoutMs: 20_000, reject: false });
}
