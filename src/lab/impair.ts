/**
 * Link impairments (docs/impairments.md): the values of `interfaces[].impair` and of `labctl impair`, parsed to
 * numbers (ms, %, bit/s) with their bounds. Shared by the lab validator and the CLI, so both accept and refuse
 * exactly the same texts with the same messages.
 */

export type ImpairDirection = 'egress' | 'both';

/** An interface's impairment as plan data: 0 = none of that kind. */
export interface Impair {
  delayMs: number;
  jitterMs: number;
  lossPct: number;
  rateBps: number;
  /** egress: traffic the node sends on the interface; both: also traffic the switch delivers to it */
  direction: ImpairDirection;
}

/** The form the lab file and the CLI take: texts ("50ms", "1%", "10mbit") or plain numbers (ms, %, bit/s). */
export interface ImpairSpec {
  delay?: string | number;
  jitter?: string | number;
  loss?: string | number;
  rate?: string | number;
  direction?: string;
}

export const MAX_DELAY_MS = 10_000;
export const MIN_RATE_BPS = 8_000;
export const MAX_RATE_BPS = 10_000_000_000;

export interface ImpairIssue {
  /** the key of the spec the problem is in (undefined: the whole impairment) */
  key?: keyof ImpairSpec;
  message: string;
  hint?: string;
}

const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** "50ms", "1.5s", "500us", or a number of ms. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s)\s*$/i.exec(v);
  if (!m) return undefined;
  return round3(Number(m[1]) * TIME_UNITS[m[2]!.toLowerCase()]!);
}

/** "1%", "0.5%", or a number of percent. */
export function parsePercent(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
  return m ? round3(Number(m[1])) : undefined;
}

/** "10mbit", "512kbit", "1gbit", "64000bit", or a number of bit/s (tc's units; "bps" would be bytes: refused). */
export function parseRate(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)\s*$/i.exec(v);
  return m ? Math.round(Number(m[1]) * RATE_UNITS[m[2]!.toLowerCase()]!) : undefined;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Parse and bound an impairment; issues name the key they are about. An all-zero impairment is refused. */
export function parseImpair(spec: ImpairSpec): { impair?: Impair; issues: ImpairIssue[] } {
  const issues: ImpairIssue[] = [];
  const out: Impair = { delayMs: 0, jitterMs: 0, lossPct: 0, rateBps: 0, direction: 'egress' };
  if (spec.delay !== undefined) {
    const d = parseDuration(spec.delay);
    if (d === undefined)
      issues.push({
        key: 'delay',
        message: `delay "${spec.delay}" is not a duration`,
        hint: 'e.g. 50ms, 1.5s or 500us',
      });
    else if (d > MAX_DELAY_MS)
      issues.push({
        key: 'delay',
        message: `delay ${d} ms is more than ${MAX_DELAY_MS / 1000} s`,
        hint: 'at most 10s',
      });
    else out.delayMs = d;
  }
  if (spec.jitter !== undefined) {
    const j = parseDuration(spec.jitter);
    if (j === undefined)
      issues.push({ key: 'jitter', message: `jitter "${spec.jitter}" is not a duration`, hint: 'e.g. 5ms' });
    else if (spec.delay === undefined || out.delayMs === 0) {
      if (j > 0 && !issues.some((i) => i.key === 'delay'))
        issues.push({
          key: 'jitter',
          message: 'jitter needs a delay',
          hint: `add a delay of at least the jitter, e.g. delay: ${Math.max(1, j)}ms`,
        });
    } else if (j > out.delayMs)
      issues.push({
        key: 'jitter',
        message: `jitter ${j} ms is larger than the delay ${out.delayMs} ms`,
        hint: `the delay varies by ± jitter: keep jitter ≤ delay (e.g. jitter: ${out.delayMs}ms)`,
      });
    else out.jitterMs = j;
  }
  if (spec.loss !== undefined) {
    const l = parsePercent(spec.loss);
    if (l === undefined)
      issues.push({
        key: 'loss',
        message: `loss "${spec.loss}" is not a percentage`,
        hint: 'e.g. 1% or 0.5%',
      });
    else if (l > 100)
      issues.push({ key: 'loss', message: `loss ${l}% is more than 100%`, hint: '0% to 100%' });
    else out.lossPct = l;
  }
  if (spec.rate !== undefined) {
    const r = parseRate(spec.rate);
    if (r === undefined)
      issues.push({
        key: 'rate',
        message: `rate "${spec.rate}" is not a bit rate`,
        hint: 'e.g. 10mbit, 512kbit or 1gbit (bit/s; tc-style units)',
      });
    else if (r < MIN_RATE_BPS || r > MAX_RATE_BPS)
      issues.push({ key: 'rate', message: `rate ${r} bit/s is out of range`, hint: 'from 8kbit to 10gbit' });
    else out.rateBps = r;
  }
  if (spec.direction !== undefined) {
    if (spec.direction === 'egress' || spec.direction === 'both') out.direction = spec.direction;
    else
      issues.push({
        key: 'direction',
        message: `direction "${spec.direction}" is not egress or both`,
        hint: 'egress: traffic the node sends; both: also traffic to the node',
      });
  }
  if (issues.length) return { issues };
  if (!isImpaired(out))
    return {
      issues: [
        {
          message: 'impair sets no delay, loss or rate',
          hint: 'give at least one of delay, loss, rate (or remove impair)',
        },
      ],
    };
  return { impair: out, issues };
}

export function isImpaired(i: Impair | undefined): i is Impair {
  return !!i && (i.delayMs > 0 || i.lossPct > 0 || i.rateBps > 0);
}

/** "delay 50ms ±5ms, loss 1%, rate 10mbit, both ways" */
export function describeImpair(i: Impair | undefined): string {
  if (!isImpaired(i)) return 'none';
  const parts: string[] = [];
  if (i.delayMs) parts.push(`delay ${i.delayMs}ms${i.jitterMs ? ` ±${i.jitterMs}ms` : ''}`);
  if (i.lossPct) parts.push(`loss ${i.lossPct}%`);
  if (i.rateBps) parts.push(`rate ${formatRate(i.rateBps)}`);
  parts.push(i.direction === 'both' ? 'both ways' : 'egress');
  return parts.join(', ');
}

export function formatRate(bps: number): string {
  for (const [u, f] of [
    ['gbit', 1e9],
    ['mbit', 1e6],
    ['kbit', 1e3],
  ] as const)
    if (bps >= f && bps % (f / 1000) === 0) return `${bps / f}${u}`;
  return `${bps}bit`;
}

/** Just the impairment values of something that carries more (a PlanImpair with its veth names). */
export function impairValues(i: Impair): Impair {
  return {
    delayMs: i.delayMs,
    jitterMs: i.jitterMs,
    lossPct: i.lossPct,
    rateBps: i.rateBps,
    direction: i.direction,
  };
}

export function sameImpair(a: Impair | undefined, b: Impair | undefined): boolean {
  if (!isImpaired(a) || !isImpaired(b)) return isImpaired(a) === isImpaired(b);
  return (
    a.delayMs === b.delayMs &&
    a.jitterMs === b.jitterMs &&
    a.lossPct === b.lossPct &&
    a.rateBps === b.rateBps &&
    a.direction === b.direction
  );
}
