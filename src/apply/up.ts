/**
 * `up` in three steps: observe what runs (observe.ts) → diff it against the plan, pure (diff.ts) → execute the change
 * set (execute.ts). Addresses the running lab allocated are sticky: the plan is compiled with them as its prior.
 */
import { dirname } from 'node:path';
import type { HostDriver } from '../drivers/host.js';
import type { OvnDriver } from '../drivers/ovn.js';
import { LabctlError } from '../errors.js';
import type { Lab } from '../lab/types.js';
import { compilePlan, labHosts } from '../plan/compile.js';
import type { Plan } from '../plan/types.js';
import type { ChangeSet } from './changes.js';
import { diffLab } from './diff.js';
import { type ApplyResult, type ExecuteOptions, executeChanges } from './execute.js';
import { type Drivers, type Observed, observeLab, priorFromNb } from './observe.js';

export { type ApplyResult, DEFAULT_UP_CONCURRENCY } from './execute.js';
export type ApplyOptions = ExecuteOptions;

/** The drivers of a lab on this host alone: every plan host must be the local one. */
export function localDrivers(host: HostDriver, ovn: OvnDriver): Drivers {
  return {
    central: ovn,
    host(name) {
      if (name !== host.name) throw new Error(`no driver for host ${name} (only ${host.name} is known)`);
      return host;
    },
  };
}

export interface UpPlan {
  plan: Plan;
  observed: Observed;
  changes: ChangeSet;
}

/** Observe the running lab, compile the lab against it (sticky addresses) and diff: what `up` would do. */
export async function planUp(lab: Lab, drivers: Drivers): Promise<UpPlan> {
  const observed = await observeLab(lab.name, labHosts(lab), drivers, {
    chassis: lab.routers.some((r) => r.chassis),
  }).catch((err: unknown) => {
    if (err instanceof LabctlError) throw err;
    throw new LabctlError(
      'environment',
      `reading lab ${lab.name} from the host failed: ${(err as Error).message}`,
      {
        hint: 'labctl host check',
        cause: err,
      },
    );
  });
  const plan = compilePlan(lab, { prior: priorFromNb(observed.nb) });
  return { plan, observed, changes: diffLab(plan, observed) };
}

/** Converge the hosts to a given plan (readdress, doctor --fix): observe, diff, execute. */
export async function applyPlan(
  plan: Plan,
  host: HostDriver,
  ovn: OvnDriver,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  return applyPlanWith(plan, localDrivers(host, ovn), opts);
}

/** applyPlan through given drivers (a multi-chassis lab's: each chassis's and its central). */
export async function applyPlanWith(
  plan: Plan,
  drivers: Drivers,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const observed = await observeLab(
    plan.lab,
    plan.hosts.map((h) => h.name),
    drivers,
    { chassis: plan.routers.some((r) => r.chassis) },
  );
  return executeChanges(plan, diffLab(plan, observed), observed, drivers, opts);
}

export function labBaseDir(file: string | undefined): string | undefined {
  return file ? dirname(file) : undefined;
}
