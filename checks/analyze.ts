/**
 * Root-cause analysis of a doctor run (pure; docs/doctor.md "Layers, root causes and what follows from them"):
 * - A failing result (status fail or error) follows from an earlier failing result (lower layer, or the same
 *   layer and an earlier check in the registry) when the earlier one explains it: same scope (host results cover
 *   everything; "web" covers "web.eth1"; a data-plane result covers the nodes its subject or data.nodes names) and
 *   either the same cause, a cause the cause table lists under `explains` (src/doctor/causes.ts), an unreadable
 *   fact the root's cause accounts for (data.unavailable), or — for the data-plane layer — any lower-layer failure
 *   in scope.
 * - A symptom is rewritten to status "skip" with followsFrom "<root id> <root subject>" (always the ultimate
 *   root), and loses its cause and fix (kept in data.symptom), so one cause is counted, and fixed, once.
 * - A check may set followsFrom itself; the analysis resolves it to the ultimate root, or drops it when the result
 *   it names did not fail.
 */
import { causeExplains } from '../src/doctor/causes.js';
import type { FactSource } from './facts.js';
import type { Cause, CheckResult, Status } from './types.js';
import { LAYERS } from './types.js';

export interface Summary {
  /** results in total */
  total: number;
  passed: number;
  /** root causes: results with status fail or error that follow from nothing */
  failed: number;
  warned: number;
  /** results that follow from a root cause (status skip, followsFrom set) */
  following: number;
  /** skipped for another reason (not applicable, not checked) */
  skipped: number;
}

const FAILING: Status[] = ['fail', 'error'];
export const isFailing = (r: CheckResult) => FAILING.includes(r.status);
export const resultKey = (r: Pick<CheckResult, 'id' | 'subject'>) => `${r.id} ${r.subject}`;

/** Which root causes account for a fact that could not be read. */
export const SOURCE_EXPLAINED_BY: Record<FactSource, Cause[]> = {
  host: [],
  docker: ['docker-unreachable'],
  ovs: ['ovsdb-down'],
  nb: ['ovn-nb-down'],
  sb: ['ovn-sb-down'],
  links: [],
  netns: ['container-not-running', 'docker-unreachable'],
  ethtool: ['container-not-running', 'link-missing', 'docker-unreachable'],
};
const NODE_SOURCES: FactSource[] = ['netns', 'ethtool'];

interface Scope {
  /** node names, or every node */
  nodes: Set<string> | 'all';
  /** "node.iface" when the result is about one interface */
  iface?: string;
}

export function scopeOf(r: CheckResult, nodeNames: Set<string>): Scope {
  if (r.layer === 'host') return { nodes: 'all' };
  const data = r.data ?? {};
  const iface =
    typeof data.iface === 'string' && typeof data.node === 'string'
      ? `${data.node}.${data.iface}`
      : undefined;
  if (Array.isArray(data.nodes) && data.nodes.length)
    return { nodes: new Set(data.nodes.map(String)), ...(iface ? { iface } : {}) };
  if (typeof data.node === 'string') return { nodes: new Set([data.node]), ...(iface ? { iface } : {}) };
  if (r.layer === 'wiring') {
    const [node, ifname] = r.subject.split('.');
    if (node && nodeNames.has(node))
      return { nodes: new Set([node]), ...(ifname ? { iface: `${node}.${ifname}` } : {}) };
  }
  const named = r.subject.split(/[^a-z0-9-]+/).filter((t) => nodeNames.has(t));
  return named.length ? { nodes: new Set(named) } : { nodes: 'all' };
}

function overlaps(a: Scope, b: Scope): boolean {
  if (a.nodes === 'all' || b.nodes === 'all') return true;
  const bn = b.nodes;
  if (![...a.nodes].some((n) => bn.has(n))) return false;
  return !(a.iface && b.iface && a.iface !== b.iface);
}

const causeOf = (r: CheckResult): Cause | undefined => r.cause;
const unavailable = (r: CheckResult) => r.data?.unavailable as FactSource | undefined;

/** Does failing result `root` (earlier) explain failing result `sym` (later)? */
export function explains(root: CheckResult, sym: CheckResult, rootScope: Scope, symScope: Scope): boolean {
  const src = unavailable(sym);
  if (src && unavailable(root) === src) {
    // the same unreadable source: one error, the rest follow (global sources, or the same node's netns)
    return !NODE_SOURCES.includes(src) || overlaps(rootScope, symScope);
  }
  if (!overlaps(rootScope, symScope)) return false;
  const rc = causeOf(root);
  if (sym.status === 'error' && src && rc && SOURCE_EXPLAINED_BY[src].includes(rc)) return true;
  if (sym.layer === 'dataplane' && root.layer !== 'dataplane') return true;
  const sc = causeOf(sym);
  if (!rc || !sc) return false;
  return causeExplains(rc, sc);
}

