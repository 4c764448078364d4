/**
 * The plan a lab file means for the lab as it runs here: compiled with the addresses the last `up` allocated as its
 * prior (sticky addresses), read from the saved state, so `plan` and `doctor` agree with what `up` does without
 * reading the daemons.
 */
import type { Lab } from '../lab/types.js';
import { compilePlan } from '../plan/compile.js';
import type { Plan, PriorAddresses } from '../plan/types.js';
import { loadState } from './state.js';

export function compileRunningPlan(lab: Lab): Plan {
  const state = loadState(lab.name);
  return compilePlan(lab, state ? { prior: priorFromPlan(state.plan) } : {});
}

/** The addresses a plan allocated, as a prior for compilePlan. */
export function priorFromPlan(plan: Plan): PriorAddresses {
  return new Map(
    plan.nodes.flatMap((n) =>
      n.interfaces.flatMap((i) =>
        i.allocated || i.allocated6
          ? [
              [
                `${n.name}.${i.name}`,
                {
                  network: i.network,
                  ...(i.allocated ? { ip: i.allocated } : {}),
                  ...(i.allocated6 ? { ip6: i.allocated6 } : {}),
                },
              ] as const,
            ]
          : [],
      ),
    ),
  );
}
