/**
 * From a data-plane run to the results of the dataplane.* checks: every record's evidence gathered
 * (evidence.ts), its verdict decided (verdict.ts, pure), and the run-wide findings added (a neighbour table too
 * small for the run, a broker that could not start). Within one check a failure with the same cause and fix as an
 * earlier one follows from it.
 */
import pLimit from 'p-limit';
import type { CheckResult } from '../doctor/types.js';
import { decideEnv, Evidence, gatherEvidence } from './evidence.js';
import type { DataplaneContext, DataplaneRun, ProbeRecord } from './run-types.js';
import type { DataplaneCheckId } from './targets.js';
import { decideVerdict, type Verdict } from './verdict.js';

const CHECK_IDS: DataplaneCheckId[] = [
  'dataplane.icmp',
  'dataplane.udp',
  'dataplane.tcp',
  'dataplane.service',
];

/** The host's neighbour table could not hold this run's pairs: one root cause, the sysctl that fixes it. */
function neighResult(run: DataplaneRun): CheckResult | undefined {
  const s = run.neighShort;
  if (!s) return undefined;
  const need = s.table.entries + 2 * s.pairs;
  // room for the lab's mesh, the entries already there and a quarter more, in whole thousands
  const thresh3 = Math.max(4096, Math.ceil((need * 1.25) / 1024) * 1024);
  const thresh2 = Math.max(s.table.gcThresh2, Math.floor(thresh3 / 2));
  return {
    id: 'dataplane.icmp',
    layer: 'dataplane',
    subject: 'host neighbour table',
    status: 'fail',
    cause: 'neigh-table-full',
    evidence: `the host's neighbour (ARP) table, shared by every network namespace, holds at most ${s.table.gcThresh3} entries (net.ipv4.neigh.default.gc_thresh3) and has ${s.table.entries} now; this lab's ${s.pairs} probed pairs need ${2 * s.pairs} (one entry in each node of a pair), and an entry stays for up to ${Math.round((1.5 * (s.table.reachableMs ?? 30_000)) / 1000)} s: the probes were paced to the room left${s.unprobed ? `, and ${s.unprobed} probes did not fit the time limit (skipped)` : ''}. Traffic of every node with many peers at once is dropped the same way`,
    fix: `sysctl -w net.ipv4.neigh.default.gc_thresh2=${thresh2} net.ipv4.neigh.default.gc_thresh3=${thresh3}`,
    data: {
      nodes: [],
      gcThresh3: s.table.gcThresh3,
      gcThresh2: s.table.gcThresh2,
      entries: s.table.entries,
      pairs: s.pairs,
      unprobed: s.unprobed ?? 0,
      sysctl: { 'net.ipv4.neigh.default.gc_thresh2': thresh2, 'net.ipv4.neigh.default.gc_thresh3': thresh3 },
    },
  };
}

/**
 * The same string, flattened: a template literal builds a tree of concatenation nodes (~250 bytes for a typical
 * evidence line), and V8 flattens it in place on first character access; the GC then drops the tree. Evidence is
 * kept for every one of the 7350 results of a 50-node mesh until the report is written.
 */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

function dataOf(run: DataplaneRun, r: ProbeRecord): Record<string, unknown> {
  const t = r.target;
  const res = r.result;
  return {
    nodes: [t.from, ...(t.toNode && t.toNode !== t.from ? [t.toNode] : [])],
    from: t.from,
    to: t.to,
    ip: t.dstIp,
    proto: t.proto,
    ...(r.port !== undefined ? { port: r.port } : {}),
    kind: t.kind,
    expect: t.expect,
    answer: r.answer,
    ...(t.expectIndex !== undefined ? { expectIndex: t.expectIndex } : {}),
    outcome: res?.outcome ?? (r.notRun ? 'not-run' : 'unknown'),
    ...(res ? { ms: res.ms } : {}),
    attempts: r.attempts,
    ...(r.first ? { first: { outcome: r.first.outcome, ms: r.first.ms } } : {}),
    ...(res?.code ? { code: res.code } : {}),
    ...(r.big ? { big: { outcome: r.big.outcome, ms: r.big.ms } } : {}),
    ...(r.icmp ? { icmp: { outcome: r.icmp.outcome, ms: r.icmp.ms } } : {}),
    ...(t.proto === 'icmp' && (t.family === 6 ? run.icmp6 : run.icmp)?.get(t.from)
      ? { icmpVia: (t.family === 6 ? run.icmp6 : run.icmp)!.get(t.from) }
      : {}),
    ...(t.family === 6 ? { family: 6 } : {}),
  };
}