export interface AnalyzeOptions {
  /** registry position of a check id (results of lower positions may explain higher ones in the same layer) */
  checkOrder?: (id: string) => number;
  /** the plan's node names, to find the nodes a subject names */
  nodes?: string[];
}

/**
 * Decide root causes and symptoms. Pure (the input results are not changed; changed ones are new objects):
 * returns root causes first (in layer and registry order), then everything else in layer and registry order.
 */
export function analyze(input: CheckResult[], opts: AnalyzeOptions = {}): CheckResult[] {
  const checkOrder = opts.checkOrder ?? (() => 0);
  const nodeNames = new Set(opts.nodes ?? []);
  const rank = (r: CheckResult) => LAYERS.indexOf(r.layer) * 1e6 + Math.min(checkOrder(r.id), 999_999);
  // Array.prototype.sort is stable: equal ranks keep their input order. Results are never changed in place: one
  // that changes is replaced by a changed copy (so the input stays as it was, and 7000 passing results of a big
  // mesh are not copied for nothing).
  const results = [...input].sort((a, b) => rank(a) - rank(b));
  // Scopes and the key index are only consulted for failing results and followsFrom: computed on demand, so a
  // healthy 50-node mesh (7866 results) does not build a Set and a key string per result.
  const scopes: (Scope | undefined)[] = [];
  const scope = (i: number) => {
    scopes[i] ??= scopeOf(results[i]!, nodeNames);
    return scopes[i]!;
  };
  let byKeyIndex: Map<string, number> | undefined;
  const byKey = () => {
    if (!byKeyIndex) {
      byKeyIndex = new Map();
      for (const [i, r] of results.entries()) {
        const key = resultKey(r);
        if (!byKeyIndex.has(key)) byKeyIndex.set(key, i);
      }
    }
    return byKeyIndex;
  };
  /** index of the root a failing result follows from (itself when it is a root) */
  const rootOf = new Map<number, number>();
  const failingBefore: number[] = [];

  results.forEach((r, i) => {
    if (!isFailing(r) && !r.followsFrom) return;
    let root: number | undefined;
    if (r.followsFrom) {
      const t = byKey().get(r.followsFrom);
      if (t !== undefined && t !== i && rootOf.has(t)) root = rootOf.get(t);
    }
    if (root === undefined && isFailing(r)) {
      for (const j of failingBefore) {
        // only lower layers or earlier checks explain; an unreadable source is one cause even within one check
        const sameSource = unavailable(r) !== undefined && unavailable(results[j]!) === unavailable(r);
        if (rank(results[j]!) >= rank(r) && !sameSource) continue;
        if (explains(results[j]!, r, scope(j), scope(i))) {
          root = rootOf.get(j)!;
          break;
        }
      }
    }
    if (root === undefined) {
      // a root follows from nothing; a passing result that named one that did not fail drops the name
      if (r.followsFrom) {
        const { followsFrom: _, ...rest } = r;
        results[i] = rest;
      }
      if (isFailing(r)) {
        rootOf.set(i, i);
        failingBefore.push(i);
      }
      return;
    }
    const rootResult = results[root]!;
    const symptom: Record<string, unknown> = { status: r.status };
    if (r.cause) symptom.cause = r.cause;
    if (r.fix) symptom.fix = r.fix;
    results[i] = {
      ...r,
      status: 'skip',
      followsFrom: resultKey(rootResult),
      data: { ...(r.data ?? {}), symptom },
    };
    delete results[i]!.cause;
    delete results[i]!.fix;
    rootOf.set(i, root);
    failingBefore.push(i);
  });

  const isRoot = (i: number) => rootOf.get(i) === i;
  return [...results.filter((_, i) => isRoot(i)), ...results.filter((_, i) => !isRoot(i))];
}

export function summarize(results: CheckResult[]): Summary {
  const s: Summary = { total: results.length, passed: 0, failed: 0, warned: 0, following: 0, skipped: 0 };
  for (const r of results) {
    if (r.status === 'pass') s.passed++;
    else if (isFailing(r)) s.failed++;
    else if (r.status === 'warn') s.warned++;
    else if (r.followsFrom) s.following++;
    else s.skipped++;
  }
  return s;
}

/** Warnings do not fail the run (exit 0); every root failure or error does (exit 1). */
export const isOk = (s: Summary) => s.failed === 0;

/** The root causes of a run, each with the results that follow from it. */
export function groupByRoot(results: CheckResult[]): { root: CheckResult; following: CheckResult[] }[] {
  const roots = results.filter(isFailing);
  return roots.map((root) => ({ root, following: results.filter((r) => r.followsFrom === resultKey(root)) }));
}
