/**
 * One data-plane run for a doctor run: start the probe agents (fleet.ts), start the doctor's listeners, probe every
 * target once (paced, pace.ts), probe again alone at a low rate what failed, read the SNMP and drop counters before
 * and after, stop the agents, then build the results of the dataplane.* checks (results.ts: evidence gathered,
 * verdicts decided). The checks share one run per doctor context (memoized), so the agents start once.
 * The run's data types are in run-types.ts.
 */
import { randomBytes } from 'node:crypto';
import type { CheckContext, CheckResult } from '../doctor/types.js';
import { countNeighEntries, readDrops, readNeighTable } from '../drivers/datapath-drops.js';
import { PolicyVerdicts } from '../plan/policy-verdict.js';
import { type BrokerFailure, ProbeFleet } from './fleet.js';
import { impairBudget } from './impair-budget.js';
import type { AgentOptions } from './launch.js';
import { NeighBudget, Pacer, pairGroups, type Signal, type Ticket } from './pace.js';
import type { ProbeResult, ProbeSpec } from './protocol.js';
import { buildResults } from './results.js';
import type { DataplaneContext, DataplaneRun, NodeCounters, Pacing, ProbeRecord } from './run-types.js';
import {
  type DataplaneCheckId,
  DOCTOR_PORT,
  listenersFor,
  meshAtPort,
  planTargets,
  subjectOf,
  type Target,
} from './targets.js';

export interface DataplaneOptions extends AgentOptions {
  /** time limit of a first probe, ms (default 1500) */
  timeoutMs?: number;
  /** time limit of a retry, ms (default 2500) */
  retryTimeoutMs?: number;
  /** probe every failure again, alone at a low rate, before it counts (default true) */
  retry?: boolean;
  /** first phase: probes in flight at the start / at most (pace.ts Pacer; defaults 16 / 192) */
  paceInitial?: number;
  paceMax?: number;
  /** re-probes: answering at once (default 8) and ms between two starts (default 10) */
  reprobeWindow?: number;
  reprobeGapMs?: number;
  /** bound new pairs by the room in the host's neighbour table (default true) */
  neighBudget?: boolean;
  /** when the table cannot hold every pair: stop starting new pairs after this long, ms (default 75 s) */
  neighDeadlineMs?: number;
}

/**
 * The results of this doctor context's data-plane run (started by whichever dataplane check runs first). Only the
 * results are kept for the other checks: the run's records, counters and drop snapshots (at 200 nodes, ~120 000
 * records) can go as soon as the results are built.
 */
const runs = new WeakMap<object, Promise<DataplaneRun['results']>>();

function sharedResults(ctx: DataplaneContext): Promise<DataplaneRun['results']> {
  let p = runs.get(ctx);
  if (!p) {
    p = runDataplane(ctx).then((run) => run.results);
    runs.set(ctx, p);
  }
  return p;
}

/**
 * Time limit of a data-plane check: the shared run grows with the number of probes (a full mesh of N nodes is
 * 3·N·(N−1)), so 120 s plus 1 ms a probe (200 nodes: 239 s), never less than the runner's usual 120 s.
 */
export function dataplaneTimeoutMs(ctx: CheckContext): number {
  const n = ctx.plan.nodes.length;
  return 120_000 + 3 * n * Math.max(0, n - 1) + 3 * ctx.plan.expect.length;
}

/** Results of one data-plane check, from the shared run. */
export async function dataplaneResults(ctx: DataplaneContext, id: DataplaneCheckId): Promise<CheckResult[]> {
  const results = await sharedResults(ctx);
  return results.get(id) ?? [];
}

async function resolvePids(ctx: DataplaneContext, nodes: string[]): Promise<Map<string, number | string>> {
  const out = new Map<string, number | string>();
  if (ctx.facts) {
    await Promise.all(
      nodes.map(async (n) => {
        const pid = await ctx.facts!.pid(n).catch(() => undefined);
        out.set(n, pid ?? `the container of ${n} is not running`);
      }),
    );
    return out;
  }
  const list = await ctx.host.containers.list(ctx.plan.lab);
  await Promise.all(
    nodes.map(async (n) => {
      const c = list.find((x) => x.node === n);
      if (!c) return out.set(n, `node ${n} has no container (labctl up)`);
      if (!c.running) return out.set(n, `the container of ${n} is ${c.state}`);
      try {
        out.set(n, await ctx.host.containers.pid(c.id));
      } catch (e) {
        out.set(n, (e as Error).message);
      }
    }),
  );
  return out;
}

