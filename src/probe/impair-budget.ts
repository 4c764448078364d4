/**
 * The doctor's probes on impaired links (docs/impairments.md): pure arithmetic from the plan's impairments on each
 * probed path to how long a probe may take and how often a failed one is tried again, so declared loss and delay
 * are not reported as faults, and a path impaired to 100 % loss counts as blocked.
 *
 * A probe's path crosses up to four impaired traversals: the request leaves the sender (its interface's egress)
 * and enters the receiver (that interface's ingress, shaped only with direction both); the reply the other way.
 */
import type { Impair } from '../lab/impair.js';
import type { Plan } from '../plan/types.js';
import type { PathEnd, Target } from './targets.js';

/** A probe that fails every attempt this often on a working path is a false alarm: the bound retries aim below it. */
export const FALSE_ALARM = 1e-4;
/** At most this many attempts in all (phase 1 and the re-probe rounds), however lossy the path. */
export const MAX_ATTEMPTS = 12;
/** Largest frame a probe sends (the path-MTU probe), for the serialisation time of a rate limit. */
const PROBE_FRAME_BITS = 1514 * 8;

export interface ImpairBudget {
  /** added to every probe's time limit (the worst probed path's round trips), ms */
  extraMs: number;
  /** rounds of re-probes after the first pass (1 when nothing is impaired: today's single retry) */
  retryRounds: number;
  /** keys of targets whose path loses every packet (100 % loss somewhere on it): expected blocked */
  blackholed: Set<string>;
}

interface Traversal {
  loss: number;
  delayMs: number;
  jitterMs: number;
  rateBps: number;
}

/** Round trips a probe needs: an ICMP echo and the UDP token echo one; TCP a handshake and the token echo. */
const EXCHANGES: Record<Target['proto'], number> = { icmp: 1, udp: 1, tcp: 2 };

export function impairBudget(plan: Plan, targets: readonly Target[]): ImpairBudget {
  const impairs = new Map<string, Impair>();
  for (const n of plan.nodes)
    for (const i of n.interfaces) if (i.impair) impairs.set(`${n.name}.${i.name}`, i.impair);
  const out: ImpairBudget = { extraMs: 0, retryRounds: 1, blackholed: new Set() };
  if (!impairs.size) return out;
  const of = (e: PathEnd | undefined) => (e ? impairs.get(`${e.node}.${e.iface}`) : undefined);
  let attempts = 2;
  for (const t of targets) {
    if (t.skip) continue;
    const src = of(t.fwd);
    const dst = of(t.rev);
    if (!src && !dst) continue;
    const path: Traversal[] = [];
    const add = (i: Impair | undefined, shaped: boolean) => {
      if (i && shaped)
        path.push({ loss: i.lossPct / 100, delayMs: i.delayMs, jitterMs: i.jitterMs, rateBps: i.rateBps });
    };
    add(src, true); // request leaves the sender
    add(dst, dst?.direction === 'both'); // request enters the receiver
    add(dst, true); // reply leaves the receiver
    add(src, src?.direction === 'both'); // reply enters the sender
    if (path.some((p) => p.loss >= 1)) {
      out.blackholed.add(t.key);
      continue;
    }
    const exchanges = EXCHANGES[t.proto];
    const rtt = path.reduce(
      (ms, p) => ms + p.delayMs + p.jitterMs + (p.rateBps ? (PROBE_FRAME_BITS / p.rateBps) * 1000 : 0),
      0,
    );
    out.extraMs = Math.max(out.extraMs, Math.ceil(exchanges * rtt));
    const pass = path.reduce((p, x) => p * (1 - x.loss), 1) ** exchanges;
    attempts = Math.max(attempts, attemptsFor(pass));
  }
  out.retryRounds = Math.max(1, Math.min(MAX_ATTEMPTS, attempts) - 1);
  return out;
}

/** Attempts so that a path passing each attempt with probability `pass` fails them all at most FALSE_ALARM. */
export function attemptsFor(pass: number): number {
  if (pass >= 1) return 1;
  if (pass <= 0) return MAX_ATTEMPTS;
  return Math.min(MAX_ATTEMPTS, Math.max(1, Math.ceil(Math.log(FALSE_ALARM) / Math.log(1 - pass))));
}
