/**
 * Shared pieces of the wiring checks: iterate the plan's nodes and interfaces, build results with the
 * machine-readable scope (data.node / data.iface) the runner uses to relate symptoms to root causes, and the
 * fixes that recur, as data (src/doctor/causes.ts FixAction: converge with `labctl up`, commands inside a
 * container's netns); the printed fix line is derived from them.
 */
import { type FixAction, fixText } from '../src/doctor/causes.js';
import type { PlanInterface, PlanNode } from '../src/plan/types.js';
import { type DoctorCheck, type DoctorContext, errorResult } from './runner.js';
import type { Cause, CheckResult, Status } from './types.js';

export interface IfaceRef {
  node: PlanNode;
  iface: PlanInterface;
  subject: string;
}

export const ifaceSubject = (node: string, iface: string) => `${node}.${iface}`;

/** data every per-interface result carries (the runner's scope, and what fix() needs) */
export function ifaceData(
  node: PlanNode,
  iface: PlanInterface,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { node: node.name, iface: iface.name, hostVeth: iface.hostVeth, lsp: iface.lsp, ...extra };
}

export interface Outcome {
  status: Status;
  cause?: Cause;
  evidence: string;
  /** the fix as data: one action, or several to run in order; printed with fixText, joined by " && " */
  fix?: FixAction | FixAction[];
  data?: Record<string, unknown>;
}

export const pass = (evidence: string, data?: Record<string, unknown>): Outcome => ({
  status: 'pass',
  evidence,
  ...(data ? { data } : {}),
});
export const fail = (
  cause: Cause,
  evidence: string,
  fix?: FixAction | FixAction[],
  data?: Record<string, unknown>,
): Outcome => ({
  status: 'fail',
  cause,
  evidence,
  ...(fix ? { fix } : {}),
  ...(data ? { data } : {}),
});

/** A check's result from an outcome: the fix printed from its actions, data = base + the outcome's. */
export function toResult(
  check: DoctorCheck,
  subject: string,
  base: Record<string, unknown>,
  o: Outcome,
): CheckResult {
  const r: CheckResult = {
    id: check.id,
    layer: check.layer,
    subject,
    status: o.status,
    evidence: o.evidence,
  };
  if (o.cause) r.cause = o.cause;
  const fixes = o.fix === undefined ? [] : Array.isArray(o.fix) ? o.fix : [o.fix];
  if (fixes.length) r.fix = fixes.map(fixText).join(' && ');
  r.data = { ...base, ...(o.data ?? {}) };
  return r;
}

/** Run fn for every planned interface, concurrently; a throw becomes that interface's "error" result. */
export async function perIface(
  check: DoctorCheck,
  ctx: DoctorContext,
  fn: (ref: IfaceRef) => Promise<Outcome>,
): Promise<CheckResult[]> {
  const refs = ctx.plan.nodes.flatMap((node) =>
    node.interfaces.map((iface) => ({ node, iface, subject: ifaceSubject(node.name, iface.name) })),
  );
  return Promise.all(
    refs.map(async (ref) => {
      const base = ifaceData(ref.node, ref.iface);
      try {
        return toResult(check, ref.subject, base, await fn(ref));
      } catch (err) {
        const r = errorResult(check, ref.subject, err);
        r.data = { ...base, ...(r.data ?? {}) };
        return r;
      }
    }),
  );
}

/** Run fn for every planned node, concurrently. */
export async function perNode(
  check: DoctorCheck,
  ctx: DoctorContext,
  fn: (node: PlanNode) => Promise<Outcome>,
): Promise<CheckResult[]> {
  return Promise.all(
    ctx.plan.nodes.map(async (node) => {
      const base = { node: node.name };
      try {
        return toResult(check, node.name, base, await fn(node));
      } catch (err) {
        const r = errorResult(check, node.name, err);
        r.data = { ...base, ...(r.data ?? {}) };
        return r;
      }
    }),
  );
}

/** Converge the lab to its plan (re-plumbs links, starts containers, readdresses): `labctl up -f FILE`. */
export function upCommand(ctx: DoctorContext): FixAction {
  return { kind: 'converge', file: ctx.labFile ?? 'lab.yml' };
}

/** A command, as an argument vector. */
export const command = (...argv: string[]): FixAction => ({ kind: 'command', argv });

/** A command run inside a container's network namespace. */
export function nsCommand(pid: number | undefined, args: string[]): FixAction {
  return command('nsenter', '-t', pid === undefined ? '<PID>' : String(pid), '-n', ...args);
}

/** The planned interface a result is about (from its data), for fix(). */
export function refOf(ctx: DoctorContext, result: CheckResult): IfaceRef | undefined {
  const node = ctx.plan.nodes.find((n) => n.name === result.data?.node);
  const iface = node?.interfaces.find((i) => i.name === result.data?.iface);
  return node && iface ? { node, iface, subject: ifaceSubject(node.name, iface.name) } : undefined;
}

/** --fix through applyPlan: converge the whole lab once per fix pass. */
export async function fixByConverge(ctx: DoctorContext, result: CheckResult): Promise<string | undefined> {
  if (!ctx.converge || result.status !== 'fail') return undefined;
  const changes = await ctx.converge();
  return changes.length
    ? `converged lab ${ctx.plan.lab}: ${changes.join('; ')}`
    : `converged lab ${ctx.plan.lab}: no changes needed`;
}