/** Bytes of IP and ICMP header around a ping's payload: a packet of payload + this fills the MTU. */
export function bigOverhead(t: Pick<Target, 'family'>): number {
  return t.family === 6 ? 48 : 28;
}

/** A target's record before it is probed (a target the plan cannot probe is skipped with its reason). */
export function newRecord(t: Target): ProbeRecord {
  return {
    target: t,
    subject: subjectOf(t),
    answer: t.answer,
    attempts: 0,
    ...(t.port !== undefined ? { port: t.port } : {}),
    ...(t.skip ? { notRun: { status: 'skip' as const, why: t.skip } } : {}),
  };
}

export async function runDataplane(
  ctx: DataplaneContext,
  opts: DataplaneOptions = {},
): Promise<DataplaneRun> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const mark = (k: string) => {
    timings[k] = Math.round(performance.now() - t0);
  };
  const { plan } = ctx;
  const targets = planTargets(plan);
  // Impaired links (docs/impairments.md): time limits stretch with declared delay, declared loss gets enough
  // re-probe rounds, and a path impaired to 100 % loss is expected blocked.
  const impaired = impairBudget(plan, targets);
  for (const t of targets) if (impaired.blackholed.has(t.key)) t.expect = 'blocked';
  const timeoutMs = (opts.timeoutMs ?? 1500) + impaired.extraMs;
  const retryTimeoutMs = (opts.retryTimeoutMs ?? 2500) + impaired.extraMs;
  const records = targets.map(newRecord);

  // ---- containers
  const involved = [
    ...new Set(
      targets
        .filter((t) => !t.skip)
        .flatMap((t) => [t.from, ...(t.toNode ? [t.toNode] : []), ...(t.alsoListen ?? [])]),
    ),
  ];
  const pidOf = await resolvePids(ctx, involved);
  const pids = new Map([...pidOf].filter((e): e is [string, number] => typeof e[1] === 'number'));
  for (const r of records) {
    if (r.notRun) continue;
    for (const n of [r.target.from, r.target.toNode]) {
      const p = n ? pidOf.get(n) : undefined;
      if (typeof p === 'string') {
        r.notRun = { status: 'error', why: p };
        break;
      }
    }
  }
  mark('pids');

  // ---- agents: listeners where the doctor must answer, one client socket per TCP/UDP probe
  const runnable = records.filter((r) => !r.notRun);
  const listeners = listenersFor(runnable.map((r) => r.target));
  const hasV6 = new Set(plan.nodes.filter((n) => n.interfaces.some((i) => i.ip6)).map((n) => n.name));
  const needs = [...pids].map(([node, pid]) => {
    const mine = runnable.filter((r) => r.target.from === node);
    const count = (proto: 'tcp' | 'udp', v6: boolean) =>
      mine.filter((r) => r.target.proto === proto && (r.target.family === 6) === v6).length;
    const v6 = hasV6.has(node);
    return {
      node,
      pid,
      listen: listeners.get(node) ?? [],
      tcp: count('tcp', false),
      udp: count('udp', false),
      // a node with IPv6: AF_INET6 client sockets, an ICMPv6 socket, listeners answering both families
      ...(v6 ? { tcp6: count('tcp', true), udp6: count('udp', true), v6: true } : {}),
    };
  });
  const counters = new Map<string, NodeCounters>();
  const icmpMode = new Map<string, 'socket' | 'ping'>();
  const icmp6Mode = new Map<string, 'socket' | 'ping'>();
  const pacing: Pacing = {};
  let drops: DataplaneRun['drops'];
  let neighShort: DataplaneRun['neighShort'];
  let fleet: ProbeFleet | undefined;
  let mode = 'none';
  const brokerFailures: BrokerFailure[] = [];
  try {
    fleet = needs.length ? await ProbeFleet.start(needs, opts) : undefined;
    mode = fleet?.mode ?? 'none';
    brokerFailures.push(...(fleet?.brokerFailures ?? []));
    mark('agents');
    for (const [node, err] of fleet?.failed ?? []) {
      for (const r of records)
        if (!r.notRun && (r.target.from === node || r.target.toNode === node))
          r.notRun = { status: 'error', why: `could not start the probe agent: ${err.message}` };
    }
    for (const ep of fleet?.endpoints.values() ?? []) {
      icmpMode.set(ep.node, ep.icmp);
      if (hasV6.has(ep.node)) icmp6Mode.set(ep.node, ep.icmp6);
    }

    // ---- resolve ports and listeners
    const verdicts = PolicyVerdicts.of(plan);
    for (const r of records) {
      if (r.notRun || r.target.proto === 'icmp' || r.answer !== 'doctor' || !r.target.toNode) continue;
      const ep = fleet!.endpoints.get(r.target.toNode)!;
      const want = r.target.kind === 'mesh' ? DOCTOR_PORT : (r.target.listenPort ?? r.target.port!);
      const l = ep.listener(r.target.proto, want);
      if (l?.port !== undefined) {
        r.listener = l;
        // the mesh probes whatever port the listener got; an expectation probes its own port (a VIP's may differ)
        r.port = r.target.kind === 'mesh' ? l.port : r.target.port!;
        // a fallback port may fall under other policies than the doctor's usual one
        if (r.target.kind === 'mesh') r.target = meshAtPort(r.target, l.port, verdicts);
      } else if (l?.code === 'EADDRINUSE' && r.target.kind !== 'mesh') {
        // something in the container already serves the port: its own software must answer, like a declared one
        r.answer = 'node';
        r.listener = l;
      } else {
        r.notRun = {
          status: 'error',
          why: `could not start the doctor's ${r.target.proto} listener in ${r.target.toNode} on port ${want}${r.target.kind === 'mesh' ? '+' : ''}: ${l?.code ?? 'no answer'}`,
        };
      }
    }
    mark('listeners');

    const endpoints = fleet?.endpoints;
    const readCounters = async (which: 'before' | 'after') => {
      await Promise.all(
        [...(endpoints?.values() ?? [])].map(async (ep) => {
          const c = await ep.counters();
          const nc = counters.get(ep.node) ?? {};
          if (c) nc[which] = c;
          counters.set(ep.node, nc);
        }),
      );
    };
    await readCounters('before');
    mark('counters');

    // ---- phase 1: every probe once, paced (below)
    const salt = randomBytes(6).toString('hex');
    let seq = 0;
    const specOf = (r: ProbeRecord, ms: number): ProbeSpec => {
      const token = `labctl-${salt}-${++seq}`;
      const t = r.target;
      // an address OVN translates gets its own ICMP identifier (see ProbeSpec.ownSocket)
      if (t.proto === 'icmp')
        return { proto: 'icmp', ip: t.dstIp, timeoutMs: ms, token, ...(t.via ? { ownSocket: true } : {}) };
      return {
        proto: t.proto,
        ip: t.dstIp,
        port: r.port!,
        timeoutMs: ms,
        ...(r.answer === 'doctor' || t.proto === 'udp' ? { token } : {}),
      };
    };
    const bigSpec = (r: ProbeRecord, ms: number): ProbeSpec | undefined => {
      const mtu = r.target.fwd?.mtu;
      if (!mtu || mtu < 576) return undefined;
      return {
        proto: 'icmp',
        ip: r.target.dstIp,
        timeoutMs: ms,
        token: `labctl-${salt}-${++seq}`,
        // the packet fills the MTU: IPv4 header 20 + ICMP 8, IPv6 header 40 + ICMPv6 8 (never fragmented on the way)
        size: mtu - bigOverhead(r.target),
        df: true,
        ...(r.target.via ? { ownSocket: true } : {}),
      };
    };
    const todo = records.filter((r) => !r.notRun);
    // Paced (pace.ts, docs/probes.md "Pacing"): the probes go out pair by pair, round-robin over the nodes, as
    // fast as answers come back (an adaptive window that halves when answers stop coming), and never faster than
    // the host's neighbour table can hold the pairs' entries. Sending everything at once overran the host: at 50
    // nodes the mesh needs 2450 neighbour entries in a table of 1024 shared by every namespace.
    const signalOf = (res: ProbeResult): [Signal, number?] =>
      res.outcome === 'pass' || res.outcome === 'refused' || res.outcome === 'mismatch'
        ? ['answer', res.ms]
        : res.outcome === 'timeout' || res.outcome === 'unreachable'
          ? ['silent']
          : ['neutral'];
    const probeOnce = async (r: ProbeRecord, ms: number, pacer: Pacer, ticket: Ticket) => {
      const ep = endpoints!.get(r.target.from)!;
      const res = await ep.probe(specOf(r, ms));
      ticket.done(...signalOf(res));
      r.attempts++;
      if (r.result) r.first = r.result;
      r.result = res;
      if (r.target.proto === 'icmp' && res.outcome === 'pass') {
        const big = bigSpec(r, ms);
        if (big) {
          const t = await pacer.acquire(true);
          r.big = await ep.probe(big);
          t.done(...signalOf(r.big));
        }
      }
    };
    const neigh = readNeighTable();
    const groups = pairGroups(todo, (r) => ({ from: r.target.from, to: r.target.toNode ?? r.target.dstIp }));
    const present = countNeighEntries([...pids.values()]);
    const budget =
      opts.neighBudget === false
        ? new NeighBudget(Number.POSITIVE_INFINITY)
        : NeighBudget.forTable(neigh, groups.length, present);
    const pacer = new Pacer({
      ...(opts.paceInitial !== undefined ? { initial: opts.paceInitial } : {}),
      ...(opts.paceMax !== undefined ? { max: opts.paceMax } : {}),
    });
    const veths = [...new Set(plan.nodes.flatMap((n) => n.interfaces.map((i) => i.hostVeth)))];
    const dropsBefore = readDrops(veths);
    const flying: Promise<void>[] = [];
    // A host whose neighbour table cannot hold the mesh: probe what fits within a bounded time (paced to the
    // table, so other labs on the host keep their entries), leave the rest unprobed, and report the table as the
    // one root cause with the sysctl that fixes it (explain.ts).
    if (neigh && opts.neighBudget !== false && !NeighBudget.fits(neigh, groups.length, present))
      neighShort = { table: neigh, pairs: groups.length, room: NeighBudget.room(neigh), present };
    const deadline = performance.now() + (opts.neighDeadlineMs ?? 75_000);
    for (const group of groups) {
      if (!(await budget.admit(neighShort ? deadline : undefined))) {
        for (const r of group)
          r.notRun = {
            status: 'skip',
            why: `not probed: the host's neighbour table has room for ${Math.max(0, neighShort!.room)} more entries and this lab's probes need ${2 * neighShort!.pairs} (see the "host neighbour table" result)`,
          };
        neighShort!.unprobed = (neighShort!.unprobed ?? 0) + group.length;
        continue;
      }
      for (const r of group) {
        const ticket = await pacer.acquire(r.target.expect === 'pass');
        flying.push(probeOnce(r, timeoutMs, pacer, ticket));
      }
    }
    await Promise.all(flying);
    flying.length = 0;
    mark('probes');
    pacing.first = { ...pacer.stats };

    // ---- phase 2: every probe that should have passed and did not is probed again, alone at a low rate (a lost
    // SYN under load is not a verdict), with an ICMP echo over the same path for contrast
    for (let round = 0; opts.retry !== false && endpoints && round < impaired.retryRounds; round++) {
      const failedPass = todo.filter(
        (r) => r.target.expect === 'pass' && r.result && r.result.outcome !== 'pass',
      );
      const bigFailed = todo.filter(
        (r) => r.target.proto === 'icmp' && r.result?.outcome === 'pass' && r.big && r.big.outcome !== 'pass',
      );
      if (!failedPass.length && !bigFailed.length) break;
      const icmpDone = new Map<string, ProbeResult>();
      for (const r of todo)
        if (r.target.proto === 'icmp' && r.result)
          icmpDone.set(`${r.target.from}>${r.target.dstIp}`, r.result);
      if (failedPass.length || bigFailed.length) {
        const need = new Map<
          string,
          { node: string; tcp: number; udp: number; tcp6: number; udp6: number }
        >();
        for (const r of failedPass) {
          if (r.target.proto === 'icmp') continue;
          const n = need.get(r.target.from) ?? { node: r.target.from, tcp: 0, udp: 0, tcp6: 0, udp6: 0 };
          n[r.target.family === 6 ? (`${r.target.proto}6` as const) : r.target.proto]++;
          need.set(r.target.from, n);
        }
        await fleet!.ensureCapacity([...need.values()]);
        mark('retry-agents');
        // at most reprobeWindow answering at once and one start per reprobeGapMs; a probe still silent after
        // 100 ms gives its slot to the next (it keeps waiting for its answer until its own limit)
        const slow = new Pacer({
          initial: opts.reprobeWindow ?? 8,
          max: opts.reprobeWindow ?? 8,
          adaptive: false,
          gapMs: opts.reprobeGapMs ?? 10,
          lossMinMs: 100,
          lossMaxMs: 100,
        });
        const retryPass = new Set(failedPass);
        const again = [...new Set([...failedPass, ...bigFailed])];
        for (const group of pairGroups(again, (r) => ({
          from: r.target.from,
          to: r.target.toNode ?? r.target.dstIp,
        }))) {
          // (a table too small for the run: what does not fit keeps its first result)
          if (!(await budget.admit(neighShort ? deadline + 30_000 : undefined))) continue;
          for (const r of group) {
            const ticket = await slow.acquire(true);
            if (retryPass.has(r)) {
              flying.push(probeOnce(r, retryTimeoutMs, slow, ticket));
              if (r.target.proto !== 'icmp') {
                const known = icmpDone.get(`${r.target.from}>${r.target.dstIp}`);
                if (known) r.icmp = known;
                else
                  flying.push(
                    slow
                      .run(
                        true,
                        () =>
                          endpoints.get(r.target.from)!.probe({
                            proto: 'icmp',
                            ip: r.target.dstIp,
                            timeoutMs: retryTimeoutMs,
                            token: `labctl-${salt}-${++seq}`,
                            ...(r.target.via ? { ownSocket: true } : {}),
                          }),
                        signalOf,
                      )
                      .then((res) => {
                        r.icmp = res;
                      }),
                  );
              }
            } else {
              const big = bigSpec(r, retryTimeoutMs);
              flying.push(
                (async () => {
                  if (big) {
                    r.big = await endpoints.get(r.target.from)!.probe(big);
                    ticket.done(...signalOf(r.big));
                  } else ticket.done('neutral');
                })(),
              );
            }
          }
        }
        mark('reprobes-sent');
        await Promise.all(flying);
        pacing.reprobe = { count: again.length, ...slow.stats };
        mark('retries');
      }
    }
    pacing.neighWaitMs = budget.waitedMs;
    pacing.neighPairsPerWindow = Number.isFinite(budget.perWindow) ? budget.perWindow : null;
    drops = { before: await dropsBefore, after: await readDrops(veths), ...(neigh ? { neigh } : {}) };
    await readCounters('after');
    mark('counters-after');
  } finally {
    await fleet?.stop();
    mark('stopped');
  }

  const run: DataplaneRun = {
    ...(brokerFailures.length ? { brokerFailures } : {}),
    plan,
    records,
    counters,
    pids,
    mode,
    icmp: icmpMode,
    ...(icmp6Mode.size ? { icmp6: icmp6Mode } : {}),
    timings,
    results: new Map(),
    pacing,
    ...(drops ? { drops } : {}),
    ...(neighShort ? { neighShort } : {}),
  };
  run.results = await buildResults(ctx, run);
  mark('explained');
  if (process.env.LABCTL_DEBUG)
    process.stderr.write(
      `[dataplane] ${records.length} probes, agents ${mode} (${fleet?.agents.length ?? 0} processes)${brokerFailures.length ? `, broker failures: ${brokerFailures.map((f) => f.error).join('; ')}` : ''}, ms since start: ${JSON.stringify(timings)}, pacing ${JSON.stringify(pacing)}\n`,
    );
  return run;
}
