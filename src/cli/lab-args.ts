/**
 * Shared flag handling: -f FILE (default ./lab.yml) or --lab NAME, and the root check. Light to import (every
 * command that needs root imports it): the loader, the compiler and the state store are loaded when used.
 */

import { envError, usageError } from '../errors.js';
import type { Lab } from '../lab/types.js';
import type { Plan } from '../plan/types.js';

export interface LabArgs {
  file?: string;
  lab?: string;
}

export function requireRoot(what: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw envError(
      `${what} needs root: it creates veths, OVS ports and OVN rows`,
      `sudo labctl ${what.replace(/^labctl /, '')}`,
    );
}

/** The plan to act on: compiled from the lab file, or the one saved by the last `up` of --lab NAME. */
export async function resolvePlan(args: LabArgs): Promise<{ plan: Plan; lab?: Lab }> {
  if (args.lab) {
    const { loadState } = await import('../apply/state.js');
    const state = loadState(args.lab);
    if (!state)
      throw usageError(
        `lab ${args.lab} has no saved state on this host`,
        `labctl status   (lists the labs here), or pass -f lab.yml`,
      );
    return { plan: state.plan };
  }
  const [{ loadLabFile }, { compileRunningPlan }] = await Promise.all([
    import('../lab/load.js'),
    import('../apply/running-plan.js'),
  ]);
  const lab = loadLabFile(args.file ?? 'lab.yml');
  return { plan: compileRunningPlan(lab), lab };
}

/**
 * What follows NODE in `labctl exec NODE [-f FILE | --lab NAME] -- CMD…`. exec stops commander's option parsing at
 * NODE (passThroughOptions) so that the command's own options reach it untouched; labctl's -f/--file and --lab are
 * read here instead, anywhere before `--`. Without `--` the command starts at its first word that is not one of
 * labctl's options; any other option before the command is an error (it would otherwise reach nsenter or be taken
 * for the command). Options given before NODE (already parsed by commander) are the defaults.
 */
export function splitCommandArgs(
  rest: readonly string[],
  before: LabArgs = {},
): { args: LabArgs; command: string[] } {
  const args: LabArgs = { ...before };
  let i = 0;
  const value = (flag: string): string => {
    const v = rest[i + 1];
    if (v === undefined || v === '--')
      throw usageError(
        `${flag} needs a value`,
        `labctl exec NODE ${flag === '--lab' ? '--lab NAME' : '-f FILE'} -- CMD`,
      );
    i += 2;
    return v;
  };
  while (i < rest.length) {
    const a = rest[i]!;
    if (a === '--') return { args, command: rest.slice(i + 1) };
    if (a === '-f' || a === '--file') args.file = value(a);
    else if (a === '--lab') args.lab = value(a);
    else if (a.startsWith('--file=')) [args.file, i] = [a.slice('--file='.length), i + 1];
    else if (a.startsWith('--lab=')) [args.lab, i] = [a.slice('--lab='.length), i + 1];
    else if (/^-f./.test(a)) [args.file, i] = [a.slice(2), i + 1];
    else if (a.startsWith('-') && a !== '-')
      throw usageError(
        `unknown option ${a}: before the command labctl exec takes only -f FILE or --lab NAME`,
        'put the command and its own options after --: labctl exec NODE [-f FILE | --lab NAME] -- CMD…',
      );
    else break;
  }
  return { args, command: rest.slice(i) };
}
