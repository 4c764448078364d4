/**
 * Where a labctl process spent its time, from the preload's trace (bench/preload.ts): every spawned program and
 * every Docker API request with start and end. Two views:
 *  - categories: for each kind of call, how many, their summed latency ("busy") and the wall time during which at
 *    least one was in flight ("wall"; busy > wall means they overlapped);
 *  - phases: milestones on the timeline (process start → first call → … → exit).
 */
import type { ProcReport, TraceEvent } from '../preload.js';

export interface CategoryStat {
  category: string;
  count: number;
  busyMs: number;
  wallMs: number;
  meanMs: number;
  firstMs: number;
  lastMs: number;
}

export interface Phase {
  phase: string;
  fromMs: number;
  toMs: number;
  ms: number;
}

export interface TraceSummary {
  exitMs: number;
  /** the raw events, kept only for the representative (median) run of the largest size */
  events?: TraceEvent[];
  maxRssKb: number;
  cpuMs: number;
  categories: CategoryStat[];
  phases: Phase[];
}

export function categorize(e: TraceEvent): string {
  if (e.k === 'http') {
    const [method = '', rawPath = ''] = e.what.split(' ');
    const path = rawPath.replace(/^\/v[\d.]+/, '').split('?')[0]!;
    if (method === 'POST' && path === '/containers/create') return 'docker create';
    if (method === 'POST' && /^\/containers\/[^/]+\/start$/.test(path)) return 'docker start';
    if (method === 'GET' && /^\/containers\/[^/]+\/json$/.test(path)) return 'docker inspect';
    if (method === 'GET' && path === '/containers/json') return 'docker list';
    if (method === 'DELETE' && /^\/containers\/[^/]+$/.test(path)) return 'docker remove';
    if (/^\/images\//.test(path)) return 'docker image';
    return `docker ${method} ${path.replace(/\/[0-9a-f]{64}/g, '/:id')}`;
  }
  const argv = e.what.split(' ');
  const file = (argv[0] ?? '').split('/').pop()!;
  const rest = argv.slice(1);
  if (file === 'ovs-vsctl' || file === 'ovn-nbctl' || file === 'ovn-sbctl') {
    const verbs = rest.filter((a) => !a.startsWith('-'));
    if (rest.includes('add-port')) return `${file} add-port txn`;
    if (rest.includes('del-port')) return `${file} del-port txn`;
    if (verbs[0] === 'find' || verbs[0] === 'list' || verbs[0] === 'get' || verbs[0] === 'show')
      return `${file} read`;
    return `${file} ${verbs[0] ?? ''} txn`.replace('  ', ' ');
  }
  if (file === 'nsenter') {
    const inner = rest.slice(rest.indexOf('-n') + 1);
    if (inner[0] === 'ip') return inner.includes('-j') ? 'nsenter ip read' : 'nsenter ip -batch';
    return `nsenter ${inner[0] ?? ''}`;
  }
  if (file === 'ip') {
    if (rest.includes('-batch')) return rest.includes('-j') ? 'ip read' : 'ip -batch (host)';
    if (rest[0] === '-j' || rest.includes('show')) return 'ip read';
    if (rest.includes('del')) return 'ip link del';
    return 'ip';
  }
  if (file === 'ethtool') return rest[0] === '-K' ? 'ethtool -K (host)' : 'ethtool read';
  return file;
}

function union(intervals: [number, number][]): number {
  const s = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let cur: [number, number] | undefined;
  for (const [a, b] of s) {
    if (!cur || a > cur[1]) {
      if (cur) total += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  if (cur) total += cur[1] - cur[0];
  return total;
}

export function categoryStats(events: TraceEvent[]): CategoryStat[] {
  const by = new Map<string, TraceEvent[]>();
  for (const e of events) {
    const c = categorize(e);
    by.set(c, [...(by.get(c) ?? []), e]);
  }
  return [...by.entries()]
    .map(([category, es]) => {
      const busy = es.reduce((s, e) => s + (e.t1 - e.t0), 0);
      return {
        category,
        count: es.length,
        busyMs: busy,
        wallMs: union(es.map((e) => [e.t0, e.t1])),
        meanMs: busy / es.length,
        firstMs: Math.min(...es.map((e) => e.t0)),
        lastMs: Math.max(...es.map((e) => e.t1)),
      };
    })
    .sort((a, b) => b.wallMs - a.wallMs);
}

function phasesFrom(marks: [string, number | undefined][], exitMs: number): Phase[] {
  const out: Phase[] = [];
  let prev = 0;
  let prevName = 'process start';
  for (const [name, at] of [...marks, ['exit', exitMs] as [string, number]]) {
    if (at === undefined || !Number.isFinite(at) || at < prev) continue;
    out.push({ phase: `${prevName} → ${name}`, fromMs: prev, toMs: at, ms: at - prev });
    prev = at;
    prevName = name;
  }
  return out;
}

const firstStart = (es: TraceEvent[], pred: (c: string, e: TraceEvent) => boolean) => {
  const m = es.filter((e) => pred(categorize(e), e)).map((e) => e.t0);
  return m.length ? Math.min(...m) : undefined;
};
const lastEnd = (es: TraceEvent[], pred: (c: string, e: TraceEvent) => boolean) => {
  const m = es.filter((e) => pred(categorize(e), e)).map((e) => e.t1);
  return m.length ? Math.max(...m) : undefined;
};

/**
 * Phases of `labctl up` (src/cli/up.ts → applyPlan): boot+load+compile until the first call; the host check
 * (assertHostReady); reading current state (first `docker list` with the lab label); containers being created and
 * started (until the last `docker start` returns); the tail of link plumbing (until the last `nsenter ip -batch`);
 * the last OVS add-port transaction (ports are batched as nodes finish); the wait for ovn-installed.
 */
export function upPhases(r: ProcReport): Phase[] {
  const es = r.events;
  const first = es.length ? Math.min(...es.map((e) => e.t0)) : undefined;
  const applyStart = firstStart(es, (c, e) => c === 'docker list' && e.what.includes('labctl.lab'));
  const firstCreate = firstStart(es, (c) => c === 'docker create');
  const lastStart = lastEnd(es, (c) => c === 'docker start');
  const lastNode = lastEnd(es, (c) => c === 'nsenter ip -batch');
  const ovsTxnEnd = lastEnd(es, (c) => c === 'ovs-vsctl add-port txn');
  const lastEvent = es.length ? Math.max(...es.map((e) => e.t1)) : undefined;
  return phasesFrom(
    [
      ['first call (host check starts)', first],
      ['state read starts', applyStart],
      ['first container create', firstCreate],
      ['last container started', lastStart],
      ['last node plumbed', lastNode],
      ['last OVS add-port txn done', ovsTxnEnd],
      ['all ports ovn-installed', lastEvent],
    ],
    r.exitAt,
  );
}

/** Phases of `labctl down` (destroyLab): boot; the reads; removals (Docker, OVS, NB in parallel); veth sweep. */
export function downPhases(r: ProcReport): Phase[] {
  const es = r.events;
  const first = es.length ? Math.min(...es.map((e) => e.t0)) : undefined;
  const firstRemove = firstStart(es, (c) => c === 'docker remove' || c.endsWith('del-port txn'));
  const lastRemove = lastEnd(
    es,
    (c) =>
      c === 'docker remove' || c.endsWith('del-port txn') || (c.startsWith('ovn-nbctl') && c.endsWith('txn')),
  );
  const lastEvent = es.length ? Math.max(...es.map((e) => e.t1)) : undefined;
  return phasesFrom(
    [
      ['first call (state read)', first],
      ['removals start', firstRemove],
      ['removals done', lastRemove],
      ['veth sweep done', lastEvent],
    ],
    r.exitAt,
  );
}

export function summarizeTrace(r: ProcReport, kind: 'up' | 'down' | 'other'): TraceSummary {
  return {
    events: r.events,
    exitMs: r.exitAt,
    maxRssKb: r.maxRssKb,
    cpuMs: r.userCpuMs + r.systemCpuMs,
    categories: categoryStats(r.events),
    phases: kind === 'up' ? upPhases(r) : kind === 'down' ? downPhases(r) : [],
  };
}
