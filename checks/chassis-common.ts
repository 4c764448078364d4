/**
 * Shared pieces of the multi-chassis checks (docs/multichassis.md "Doctor"): one result per chassis, subject
 * `chassis NAME`, with data.chassis naming it, and the set of checks a multi-chassis lab runs.
 */
import type { FixAction } from '../src/doctor/causes.js';
import type { PlanChassis } from '../src/plan/types.js';
import { type DoctorCheck, type DoctorContext, errorResult } from './runner.js';
import type { CheckResult } from './types.js';
import { type Outcome, toResult } from './wiring-common.js';

export const chassisSubject = (name: string) => `chassis ${name}`;

/** Run fn for every chassis of the lab, concurrently; a throw becomes that chassis's "error" result. */
export async function perChassis(
  check: DoctorCheck,
  ctx: DoctorContext,
  fn: (ch: PlanChassis) => Promise<Outcome & { followsFrom?: string }>,
): Promise<CheckResult[]> {
  return Promise.all(
    (ctx.plan.chassis ?? []).map(async (ch) => {
      const subject = chassisSubject(ch.name);
      try {
        const o = await fn(ch);
        const r = toResult(check, subject, { chassis: ch.name }, o);
        if (o.followsFrom) r.followsFrom = o.followsFrom;
        return r;
      } catch (err) {
        const r = errorResult(check, subject, err);
        r.data = { chassis: ch.name, ...(r.data ?? {}) };
        return r;
      }
    }),
  );
}

export function doctorFixCommand(ctx: DoctorContext): FixAction {
  return {
    kind: 'command',
    argv: ctx.labFile
      ? ['labctl', 'doctor', '-f', ctx.labFile, '--fix']
      : ['labctl', 'doctor', '--lab', ctx.plan.lab, '--fix'],
  };
}
