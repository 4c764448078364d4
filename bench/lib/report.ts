/**
 * The bench's verdict: per-scenario medians, the ratios the targets are stated in, PASS/MISS per target, and the
 * phase breakdown of labctl up/down at the largest single-switch size. Targets are ratios measured in one run on
 * the same machine (absolute times on a shared 2-core machine are noise; ratios are what carry over).
 */
import { median } from './stats.js';
import type { Phase, TraceSummary } from './trace.js';

export interface DoctorRun {
  exitCode: number | null;
  ok?: boolean;
  results: number;
  statuses: Record<string, number>;
  /** the injected fault (doctor-only labs of 100+ nodes, first run): was it found, with its cause, on its node? */
  fault?: { node: string; found: boolean; roots: string[]; ms: number; exitCode: number | null };
}

export interface ScenarioRuns {
  key: string;
  lab: string;
  kind: 'single' | 'routed' | 'chassis' | 'dual';
  nodes: number;
  floorStartMs: number[];
  floorRemoveMs: number[];
  upMs: number[];
  /** applyPlan's own duration as labctl up --json reports it (no process start, no host check) */
  upApplyMs: number[];
  upRssKb: number[];
  upTrace: TraceSummary[];
  doctorMs: number[];
  doctorRssKb: number[];
  doctorRuns: DoctorRun[];
  downMs: number[];
  downRssKb: number[];
  downTrace: TraceSummary[];
  hwUpMs: number[];
  hwDownMs: number[];
  hwInstalled: number[];
  mnPingallMs: number[];
  mnBuildMs: number[];
  mnLossPct: number[];
  errors: string[];
}

export interface Row {
  key: string;
  nodes: number;
  floorStart?: number;
  up?: number;
  upApply?: number;
  hwUp?: number;
  floorRemove?: number;
  down?: number;
  hwDown?: number;
  doctor?: number;
  mnPingall?: number;
  /** max over up, doctor, down of the median peak RSS, MB */
  rssMb?: number;
  rssUpMb?: number;
  rssDoctorMb?: number;
  rssDownMb?: number;
}

export interface CompileResult {
  nodes: number;
  coldMs: number[];
  coldLoadMs: number[];
  coldCompileMs: number[];
  warmMs: number[];
  cliMs: number[];
  cliRssKb: number[];
  probeRssKb: number[];
  errors: string[];
}

export interface StartupResult {
  bareNodeMs: number[];
  versionMs: number[];
  versionRssKb: number[];
  imports: Record<string, { ms: number[]; rssMb: number[] }>;
}

export interface Target {
  id: string;
  target: string;
  measured: string;
  value?: number;
  limit: number;
  status: 'PASS' | 'MISS' | 'n/a';
  note?: string;
}

const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const s = (ms?: number) => (ms === undefined ? '—' : (ms / 1000).toFixed(2));
const x = (r?: number) => (r === undefined ? '—' : `${r.toFixed(2)}×`);

