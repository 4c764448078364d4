/**
 * Pacing of the doctor's probes (docs/probes.md "Pacing"): the doctor must measure the data plane without
 * overrunning it. Three parts, all pure or timer-only (no I/O), unit-tested in test/unit/probe-pace.test.ts:
 *
 * - `Pacer`: how many probes are in flight at once, adapted like TCP's congestion window. Each answer that comes
 *   back while its probe still held a slot grows the window (by one per answer until the first back-off, then by
 *   one per window of answers); when a quarter of the recent probes that should have been answered were not, the
 *   window halves (at most once per window of probes: only a loss of a probe started after the last cut counts).
 *   A probe that has no answer within a few round-trip times is presumed lost: it gives its slot back (so a silent
 *   path or an expected-blocked flow does not hold the window for its whole time limit) but keeps waiting for its
 *   answer. A fixed (non-adaptive) pacer with a gap between starts is the low-rate re-probe of failures.
 * - `NeighBudget`: the kernel's neighbour (ARP) table is one table for every network namespace on the host
 *   (gc_thresh3, 1024 by default); a full mesh of N nodes needs N·(N−1) entries, and a packet whose neighbour
 *   entry cannot be created is dropped before it reaches the datapath. An entry can only be reclaimed once it
 *   has left REACHABLE (up to 1.5 × base_reachable_time, 45 s by default) and not changed for 5 s, so the pairs
 *   probed within that long must fit the table's free room.
 * - `pairGroups`: the probes grouped by unordered pair of nodes (both directions and all protocols share the two
 *   neighbour entries of a pair), ordered round-robin so consecutive pairs involve different nodes.
 */

export type Signal = 'answer' | 'silent' | 'neutral';

export interface PacerOptions {
  /** probes in flight at the start (default 16) */
  initial?: number;
  /** never fewer than this in flight (default 4) */
  min?: number;
  /** never more (default 192) */
  max?: number;
  /** adapt the window to answers and losses (default true); false: a fixed window */
  adaptive?: boolean;
  /** at least this long between two starts, ms (default 0) */
  gapMs?: number;
  /** presumed lost after clamp(100 + 4·srtt, lossMinMs, lossMaxMs) without an answer (defaults 250, 1000) */
  lossMinMs?: number;
  lossMaxMs?: number;
}

export interface PacerStats {
  started: number;
  answered: number;
  silent: number;
  presumedLost: number;
  cuts: number;
  window: number;
  minWindow: number;
  maxWindow: number;
  srttMs?: number;
}

export interface Ticket {
  /** report how the probe ended (and its round-trip time for an answer); releases the slot if still held */
  done(kind: Signal, ms?: number): void;
}

const RING = 32;

export class Pacer {
  private window: number;
  private ssthresh = Number.POSITIVE_INFINITY;
  private active = 0;
  private srtt: number | undefined;
  private lastCut = Number.NEGATIVE_INFINITY;
  private nextStart = 0;
  private readonly waiters: (() => void)[] = [];
  /** recent outcomes of probes that should have been answered: 1 = lost */
  private readonly ring: number[] = [];
  private gapTimer: NodeJS.Timeout | undefined;
  readonly stats: PacerStats;
  private readonly o: Required<PacerOptions>;

  constructor(
    opts: PacerOptions = {},
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.o = {
      initial: opts.initial ?? 16,
      min: opts.min ?? 4,
      max: opts.max ?? 192,
      adaptive: opts.adaptive ?? true,
      gapMs: opts.gapMs ?? 0,
      lossMinMs: opts.lossMinMs ?? 250,
      lossMaxMs: opts.lossMaxMs ?? 1000,
    };
    this.window = Math.max(1, Math.min(this.o.max, this.o.initial));
    this.stats = {
      started: 0,
      answered: 0,
      silent: 0,
      presumedLost: 0,
      cuts: 0,
      window: this.window,
      minWindow: this.window,
      maxWindow: this.window,
    };
  }

