/**
 * Per-lab state on this host: the last plan applied (so status, doctor and down work without the lab file) and
 * a lock (in <state dir>/locks/<lab>.lock), so two up/down runs of the same lab never interleave. The lock is a directory (proper-lockfile) that
 * goes stale when its holder dies, so a SIGKILLed `up` never blocks the next run for long.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LabctlError } from '../errors.js';
import type { Lab } from '../lab/types.js';
import { isSafeName, MAX_LAB_NAME } from '../names.js';
import type { Plan } from '../plan/types.js';

export const STATE_DIR = process.env.LABCTL_STATE_DIR ?? '/var/lib/labctl';

export function labDir(lab: string): string {
  if (!isSafeName(lab, MAX_LAB_NAME))
    throw new LabctlError('usage', `"${lab}" is not a lab name`, { hint: 'lab names use a-z, 0-9 and -' });
  return join(STATE_DIR, 'labs', lab);
}

export interface LabState {
  plan: Plan;
  /** the validated lab the plan was compiled from (runtime operations such as readdress edit it and recompile) */
  lab?: Lab;
  file?: string;
  updatedAt: string;
}

export function saveState(state: LabState): void {
  const dir = labDir(state.plan.lab);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `state.json.${process.pid}`);
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, join(dir, 'state.json'));
}

export function loadState(lab: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(join(labDir(lab), 'state.json'), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Remove the lab's state directory (the saved plan and anything an interrupted save left). The lock is elsewhere. */
export function removeState(lab: string): void {
  rmSync(labDir(lab), { recursive: true, force: true });
}

export function listStateLabs(): string[] {
  const dir = join(STATE_DIR, 'labs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'state.json')));
}

/** Run fn holding the lab's lock; waits up to waitMs for another run of the same lab, then refuses. */
export async function withLabLock<T>(lab: string, fn: () => Promise<T>, waitMs = 60_000): Promise<T> {
  labDir(lab); // validates the name
  // Locks live beside the state, not in it, so `down` can remove the lab's directory while it holds the lock.
  const locks = join(STATE_DIR, 'locks');
  mkdirSync(locks, { recursive: true });
  const lockPath = join(locks, `${lab}.lock`);
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(join(locks, lab), {
      lockfilePath: lockPath,
      // The holder refreshes the lock every second; a lock not refreshed for 5 s belongs to a dead run.
      stale: 5_000,
      update: 1_000,
      retries: { retries: Math.ceil(waitMs / 500), minTimeout: 500, maxTimeout: 500, factor: 1 },
      realpath: false,
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED')
      throw new LabctlError(
        'conflict',
        `another labctl run holds lab ${lab} (waited ${Math.round(waitMs / 1000)} s)`,
        {
          hint: `wait for it to finish, or if no labctl runs: rm -rf ${lockPath}`,
        },
      );
    throw err;
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
