/**
 * Gathering the evidence a failed (or unexpectedly answered) probe needs before its verdict is decided
 * (verdict.ts): ethtool's tx offload at the path's ends, the ends' MTUs, ovn-trace of the request and the reply
 * and the NB ACL behind an ACL stage, the lab's NB ACLs against the plan. Per-run caches; traces are bounded
 * (MAX_TRACES). What is gathered mirrors the decision's order, so nothing is read that cannot change the verdict.
 */
import type { NbLabState } from '../drivers/ovn.js';
import type { Plan, PlanPolicy } from '../plan/types.js';
import type { DataplaneContext, DataplaneRun, ProbeRecord } from './run-types.js';
import { type AclRef, aclOfLflow, microflow, runTrace, type TraceRun } from './trace.js';
import {
  aclStageLflow,
  checksumApplies,
  type DecideEnv,
  decideChecksum,
  pathEnds,
  policyOf,
  type RecordEvidence,
  type TracedLeg,
  type TraceEvidence,
  traceStops,
} from './verdict.js';

const MAX_TRACES = 256;

/** The packet and its reply as ovn-trace microflows (undefined when a MAC of the path is unknown). */
export function traceFlows(r: ProbeRecord): {
  fwd?: { sw: string; flow: string; outport?: string };
  rev?: { sw: string; flow: string; outport: string };
} {
  const t = r.target;
  const out: ReturnType<typeof traceFlows> = {};
  const sport = 49152;
  if (t.fwd?.ethDst) {
    const dstLsp = t.toNode && t.rev ? t.rev.lsp : undefined;
    out.fwd = {
      sw: t.fwd.switch,
      flow: microflow({
        inport: t.fwd.lsp,
        ethSrc: t.fwd.mac,
        ethDst: t.fwd.ethDst,
        ipSrc: t.fwd.ip,
        ipDst: t.dstIp,
        proto: t.proto,
        sport,
        ...(r.port !== undefined ? { dport: r.port } : {}),
      }),
      ...(dstLsp ? { outport: dstLsp } : {}),
    };
  }
  if (t.rev?.ethDst && t.fwd) {
    out.rev = {
      sw: t.rev.switch,
      flow: microflow({
        inport: t.rev.lsp,
        ethSrc: t.rev.mac,
        ethDst: t.rev.ethDst,
        ipSrc: t.dstIp,
        ipDst: t.fwd.ip,
        proto: t.proto,
        ...(t.proto === 'icmp' ? { icmpType: 0 } : { sport: r.port ?? 0, dport: sport }),
      }),
      outport: t.fwd.lsp,
    };
  }
  return out;
}

/**
 * A policy's ACLs as the plan has them, against the NB rows: the ones missing (deleted or changed behind labctl's
 * back). Pure.
 */
export function missingAclsOf(plan: Plan, p: PlanPolicy, nb: NbLabState): string[] {
  const switchOf = new Map<string, string>();
  for (const sw of nb.switches) for (const u of sw.acls) switchOf.set(u, sw.name);
  const have = new Set(
    nb.acls.map((a) => [switchOf.get(a.uuid) ?? '', a.direction, a.priority, a.match, a.action].join('|')),
  );
  return plan.acls
    .filter((a) => a.externalIds['labctl-policy'] === String(p.index))
    .filter((a) => !have.has([a.switch, a.direction, a.priority, a.match, a.action].join('|')))
    .map((a) => `${a.direction} ${a.priority} ${a.action} (${a.match}) on ${a.switch}`);
}

/** Per-run readers with caches (ethtool, MTUs, traces, ACL lookups, the NB rows). */
export class Evidence {
  private offload = new Map<string, Promise<boolean | undefined>>();
  private traces = new Map<string, Promise<TraceRun>>();
  private acls = new Map<string, Promise<AclRef | undefined>>();
  private mtus = new Map<string, Promise<number | undefined>>();
  private nbState?: Promise<NbLabState | undefined>;
  tracesRun = 0;

  constructor(
    readonly ctx: DataplaneContext,
    readonly run: DataplaneRun,
  ) {}

  txOffload(node: string, iface: string): Promise<boolean | undefined> {
    const key = `${node}.${iface}`;
    let p = this.offload.get(key);
    if (!p) {
      const pid = this.run.pids.get(node);
      p = (
        this.ctx.facts
          ? this.ctx.facts.txOffload(node, iface)
          : pid === undefined
            ? Promise.resolve(undefined)
            : this.ctx.host.links.txOffload(iface, pid)
      ).catch(() => undefined);
      this.offload.set(key, p);
    }
    return p;
  }

  mtu(node: string, iface: string): Promise<number | undefined> {
    const key = `${node}.${iface}`;
    let p = this.mtus.get(key);
    if (!p) {
      const pid = this.run.pids.get(node);
      const state = this.ctx.facts
        ? this.ctx.facts.nsState(node)
        : pid === undefined
          ? Promise.reject(new Error('no pid'))
          : this.ctx.host.links.nsState(pid);
      p = state.then((s) => s.links.find((l) => l.name === iface)?.mtu).catch(() => undefined);
      this.mtus.set(key, p);
    }
    return p;
  }

