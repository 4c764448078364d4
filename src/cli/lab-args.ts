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
  const [{ loadLabFile }, { compilePlan }] = await Promise.all([
    import('../lab/load.js'),
    import('../plan/compile.js'),
  ]);
  const lab = loadLabFile(args.file ?? 'lab.yml');
  return { plan: compilePlan(lab), lab };
}