export function evaluate(
  rows: Row[],
  compile: CompileResult | undefined,
  notes: { doctorNote?: string; mininetNote?: string },
): Target[] {
  const single = (n: number) => rows.find((r) => r.key === `single-${n}`);
  const t: Target[] = [];
  const add = (
    id: string,
    target: string,
    value: number | undefined,
    limit: number,
    better: 'le' | 'ge' | 'lt',
    fmt: (v: number) => string,
    note?: string,
  ) => {
    const ok =
      value === undefined
        ? undefined
        : better === 'le'
          ? value <= limit
          : better === 'ge'
            ? value >= limit
            : value < limit;
    t.push({
      id,
      target,
      measured: value === undefined ? 'not measured' : fmt(value),
      ...(value !== undefined ? { value } : {}),
      limit,
      status: ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS',
      ...(value === undefined && note ? { note } : {}),
    });
  };
  const r50 = single(50);
  const r20 = single(20);
  add(
    'up-vs-floor-50',
    'labctl up N=50 ≤ 1.25 × parallel-container floor',
    ratio(r50?.up, r50?.floorStart),
    1.25,
    'le',
    (v) => `${v.toFixed(2)}×`,
    'needs --sizes with 50 and the floor',
  );
  add(
    'handwire-vs-up-20',
    'hand-wired ≥ 1.8 × labctl up at N=20',
    ratio(r20?.hwUp, r20?.up),
    1.8,
    'ge',
    (v) => `${v.toFixed(2)}×`,
    'needs --sizes with 20 and hand-wire',
  );
  add(
    'handwire-vs-up-50',
    'hand-wired ≥ 1.8 × labctl up at N=50',
    ratio(r50?.hwUp, r50?.up),
    1.8,
    'ge',
    (v) => `${v.toFixed(2)}×`,
    'needs --sizes with 50 and hand-wire',
  );
  add(
    'doctor-50',
    'full-mesh doctor N=50 ≤ 10 s',
    r50?.doctor,
    10_000,
    'le',
    (v) => `${(v / 1000).toFixed(2)} s`,
    notes.doctorNote ?? 'needs --sizes with 50',
  );
  for (const [n, limit] of [
    [100, 20],
    [200, 90],
  ] as const)
    add(
      `doctor-${n}`,
      `full-mesh doctor N=${n} ≤ ${limit} s`,
      single(n)?.doctor,
      limit * 1000,
      'le',
      (v) => `${(v / 1000).toFixed(2)} s`,
      notes.doctorNote ?? `needs --doctor-sizes (or --sizes) with ${n}`,
    );
  add(
    'doctor-vs-mininet-50',
    'doctor N=50 < 0.5 × Mininet pingall N=50',
    ratio(r50?.doctor, r50?.mnPingall),
    0.5,
    'lt',
    (v) => `${v.toFixed(2)}×`,
    [notes.doctorNote, notes.mininetNote].filter(Boolean).join('; ') || 'needs --sizes with 50',
  );
  add(
    'down-vs-floor-50',
    'labctl down N=50 ≤ 1.2 × parallel removal floor',
    ratio(r50?.down, r50?.floorRemove),
    1.2,
    'le',
    (v) => `${v.toFixed(2)}×`,
    'needs --sizes with 50 and the floor',
  );
  add(
    'compile-2000',
    `validate+compile ${compile?.nodes ?? 2000} nodes in-process (cold) ≤ 1 s`,
    median(compile?.coldMs ?? []),
    1000,
    'le',
    (v) => `${v.toFixed(0)} ms`,
    'needs --big',
  );
  add(
    'plan-cli-2000',
    `labctl plan --json ${compile?.nodes ?? 2000} nodes (CLI wall) ≤ 1 s`,
    median(compile?.cliMs ?? []),
    1000,
    'le',
    (v) => `${v.toFixed(0)} ms`,
    'needs --big',
  );
  add(
    'rss-50',
    "labctl's peak RSS at N=50 ≤ 150 MB",
    r50?.rssMb,
    150,
    'le',
    (v) => `${v.toFixed(0)} MB`,
    'needs --sizes with 50',
  );
  return t;
}