  get inFlight(): number {
    return this.active;
  }

  get limit(): number {
    return Math.max(1, Math.floor(this.window));
  }

  /** How long a probe may stay silent before it is presumed lost. */
  lossMs(): number {
    const est = this.srtt === undefined ? this.o.lossMaxMs : 100 + 4 * this.srtt;
    return Math.min(this.o.lossMaxMs, Math.max(this.o.lossMinMs, est));
  }

  /** Wait for a slot. `expectAnswer`: the probe should be answered (its silence is a loss signal). */
  async acquire(expectAnswer: boolean): Promise<Ticket> {
    while (this.active >= this.limit || this.clock() < this.nextStart) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        if (this.active < this.limit) this.armGap();
      });
    }
    this.active++;
    this.stats.started++;
    if (this.o.gapMs > 0) this.nextStart = this.clock() + this.o.gapMs;
    const t0 = this.clock();
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      this.active--;
      this.wake();
    };
    const lossMs = this.lossMs();
    const timer = setTimeout(() => {
      if (!held) return;
      release();
      this.stats.presumedLost++;
      // a timer that fired late means this process was busy (a pause of its own event loop), not the path
      if (expectAnswer && this.clock() - t0 < lossMs + 50) this.lost(t0);
    }, lossMs);
    return {
      done: (kind, ms) => {
        clearTimeout(timer);
        const wasHeld = held;
        release();
        if (kind === 'answer') {
          this.stats.answered++;
          this.answered(ms ?? this.clock() - t0, wasHeld);
        } else if (kind === 'silent') {
          this.stats.silent++;
          if (wasHeld && expectAnswer) this.lost(t0);
        }
      },
    };
  }

  /** Run fn in a slot; `signal` classifies its result. */
  async run<T>(expectAnswer: boolean, fn: () => Promise<T>, signal: (r: T) => [Signal, number?]): Promise<T> {
    const ticket = await this.acquire(expectAnswer);
    let kind: Signal = 'neutral';
    let ms: number | undefined;
    try {
      const r = await fn();
      [kind, ms] = signal(r);
      return r;
    } finally {
      ticket.done(kind, ms);
    }
  }

  private armGap(): void {
    if (this.gapTimer || this.o.gapMs <= 0) return;
    const wait = Math.max(0, Math.ceil(this.nextStart - this.clock()));
    this.gapTimer = setTimeout(() => {
      this.gapTimer = undefined;
      this.wake();
    }, wait);
  }

  private wake(): void {
    // waiters re-check their condition; wake as many as may start now (the rest re-queue)
    let n = Math.max(0, this.limit - this.active);
    if (this.o.gapMs > 0) n = Math.min(n, 1);
    while (n-- > 0 && this.waiters.length) this.waiters.shift()!();
    if (this.waiters.length && this.active < this.limit) this.armGap();
  }

  private record(lost: number): number {
    this.ring.push(lost);
    if (this.ring.length > RING) this.ring.shift();
    let sum = 0;
    for (const x of this.ring) sum += x;
    return sum;
  }

  private answered(ms: number, wasHeld: boolean): void {
    this.srtt = this.srtt === undefined ? ms : 0.875 * this.srtt + 0.125 * ms;
    this.stats.srttMs = Math.round(this.srtt * 100) / 100;
    this.record(0);
    if (!this.o.adaptive || !wasHeld) return;
    this.window = Math.min(this.o.max, this.window + (this.window < this.ssthresh ? 1 : 1 / this.window));
    this.track();
    this.wake();
  }

  private lost(t0: number): void {
    const losses = this.record(1);
    if (!this.o.adaptive) return;
    // a quarter of the recent probes lost (one node's fault loses far fewer), and not already cut for this window
    if (losses * 4 < Math.max(8, this.ring.length) || t0 < this.lastCut) return;
    this.lastCut = this.clock();
    this.ssthresh = Math.max(this.o.min, this.window / 2);
    this.window = this.ssthresh;
    this.stats.cuts++;
    this.track();
  }

  private track(): void {
    this.stats.window = Math.round(this.window * 10) / 10;
    this.stats.minWindow = Math.min(this.stats.minWindow, this.stats.window);
    this.stats.maxWindow = Math.max(this.stats.maxWindow, this.stats.window);
  }
}

