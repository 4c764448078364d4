/**
 * The doctor's runner: runs the selected checks layer by layer (host → wiring → dataplane), every check of a
 * layer concurrently, each bounded in time, and then hands every result to the root-cause analysis (analyze.ts).
 */

import { analyze, isOk, type Summary, summarize } from './analyze.js';
import type { Facts } from './facts.js';
import { FactError } from './facts.js';
import type { Check, CheckContext, CheckResult, Layer } from './types.js';
import { LAYERS } from './types.js';

export interface DoctorContext extends CheckContext {
  /** memoized reads shared by every check of this run (checks/facts.ts) */
  facts: Facts;
  /** the lab file the plan came from, for fix commands (`labctl up -f FILE`) */
  labFile?: string;
  /** --fix only: converge the whole lab to its plan (applyPlan under the lab lock), once per fix pass */
  converge?: () => Promise<string[]>;
  /** --fix only: start host daemons / repair the host with src/host's start logic (once per fix pass and options) */
  startHost?: (opts?: { datapath?: 'auto' | 'system' | 'netdev' }) => Promise<string[]>;
}

export type DoctorCheck = Check<DoctorContext>;

export interface RunOptions {
  /** only these layers (default: all) */
  layers?: Layer[];
  /** only these check ids (default: all of the selected layers) */
  checks?: string[];
  /** bound on one check's run (default 120 s): past it the check gives one "error" result */
  checkTimeoutMs?: number;
  onCheckStart?: (check: DoctorCheck) => void;
  onCheckDone?: (check: DoctorCheck, results: CheckResult[], ms: number) => void;
  onLayerStart?: (layer: Layer, checks: DoctorCheck[]) => void;
}

export interface DoctorRun {
  lab: string;
  ok: boolean;
  /** every result, analysed: root causes first, then the rest in layer and registry order */
  results: CheckResult[];
  summary: Summary;
  /** the checks that ran, in run order */
  checks: DoctorCheck[];
  durationMs: number;
}

/** Pick the checks to run; unknown ids or layers are a usage error (thrown as Error with the known ones). */
export function selectChecks(
  all: DoctorCheck[],
  opts: Pick<RunOptions, 'layers' | 'checks'> = {},
): DoctorCheck[] {
  const ids = new Set(all.map((c) => c.id));
  for (const l of opts.layers ?? [])
    if (!LAYERS.includes(l)) throw new Error(`unknown layer "${l}" (layers: ${LAYERS.join(', ')})`);
  for (const id of opts.checks ?? [])
    if (!ids.has(id)) throw new Error(`unknown check "${id}" (checks: ${[...ids].join(', ')})`);
  return all
    .filter((c) => !opts.layers?.length || opts.layers.includes(c.layer))
    .filter((c) => !opts.checks?.length || opts.checks.includes(c.id))
    .sort((a, b) => LAYERS.indexOf(a.layer) - LAYERS.indexOf(b.layer));
}

/** An "error" result for a check that threw (or a fact it needed could not be read). */
export function errorResult(
  check: Pick<DoctorCheck, 'id' | 'layer'>,
  subject: string,
  err: unknown,
): CheckResult {
  const r: CheckResult = {
    id: check.id,
    layer: check.layer,
    subject,
    status: 'error',
    evidence: `could not run: ${err instanceof Error ? err.message : String(err)}`,
  };
  if (err instanceof FactError)
    r.data = { unavailable: err.source, ...(err.node ? { nodes: [err.node] } : {}) };
  return r;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)),
      ms,
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function runOne(check: DoctorCheck, ctx: DoctorContext, opts: RunOptions): Promise<CheckResult[]> {
  opts.onCheckStart?.(check);
  const t0 = performance.now();
  let results: CheckResult[];
  try {
    results = await withTimeout(
      check.run(ctx),
      opts.checkTimeoutMs ?? check.timeoutMs?.(ctx) ?? 120_000,
      check.id,
    );
    // A check owns its id and layer: fill them in, so a sloppy result can't land in another check's row.
    // (copied only when it differs: a 50-node mesh has 7350 results, all already right)
    results = results.map((r) =>
      r.id === check.id && r.layer === check.layer ? r : { ...r, id: check.id, layer: check.layer },
    );
  } catch (err) {
    results = [errorResult(check, ctx.plan.lab, err)];
  }
  opts.onCheckDone?.(check, results, performance.now() - t0);
  return results;
}

/** Run the selected checks, lowest layer first, the checks of one layer concurrently; then analyse. */
export async function runChecks(
  ctx: DoctorContext,
  all: DoctorCheck[],
  opts: RunOptions = {},
): Promise<DoctorRun> {
  const t0 = performance.now();
  const checks = selectChecks(all, opts);
  const order = new Map(checks.map((c, i) => [c.id, i]));
  const raw: CheckResult[] = [];
  for (const layer of LAYERS) {
    const mine = checks.filter((c) => c.layer === layer);
    if (!mine.length) continue;
    opts.onLayerStart?.(layer, mine);
    const perCheck = await Promise.all(mine.map((c) => runOne(c, ctx, opts)));
    raw.push(...perCheck.flat());
  }
  const results = analyze(raw, {
    checkOrder: (id) => order.get(id) ?? Number.MAX_SAFE_INTEGER,
    nodes: ctx.plan.nodes.map((n) => n.name),
  });
  const summary = summarize(results);
  return {
    lab: ctx.plan.lab,
    ok: isOk(summary),
    results,
    summary,
    checks,
    durationMs: performance.now() - t0,
  };
}