/**
 * A broker that could not start: its nodes were probed by one agent each (slower), or not at all. Not silent: a
 * warning that says why (the launcher's or the agent's own words); the nodes' probes carry their own results.
 */
function brokerResult(run: DataplaneRun): CheckResult | undefined {
  const f = run.brokerFailures;
  if (!f?.length) return undefined;
  const nodes = [...new Set(f.flatMap((x) => x.nodes))];
  const instead = f.every((x) => x.fallback === 'local')
    ? 'they were probed by one agent each instead'
    : 'their probes ran with the agents and sockets they already had';
  return {
    id: 'dataplane.icmp',
    layer: 'dataplane',
    subject: 'probe agents',
    status: 'warn',
    evidence: `the probe broker could not start for ${nodes.length} node${nodes.length === 1 ? '' : 's'} (${f.map((x) => x.error).join('; ')}): ${instead}`,
    fix: 'perl and nsenter must run on the host (labctl host check); LABCTL_DEBUG=1 labctl doctor shows the agents',
    data: { nodes, brokerFailures: f },
  };
}

export async function buildResults(
  ctx: DataplaneContext,
  run: DataplaneRun,
): Promise<Map<DataplaneCheckId, CheckResult[]>> {
  // Gather first (at most 6 records' reads at once), then decide (pure, verdict.ts).
  const ev = new Evidence(ctx, run);
  const env = decideEnv(ctx, run);
  const limit = pLimit(6);
  const verdicts = await Promise.all(
    run.records.map((r) =>
      limit(async (): Promise<Verdict> => decideVerdict(env, r, await gatherEvidence(ev, env, r))).catch(
        (e: Error): Verdict => ({ status: 'error', evidence: `could not explain: ${e.message}` }),
      ),
    ),
  );
  const out = new Map<DataplaneCheckId, CheckResult[]>(CHECK_IDS.map((id) => [id, []]));
  run.records.forEach((r, i) => {
    const v = verdicts[i]!;
    const res: CheckResult = {
      id: r.target.check,
      layer: 'dataplane',
      subject: r.subject,
      status: v.status,
      evidence: flat(v.evidence),
      data: v.data ? Object.assign(dataOf(run, r), v.data) : dataOf(run, r),
    };
    if (v.cause) res.cause = v.cause;
    if (v.fix) res.fix = v.fix;
    out.get(r.target.check)!.push(res);
  });
  const nr = neighResult(run);
  if (nr) out.get('dataplane.icmp')!.unshift(nr);
  const bf = brokerResult(run);
  if (bf) out.get('dataplane.icmp')!.unshift(bf);
  // A check with nothing to probe has no results (no placeholder "skipped" result): the report shows it with no
  // subjects. With the mesh as the baseline that is only a lab where no two nodes share a routed domain, or, for
  // dataplane.service, one where no node declares a listen port an expect entry does not already cover.
  // One cause, one root: within a check, a failure with the same cause and fix as an earlier one follows from it.
  for (const list of out.values()) {
    const firstOf = new Map<string, CheckResult>();
    for (const res of list) {
      if (res.status !== 'fail' || !res.cause || !res.fix) continue;
      const key = `${res.cause}\0${res.fix}`;
      const root = firstOf.get(key);
      if (root) res.followsFrom = `${root.id} ${root.subject}`;
      else firstOf.set(key, res);
    }
  }
  return out;
}
