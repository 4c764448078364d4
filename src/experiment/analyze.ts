/**
 * What a flow saw, from what its agent recorded (pure; unit-tested): every packet sent (sequence number, time) and
 * every echo that came back (sequence number, send time, arrival time). Loss is counted from sequence numbers —
 * sent minus distinct sequence numbers echoed — never estimated. All times in the report are ms from the
 * scenario's start.
 */
import type { LabScenarioExpect, TcpOutcome } from '../lab/types.js';

/** No progress for this long at the end of a tcp flow is a stall. */
export const STALL_MS = 3000;

export interface FlowRecord {
  name: string;
  proto: 'icmp' | 'udp' | 'tcp';
  from: string;
  to: string;
  port?: number;
  rate: number;
  /** epoch ms */
  startT?: number;
  stopT?: number;
  tx: [seq: number, t: number][];
  rx: [seq: number, sentT: number, rxT: number][];
  tcpEvents: { state: 'connected' | 'error' | 'closed'; code?: string; t: number }[];
  /** the flow could not run (its agent, its socket, its sender node) */
  error?: string;
}

export interface StepTiming {
  /** epoch ms */
  startT: number;
  endT: number;
  /** a wait step changes nothing: "after the last step" means after the last step that is not a wait */
  wait?: boolean;
}

export interface Gap {
  start_ms: number;
  end_ms: number;
  ms: number;
  lost: number;
}

export interface TcpReport {
  outcome: TcpOutcome;
  connected: boolean;
  connect_ms: number | null;
  /** the last echoed message's arrival */
  last_progress_ms: number | null;
  /** the error or close that ended the connection */
  error: string | null;
  error_ms: number | null;
}

export interface FlowReport {
  name: string;
  proto: 'icmp' | 'udp' | 'tcp';
  from: string;
  to: string;
  port: number | null;
  rate: number;
  start_ms: number | null;
  end_ms: number | null;
  sent: number;
  received: number;
  lost: number;
  loss_pct: number;
  duplicates: number;
  reordered: number;
  max_gap_ms: number;
  /** per step (same order as steps): ms from the step's end until a packet sent after its start was delivered */
  recovered_ms: (number | null)[];
  rtt_ms: { min: number; avg: number; max: number } | null;
  gaps: Gap[];
  tcp: TcpReport | null;
  error: string | null;
  /** arrival times (ms) of delivered packets, for the timeline; left out of --json */
  deliveries?: number[];
  /** send times (ms) of lost packets, for the timeline; left out of --json */
  losses?: number[];
}

const r1 = (x: number) => Math.round(x * 10) / 10;

/** A silence longer than this is a gap worth drawing: 3 send intervals, at least 250 ms. */
export function gapThresholdMs(rate: number): number {
  return Math.max(250, 3000 / rate);
}

export function analyzeFlow(rec: FlowRecord, steps: StepTiming[], t0: number): FlowReport {
  const rel = (t: number) => r1(t - t0);
  const sentAt = new Map<number, number>();
  for (const [seq, t] of rec.tx) sentAt.set(seq, t);
  const seen = new Set<number>();
  let duplicates = 0;
  let reordered = 0;
  let maxSeq = 0;
  const firstRx: [number, number, number][] = [];
  for (const p of [...rec.rx].sort((a, b) => a[2] - b[2])) {
    const [seq] = p;
    if (seen.has(seq)) {
      duplicates++;
      continue;
    }
    seen.add(seq);
    if (seq < maxSeq) reordered++;
    else maxSeq = seq;
    firstRx.push(p);
  }
  const sent = sentAt.size;
  const received = firstRx.length;
  const start = rec.startT ?? rec.tx[0]?.[1];
  const stop = rec.stopT ?? rec.tx.at(-1)?.[1];
  // the delivery timeline, bounded by the flow's first send and its stop
  const times = firstRx.map((p) => p[2]);
  const gaps: Gap[] = [];
  let maxGap = 0;
  if (start !== undefined && stop !== undefined) {
    const points = [start, ...times.filter((t) => t > start), Math.max(stop, times.at(-1) ?? stop)];
    const threshold = gapThresholdMs(rec.rate);
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1]!;
      const b = points[i]!;
      const d = b - a;
      if (d > maxGap) maxGap = d;
      if (d > threshold) {
        let lost = 0;
        for (const [seq, t] of sentAt) if (t >= a - 1000 / rec.rate && t < b && !seen.has(seq)) lost++;
        gaps.push({ start_ms: rel(a), end_ms: rel(b), ms: r1(d), lost });
      }
    }
  }
  const recovered = steps.map((s) => {
    const p = firstRx.find((x) => x[1] >= s.startT);
    return p ? r1(Math.max(0, p[2] - s.endT)) : null;
  });
  const rtts = firstRx.map((p) => p[2] - p[1]);
  const rtt = rtts.length
    ? {
        min: r1(Math.min(...rtts)),
        avg: r1(rtts.reduce((a, b) => a + b, 0) / rtts.length),
        max: r1(Math.max(...rtts)),
      }
    : null;
  const lastStepEnd = steps.filter((s) => !s.wait).at(-1)?.endT ?? start ?? 0;
  return {
    name: rec.name,
    proto: rec.proto,
    from: rec.from,
    to: rec.to,
    port: rec.port ?? null,
    rate: rec.rate,
    start_ms: start === undefined ? null : rel(start),
    end_ms: stop === undefined ? null : rel(stop),
    sent,
    received,
    lost: sent - received,
    loss_pct: sent ? r1(((sent - received) / sent) * 100) : 0,
    duplicates,
    reordered,
    max_gap_ms: r1(maxGap),
    recovered_ms: recovered,
    rtt_ms: rtt,
    gaps,
    tcp: rec.proto === 'tcp' ? tcpOutcome(rec, firstRx, lastStepEnd, stop, rel) : null,
    error: rec.error ?? null,
    deliveries: times.map(rel),
    losses: [...sentAt].filter(([seq]) => !seen.has(seq)).map(([, t]) => rel(t)),
  };
}

