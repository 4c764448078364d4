/**
 * Change one interface's link impairment while the lab runs (docs/impairments.md). Like readdress: the saved lab
 * gets the new impairment, is recompiled (the running plan's allocations as prior, so nothing is renumbered) and
 * the lab is converged to it — which touches only that interface's relay: new parameters are written and the relay
 * re-reads them (SIGHUP); the first impairment of a plain interface re-plumbs only its host side; clearing takes
 * the relay out again. The container and its interface (ifindex, MAC, address) stay. The next `labctl up -f FILE`
 * restores the file's values. Experiments call impair() directly.
 */
import { priorFromPlan } from '../apply/running-plan.js';
import { saveState, withLabLock } from '../apply/state.js';
import { applyPlan } from '../apply/up.js';
import { LabctlError, usageError } from '../errors.js';
import {
  describeImpair,
  type Impair,
  type ImpairSpec,
  impairValues,
  parseImpair,
  sameImpair,
} from '../lab/impair.js';
import { compilePlan } from '../plan/compile.js';
import type { LabRuntime } from './context.js';
import { findInterface } from './context.js';

export interface ImpairResult {
  node: string;
  iface: string;
  /** the impairment before and after (absent: none) */
  from?: Impair;
  to?: Impair;
  /** the changes made, as `up` prints them */
  changes: string[];
}

/**
 * Set (`spec`: it replaces the interface's whole impairment, like `tc qdisc replace`) or clear (`'clear'`) the
 * impairment of NODE.IFACE. A spec is a text form (the CLI's) or an already parsed Impair (a scenario step, which
 * the lab file's validation parsed); a text that does not parse is a usage error naming the value and its form.
 */
export async function impair(
  rt: LabRuntime,
  node: string,
  iface: string,
  spec: ImpairSpec | Impair | 'clear',
): Promise<ImpairResult> {
  const { state } = rt;
  if (!state.lab)
    throw new LabctlError('usage', `the saved state of lab ${state.plan.lab} predates impair`, {
      hint: 'labctl up -f lab.yml (once), then impair',
    });
  const { iface: pi } = findInterface(state, node, iface);
  let to: Impair | undefined;
  if (spec !== 'clear' && 'delayMs' in spec) to = impairValues(spec);
  else if (spec !== 'clear') {
    const r = parseImpair(spec);
    if (!r.impair) {
      const first = r.issues[0]!;
      throw usageError(
        `${node}.${iface}: ${first.message}`,
        first.hint ?? `labctl impair ${node} ${iface} --delay 50ms`,
      );
    }
    to = r.impair;
  }
  const from = pi.impair ? impairValues(pi.impair) : undefined;
  const lab = structuredClone(state.lab);
  const li = lab.nodes.find((x) => x.name === node)!.interfaces.find((i) => i.name === iface)!;
  if (to) li.impair = to;
  else delete li.impair;
  const plan = compilePlan(lab, { prior: priorFromPlan(state.plan) });
  return withLabLock(plan.lab, async () => {
    saveState({ ...state, lab, plan, updatedAt: new Date().toISOString() });
    // Converge even when the saved value is unchanged: a relay that died or was edited by hand is put right.
    const r = await applyPlan(plan, rt.host, rt.ovn, { readyTimeoutMs: 60_000 });
    const out: ImpairResult = { node, iface, changes: r.changes };
    if (from) out.from = from;
    if (to) out.to = to;
    return out;
  });
}

/** "a.eth1: delay 100ms, egress → delay 20ms, egress" */
export function describeImpairResult(r: ImpairResult): string {
  const at = `${r.node}.${r.iface}`;
  if (sameImpair(r.from, r.to)) return `${at}: impairment ${describeImpair(r.to)} (unchanged)`;
  return `${at}: ${describeImpair(r.from)} → ${describeImpair(r.to)}`;
}