  trace(sw: string, flow: string, ct: string, expectOutport?: string): Promise<TraceRun> {
    const key = `${sw}\0${flow}\0${ct}`;
    let p = this.traces.get(key);
    if (!p) {
      if (this.tracesRun >= MAX_TRACES)
        return Promise.resolve({
          verdict: { verdict: 'unknown', outputs: [] },
          command: '',
          output: '',
          error: `not traced: more than ${MAX_TRACES} failures`,
        });
      this.tracesRun++;
      p = runTrace(sw, flow, {
        ct,
        ...(this.run.plan.ovn.remote ? { sb: this.run.plan.ovn.remote } : {}),
        ...(expectOutport ? { expectOutport } : {}),
      });
      this.traces.set(key, p);
    }
    return p;
  }

  /** the lab's NB rows (the doctor's shared read when it has one), once per run */
  nb(): Promise<NbLabState | undefined> {
    if (!this.nbState) {
      const facts = this.ctx.facts;
      this.nbState = (facts?.nb ? facts.nb() : this.ctx.ovn.readLab(this.run.plan.lab)).catch(
        () => undefined,
      );
    }
    return this.nbState;
  }

  acl(lflow: string): Promise<AclRef | undefined> {
    let p = this.acls.get(lflow);
    if (!p) {
      const ovn = this.run.plan.ovn;
      p = aclOfLflow(lflow, {
        ...(ovn.remote ? { sb: ovn.remote } : {}),
        ...(ovn.nb ? { nb: ovn.nb } : {}),
      }).catch(() => undefined);
      this.acls.set(lflow, p);
    }
    return p;
  }

  /** ovn-trace the request and, unless it stops, the reply; the ACL behind an ACL stage that stopped it. */
  async traceOf(r: ProbeRecord): Promise<TraceEvidence> {
    const f = traceFlows(r);
    if (!f.fwd)
      return { untraced: 'not traced: the next hop MAC is unknown (no router owns the gateway)', legs: [] };
    const want: { leg: 'request' | 'reply'; sw: string; flow: string; ct: string; outport?: string }[] = [
      { leg: 'request', ...f.fwd, ct: 'new' },
    ];
    if (f.rev) want.push({ leg: 'reply', ...f.rev, ct: 'est,rpl' });
    const legs: TracedLeg[] = [];
    for (const w of want) {
      const run = await this.trace(w.sw, w.flow, w.ct, w.outport);
      legs.push({ leg: w.leg, run, ...(w.outport ? { outport: w.outport } : {}) });
      if (run.error || traceStops(run)) break;
    }
    const tr: TraceEvidence = { legs };
    const lflow = aclStageLflow(tr);
    if (lflow) {
      const acl = await this.acl(lflow);
      if (acl) tr.acl = acl;
    }
    return tr;
  }
}

/** The run's data a decision consults (verdict.ts DecideEnv). */
export function decideEnv(ctx: DataplaneContext, run: DataplaneRun): DecideEnv {
  return {
    plan: run.plan,
    ...(ctx.labFile ? { labFile: ctx.labFile } : {}),
    pids: run.pids,
    counters: run.counters,
    ...(run.drops ? { drops: run.drops } : {}),
  };
}

/** Gather what the decision of record `r` needs, in the decision's own order (verdict.ts decideVerdict). */
export async function gatherEvidence(ev: Evidence, env: DecideEnv, r: ProbeRecord): Promise<RecordEvidence> {
  const res = r.result;
  if (r.notRun || !res || res.outcome === 'error') return {};
  const t = r.target;
  if (t.expect === 'blocked') {
    const policy = policyOf(env.plan, r);
    if (res.outcome === 'pass' || res.outcome === 'mismatch') {
      if (!policy) return {};
      const nb = await ev.nb();
      return { missingAcls: nb ? missingAclsOf(env.plan, policy, nb) : null };
    }
    return policy ? {} : { trace: await ev.traceOf(r) };
  }
  if (res.outcome === 'pass') {
    if (t.proto === 'icmp' && r.big && r.big.outcome !== 'pass' && r.big.outcome !== 'error')
      return { mtus: await Promise.all(pathEnds(r).map((e) => ev.mtu(e.node, e.iface))) };
    return {};
  }
  if (res.outcome === 'mismatch') return {};
  if (res.outcome === 'refused' || t.proto === 'icmp') return { trace: await ev.traceOf(r) };
  if (checksumApplies(r)) {
    const [offSrc, offDst] = await Promise.all([
      ev.txOffload(t.fwd!.node, t.fwd!.iface),
      t.rev ? ev.txOffload(t.rev.node, t.rev.iface) : Promise.resolve(undefined),
    ]);
    const checksum = {
      ...(offSrc !== undefined ? { offSrc } : {}),
      ...(offDst !== undefined ? { offDst } : {}),
    };
    if (decideChecksum(env, r, checksum)) return { checksum };
    return { checksum, trace: await ev.traceOf(r) };
  }
  return { trace: await ev.traceOf(r) };
}