const RESET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

/**
 * reset: the peer refused or reset the connection (or closed it); stalled: no echo for ≥ STALL_MS at the end (or
 * never connected, or no echo after the last step); survived: the same connection carried messages after the last
 * step and was still making progress at the end.
 */
export function tcpOutcome(
  rec: FlowRecord,
  firstRx: [number, number, number][],
  lastStepEnd: number,
  stop: number | undefined,
  rel: (t: number) => number,
): TcpReport {
  const connected = rec.tcpEvents.find((e) => e.state === 'connected');
  const end = rec.tcpEvents.find((e) => e.state === 'error' || e.state === 'closed');
  const last = firstRx.length ? Math.max(...firstRx.map((p) => p[2])) : undefined;
  let outcome: TcpOutcome;
  if (end && (end.state === 'closed' || RESET_CODES.has(end.code ?? ''))) outcome = 'reset';
  else if (!connected || last === undefined || end) outcome = 'stalled';
  else if (stop !== undefined && stop - last >= STALL_MS) outcome = 'stalled';
  else if (last > lastStepEnd) outcome = 'survived';
  else outcome = 'stalled';
  return {
    outcome,
    connected: !!connected,
    connect_ms: connected ? rel(connected.t) : null,
    last_progress_ms: last === undefined ? null : rel(last),
    error: end ? (end.state === 'closed' ? 'closed by the peer' : (end.code ?? 'error')) : null,
    error_ms: end ? rel(end.t) : null,
  };
}

export interface ExpectResult {
  flow: string;
  check: string;
  want: string;
  got: string;
  ok: boolean;
}

/** Each threshold of each expectation, judged. A flow that could not run fails every expectation on it. */
export function judge(expect: LabScenarioExpect[], flows: FlowReport[]): ExpectResult[] {
  const out: ExpectResult[] = [];
  for (const e of expect) {
    const f = flows.find((x) => x.name === e.flow);
    const add = (check: string, want: string, got: string, ok: boolean) =>
      out.push({ flow: e.flow, check, want, got, ok: ok && !!f && !f.error });
    if (!f) {
      add('flow', 'measured', 'missing', false);
      continue;
    }
    const err = f.error ? ` (could not run: ${f.error})` : '';
    if (e.maxLost !== undefined) add('lost', `≤ ${e.maxLost}`, `${f.lost}${err}`, f.lost <= e.maxLost);
    if (e.maxLossPct !== undefined)
      add('loss_pct', `≤ ${e.maxLossPct} %`, `${f.loss_pct} %${err}`, f.loss_pct <= e.maxLossPct);
    if (e.maxGapMs !== undefined)
      add('max_gap_ms', `≤ ${e.maxGapMs} ms`, `${f.max_gap_ms} ms${err}`, f.max_gap_ms <= e.maxGapMs);
    if (e.tcp !== undefined) {
      const got = f.tcp?.outcome ?? 'none';
      add('tcp', e.tcp.join(' | '), `${got}${err}`, f.tcp !== null && e.tcp.includes(f.tcp.outcome));
    }
  }
  return out;
}