function table(head: string[], body: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join(' | ')} |`;
  return [
    line(head),
    `|${w.map((n, i) => (i === 0 ? ':' : '') + '-'.repeat(n + 1) + (i === 0 ? '' : ':')).join('|')}|`,
    ...body.map(line),
  ].join('\n');
}

export function phaseTable(phases: Phase[]): string {
  return table(
    ['phase', 'from s', 'to s', 'took s'],
    phases.map((p) => [p.phase, s(p.fromMs), s(p.toMs), s(p.ms)]),
  );
}

export function categoryTable(t: TraceSummary, limit = 14): string {
  return table(
    ['calls', 'count', 'mean ms', 'busy s', 'wall s'],
    t.categories
      .slice(0, limit)
      .map((c) => [c.category, String(c.count), c.meanMs.toFixed(0), s(c.busyMs), s(c.wallMs)]),
  );
}

/** The run whose exit time is the median of the traced runs (its breakdown is the representative one). */
export function medianTrace(ts: TraceSummary[]): TraceSummary | undefined {
  if (!ts.length) return undefined;
  const sorted = [...ts].sort((a, b) => a.exitMs - b.exitMs);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export function renderReport(r: {
  rows: Row[];
  targets: Target[];
  compile: CompileResult | undefined;
  startup?: StartupResult;
  notes: string[];
  runs: number;
  env: Record<string, unknown>;
  load0: number[];
  load1: number[];
  traces?: { key: string; up?: TraceSummary; down?: TraceSummary };
}): string {
  const out: string[] = [];
  out.push(`\n## labctl bench — medians of ${r.runs} run(s), seconds`);
  out.push(
    `${r.env.cpus} CPUs, ${r.env.kernel}, node ${r.env.node}, Docker ${r.env.docker}, ${r.env.ovs}, commit ${r.env.commit}${Number(r.env.dirtyFiles) ? ` (+${r.env.dirtyFiles} uncommitted files in src/checks)` : ''}; load ${r.load0.map((v) => v.toFixed(1)).join('/')} → ${r.load1.map((v) => v.toFixed(1)).join('/')}`,
  );
  out.push('');
  out.push(
    table(
      [
        'scenario',
        'floor start',
        'labctl up',
        'up/floor',
        'hand-wired up',
        'hw/up',
        'floor rm',
        'labctl down',
        'down/floor',
        'hw down',
        'doctor',
        'mn pingall',
        'doctor/mn',
        'RSS MB up/doctor/down',
      ],
      r.rows.map((w) => [
        `${w.key}`,
        s(w.floorStart),
        s(w.up),
        x(ratio(w.up, w.floorStart)),
        s(w.hwUp),
        x(ratio(w.hwUp, w.up)),
        s(w.floorRemove),
        s(w.down),
        x(ratio(w.down, w.floorRemove)),
        s(w.hwDown),
        s(w.doctor),
        s(w.mnPingall),
        x(ratio(w.doctor, w.mnPingall)),
        [w.rssUpMb, w.rssDoctorMb, w.rssDownMb].map((v) => (v === undefined ? '—' : v.toFixed(0))).join('/'),
      ]),
    ),
  );
  if (r.compile && !r.compile.coldMs.length)
    out.push(
      '',
      `validate+compile ${r.compile.nodes} nodes: not measured (${r.compile.errors[0] ?? 'no data'})`,
    );
  else if (r.compile) {
    const c = r.compile;
    out.push('');
    out.push(
      `validate+compile ${c.nodes} nodes, in-process cold: ${median(c.coldMs)?.toFixed(0)} ms (load+validate ${median(c.coldLoadMs)?.toFixed(0)} ms, compile ${median(c.coldCompileMs)?.toFixed(0)} ms); warm ${median(c.warmMs)?.toFixed(0)} ms; labctl plan --json CLI ${median(c.cliMs)?.toFixed(0)} ms (peak RSS ${((median(c.cliRssKb) ?? 0) / 1024).toFixed(0)} MB)`,
    );
  }
  if (r.startup) {
    const st = r.startup;
    const imp = Object.entries(st.imports).map(
      ([k, v]) => `${k} ${median(v.ms)?.toFixed(0)} ms/+${median(v.rssMb)?.toFixed(0)} MB`,
    );
    out.push(
      `start-up: bare node ${median(st.bareNodeMs)?.toFixed(0)} ms; labctl --version ${median(st.versionMs)?.toFixed(0)} ms, ${((median(st.versionRssKb) ?? 0) / 1024).toFixed(0)} MB; imports (fresh process each): ${imp.join(', ')}`,
    );
  }
  out.push('');
  out.push(
    table(
      ['target', 'measured', 'verdict'],
      r.targets.map((t) => [t.target, t.measured, t.status + (t.note ? ` (${t.note})` : '')]),
    ),
  );
  for (const n of r.notes) out.push(n);
  if (r.traces?.up) {
    out.push(
      '',
      `### where labctl up ${r.traces.key} spends its time (median traced run)`,
      phaseTable(r.traces.up.phases),
      '',
      categoryTable(r.traces.up),
    );
  }
  if (r.traces?.down) {
    out.push(
      '',
      `### where labctl down ${r.traces.key} spends its time (median traced run)`,
      phaseTable(r.traces.down.phases),
      '',
      categoryTable(r.traces.down),
    );
  }
  out.push('');
  return out.join('\n');
}