/**
 * At most `perWindow` new neighbour pairs in any `windowMs` (Infinity: no bound). A pair costs two entries of the
 * host's neighbour table (one in each namespace); entries older than 5 s are reclaimed when the table needs room.
 */
export class NeighBudget {
  private readonly times: number[] = [];
  waitedMs = 0;

  constructor(
    readonly perWindow: number,
    readonly windowMs = 50_000,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** Wait until one more pair may start; false (at once) when that would be after `deadline` (performance.now()). */
  async admit(deadline = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (!Number.isFinite(this.perWindow)) return true;
    for (;;) {
      const now = this.clock();
      while (this.times.length && this.times[0]! <= now - this.windowMs) this.times.shift();
      if (this.times.length < this.perWindow) {
        if (now > deadline) return false;
        this.times.push(now);
        return true;
      }
      const wait = Math.max(1, Math.ceil(this.times[0]! + this.windowMs - now));
      if (now + wait > deadline) return false;
      this.waitedMs += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * The budget for a run: unbounded when every pair fits the table's free room at once, else half the room (two
   * entries a pair) per window. `margin` is left for everyone else on the host.
   */
  static forTable(
    table: { gcThresh3: number; entries: number; reachableMs?: number } | undefined,
    pairs: number,
    present = 0,
  ): NeighBudget {
    if (!table) return new NeighBudget(Number.POSITIVE_INFINITY);
    const room = NeighBudget.room(table);
    if (NeighBudget.fits(table, pairs, present)) return new NeighBudget(Number.POSITIVE_INFINITY);
    return new NeighBudget(Math.max(16, Math.floor(room / 2)), 1.5 * (table.reachableMs ?? 30_000) + 6_000);
  }

  /** Entries the doctor may create at once: the free room less a margin for everyone else on the host. */
  static room(table: { gcThresh3: number; entries: number }): number {
    return table.gcThresh3 - table.entries - Math.max(64, Math.ceil(table.gcThresh3 / 10));
  }

  /**
   * Whether a run of `pairs` pairs fits the table at once; `present`: entries the run's namespaces already hold
   * (a run right after another finds most of its entries there and needs no new ones for them).
   */
  static fits(
    table: { gcThresh3: number; entries: number } | undefined,
    pairs: number,
    present = 0,
  ): boolean {
    return !table || 2 * pairs - present <= NeighBudget.room(table);
  }
}

/**
 * Group items by unordered pair {from, to} (to: the target node, else the address) and order the groups
 * round-robin: round r holds the pairs {i, j} with (i + j) mod M = r, which involve each node at most twice, so
 * consecutive pairs spread over all nodes instead of hammering one. Items keep their order within a group.
 */
export function pairGroups<T>(items: T[], ends: (t: T) => { from: string; to: string }): T[][] {
  const index = new Map<string, number>();
  const idx = (n: string) => {
    let i = index.get(n);
    if (i === undefined) {
      i = index.size;
      index.set(n, i);
    }
    return i;
  };
  const groups = new Map<string, { a: number; b: number; items: T[] }>();
  for (const it of items) {
    const { from, to } = ends(it);
    const a = idx(from);
    const b = idx(to);
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const key = `${lo}:${hi}`;
    const g = groups.get(key);
    if (g) g.items.push(it);
    else groups.set(key, { a: lo, b: hi, items: [it] });
  }
  const m = Math.max(1, index.size);
  return [...groups.values()]
    .sort((x, y) => ((x.a + x.b) % m) - ((y.a + y.b) % m) || x.a - y.a || x.b - y.b)
    .map((g) => g.items);
}
