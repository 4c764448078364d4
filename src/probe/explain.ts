/**
 * From probe records to check results: a verdict per target, and for every failure one cause with the evidence
 * that names it and the command that fixes it (docs/probes.md "Explaining a failure"):
 *   RST / ICMP port-unreachable where the node's own software must answer → no-listener
 *   TCP/UDP silent, ICMP passes, tx offload on / InCsumErrors rose       → checksum-offload (sender's veth)
 *   ovn-trace --ct=new drops or rejects it in an ACL stage                → acl-drop (ACL named, fix acl-del or
 *                                                                            "edit policies" for the lab's own)
 *   small ping passes, don't-fragment ping at MTU−28 does not            → mtu-mismatch
 *   answered although expected blocked                                   → unexpected-reachability
 * A result never passes without a response (or, for an expected-blocked target, without the doctor's own listener
 * up and silence where it should have answered).
 */
import type { Cause, CheckResult, Status } from '../doctor/types.js';
import { dropDelta } from '../drivers/datapath-drops.js';
import type { NbLabState } from '../drivers/ovn.js';
import { formatCommand } from '../exec.js';
import { policyText } from '../plan/policy-verdict.js';
import type { PlanPolicy } from '../plan/types.js';
import type { ProbeResult } from './protocol.js';
import type { DataplaneContext, DataplaneRun, ProbeRecord } from './session.js';
import type { DataplaneCheckId, PathEnd } from './targets.js';
import { type AclRef, aclDelCommand, aclOfLflow, microflow, runTrace, type TraceRun } from './trace.js';

/** Run fn over items with at most n at once. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

const CHECK_IDS: DataplaneCheckId[] = [
  'dataplane.icmp',
  'dataplane.udp',
  'dataplane.tcp',
  'dataplane.service',
];
const MAX_TRACES = 256;

interface Verdict {
  status: Status;
  cause?: Cause;
  evidence: string;
  fix?: string;
  data?: Record<string, unknown>;
}

const nsenterCmd = (pid: number | undefined, args: string[]) =>
  formatCommand('nsenter', ['-t', pid === undefined ? 'PID' : String(pid), '-n', ...args]);

function describe(res: ProbeResult | undefined): string {
  if (!res) return 'not run';
  const ms = `${res.ms} ms`;
  switch (res.outcome) {
    case 'pass':
      return `answered in ${ms}`;
    case 'refused':
      return 'refused';
    case 'timeout':
      return `no answer within ${ms}`;
    case 'unreachable':
      return `unreachable (${res.code ?? 'ICMP'}${res.from ? ` from ${res.from}` : ''})`;
    case 'mismatch':
      return `something else answered: ${res.detail ?? ''}`;
    default:
      return `could not run: ${res.detail ?? res.code ?? 'error'}`;
  }
}

/** Per-run caches for the evidence gatherers (ethtool, traces, ACL lookups). */
class Evidence {
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
}

function delta(run: DataplaneRun, node: string, counter: string): number | undefined {
  const c = run.counters.get(node);
  if (!c?.before || !c.after) return undefined;
  const a = c.after[counter];
  const b = c.before[counter];
  return a === undefined || b === undefined ? undefined : a - b;
}

/** The packet and its reply as ovn-trace microflows (undefined when a MAC of the path is unknown). */
function flows(r: ProbeRecord): {
  fwd?: { sw: string; flow: string; outport?: string };
  rev?: { sw: string; flow: string; outport: string };
} {
  const t = r.target;
  const out: ReturnType<typeof flows> = {};
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

const isAclStage = (stage: string) => /_acl/.test(stage);

/** Explain a silent (or refused-by-the-network) path with ovn-trace: an ACL's drop → acl-drop. */
async function traceExplain(
  ev: Evidence,
  r: ProbeRecord,
  expectPass: boolean,
): Promise<Verdict | { note: string; blockedBy?: string } | undefined> {
  const f = flows(r);
  if (!f.fwd) return { note: 'not traced: the next hop MAC is unknown (no router owns the gateway)' };
  const legs: { leg: 'request' | 'reply'; sw: string; flow: string; ct: string; outport?: string }[] = [
    { leg: 'request', ...f.fwd, ct: 'new' },
  ];
  if (f.rev) legs.push({ leg: 'reply', ...f.rev, ct: 'est,rpl' });
  const notes: string[] = [];
  for (const leg of legs) {
    const tr = await ev.trace(leg.sw, leg.flow, leg.ct, leg.outport);
    if (tr.error) {
      notes.push(`ovn-trace failed: ${tr.error}`);
      break;
    }
    const v = tr.verdict;
    if ((v.verdict === 'drop' || v.verdict === 'reject') && v.step) {
      const s = v.step;
      const where = `${s.stage} (${s.pipeline} of ${s.datapath}, table ${s.table}, logical flow ${s.lflow}, priority ${s.priority})`;
      const trace = {
        leg: leg.leg,
        stage: s.stage,
        pipeline: s.pipeline,
        datapath: s.datapath,
        table: s.table,
        lflow: s.lflow,
        verdict: v.verdict,
        command: tr.command,
      };
      if (isAclStage(s.stage)) {
        const acl = await ev.acl(s.lflow);
        const lab = ev.run.plan.lab;
        const own =
          acl && acl.externalIds['labctl-lab'] === lab && acl.externalIds['labctl-policy'] !== undefined;
        const aclText = acl
          ? `ACL ${acl.uuid.slice(0, 8)}${acl.name ? ` "${acl.name}"` : ''} (${acl.direction} priority ${acl.priority} ${acl.action}: ${acl.match})${acl.owner ? ` on ${acl.owner.kind === 'switch' ? 'switch' : 'port group'} ${acl.owner.name}` : ''}`
          : `the flow's match: ${s.match}`;
        const blockedBy = `ovn-trace: the ${leg.leg} ${v.verdict === 'reject' ? 'is rejected' : 'is dropped'} in ${where} by ${aclText}`;
        if (!expectPass) return { note: blockedBy, blockedBy };
        let fix: string | undefined;
        let evidence = blockedBy;
        if (own) {
          const idx = Number(acl!.externalIds['labctl-policy']);
          const decided = policyOf(ev, r);
          evidence +=
            r.target.kind === 'expect'
              ? `; that is the lab's own policy #${idx} (policies[${idx}]) while expect says this should pass`
              : `; that is the lab's own policy #${idx} (policies[${idx}]) although by the policies this should pass (${decided ? `${policyName(decided)} allows it first` : 'no policy matches it'})`;
          fix = `edit policies in ${ev.ctx.labFile ?? 'lab.yml'} (policies[${idx}] blocks ${r.subject}) or change the expect entry, then labctl up -f ${ev.ctx.labFile ?? 'lab.yml'}`;
        } else if (acl) {
          evidence +=
            acl.externalIds['labctl-lab'] === lab
              ? ' (labelled for this lab but not in its plan)'
              : ' (not from lab.yml)';
          fix = aclDelCommand(acl, ev.run.plan.ovn.nb);
        }
        return {
          status: 'fail',
          cause: 'acl-drop',
          evidence,
          ...(fix ? { fix } : {}),
          data: {
            trace,
            ...(acl
              ? {
                  acl: {
                    uuid: acl.uuid,
                    name: acl.name,
                    direction: acl.direction,
                    priority: acl.priority,
                    match: acl.match,
                    action: acl.action,
                    owner: acl.owner,
                    lab: acl.externalIds['labctl-lab'],
                    own,
                  },
                }
              : {}),
          },
        };
      }
      const note = `ovn-trace: the ${leg.leg} ${v.verdict === 'reject' ? 'is rejected' : 'is dropped'} in ${where}: ${s.match}`;
      if (!expectPass) return { note, blockedBy: note };
      return {
        status: 'fail',
        ...(/port_sec/.test(s.stage) ? { cause: 'address-mismatch' as Cause } : {}),
        evidence: note,
        data: {
          trace,
        },
      };
    }
    if (v.verdict === 'elsewhere')
      notes.push(`ovn-trace: the ${leg.leg} goes to ${v.outputs.join(', ')}, not ${leg.outport}`);
    else if (v.verdict === 'delivered') notes.push(`ovn-trace delivers the ${leg.leg}`);
    else notes.push(`ovn-trace: no verdict for the ${leg.leg}`);
  }
  return { note: notes.join('; ') };
}

/** Checksum offload: ICMP passes, TCP/UDP silent, tx offload on at one end or its peer's InCsumErrors rose. */
async function checksumExplain(ev: Evidence, r: ProbeRecord): Promise<Verdict | undefined> {
  const t = r.target;
  if (t.proto === 'icmp' || !t.fwd) return undefined;
  const icmpPasses = r.icmp?.outcome === 'pass';
  if (r.icmp && !icmpPasses) return undefined;
  const counter = t.proto === 'tcp' ? 'TcpInCsumErrors' : 'UdpInCsumErrors';
  const src = t.fwd;
  const dst = t.rev;
  const [offSrc, offDst] = await Promise.all([
    ev.txOffload(src.node, src.iface),
    dst ? ev.txOffload(dst.node, dst.iface) : Promise.resolve(undefined),
  ]);
  const dDst = t.toNode ? delta(ev.run, t.toNode, counter) : undefined;
  const dSrc = delta(ev.run, t.from, counter);
  const icmpText = r.icmp ? 'ICMP passes' : 'ICMP not probed';
  const pick = (bad: PathEnd, off: boolean | undefined, receiver: string, d: number | undefined): Verdict => {
    const pid = ev.run.pids.get(bad.node);
    const parts = [
      icmpText,
      `${receiver} ${counter} ${d === undefined ? 'unknown' : `+${d}`} during the probes`,
      `tx-checksumming ${off === undefined ? 'unknown' : off ? 'on' : 'off'} on ${bad.node} ${bad.iface}`,
    ];
    return {
      status: 'fail',
      cause: 'checksum-offload',
      evidence: `${parts.join('; ')}: ${bad.node}'s ${bad.iface} sends ${t.proto.toUpperCase()} with unfinished checksums, which the userspace datapath passes on and ${receiver} drops`,
      fix: nsenterCmd(pid, ['ethtool', '-K', bad.iface, 'tx', 'off']),
      data: {
        fixNode: bad.node,
        fixIface: bad.iface,
        counter,
        receiverDelta: d ?? null,
        txOffload: off ?? null,
      },
    };
  };
  if (offSrc === true || (offSrc === undefined && (dDst ?? 0) > 0))
    return pick(src, offSrc, t.toNode ?? t.dstIp, dDst);
  if (dst && (offDst === true || (offDst === undefined && (dSrc ?? 0) > 0)))
    return pick(dst, offDst, t.from, dSrc);
  return undefined;
}

/** MTU: the small ping passed, the don't-fragment ping of MTU−28 bytes did not. */
async function mtuExplain(ev: Evidence, r: ProbeRecord): Promise<Verdict> {
  const t = r.target;
  const size = (t.fwd?.mtu ?? 1500) - 28;
  const ends = [t.fwd, t.rev].filter((e): e is PathEnd => !!e);
  const actual = await Promise.all(ends.map((e) => ev.mtu(e.node, e.iface)));
  const desc = ends
    .map(
      (e, i) =>
        `${e.node} ${e.iface} mtu ${actual[i] ?? '?'}${actual[i] !== undefined && actual[i] !== e.mtu ? ` (planned ${e.mtu})` : ''}`,
    )
    .join(', ');
  const drifted = ends
    .map((e, i) => ({ e, mtu: actual[i] }))
    .find((x) => x.mtu !== undefined && x.mtu !== x.e.mtu);
  let fix: string;
  if (drifted)
    fix = nsenterCmd(ev.run.pids.get(drifted.e.node), [
      'ip',
      'link',
      'set',
      'dev',
      drifted.e.iface,
      'mtu',
      String(drifted.e.mtu),
    ]);
  else
    fix = `give both ends the same mtu in ${ev.ctx.labFile ?? 'lab.yml'} (networks.<name>.mtu or the interface's mtu), then labctl up`;
  return {
    status: 'fail',
    cause: 'mtu-mismatch',
    evidence: `56-byte ping ${describe(r.result)}, but a ${size}-byte ping with don't-fragment ${describe(r.big)}; ${desc}`,
    fix,
    data: {
      bigSize: size,
      big: r.big,
      mtus: Object.fromEntries(ends.map((e, i) => [`${e.node}.${e.iface}`, actual[i] ?? null])),
    },
  };
}

/** The policy a mesh or service target's expectation comes from. */
function policyOf(ev: Evidence, r: ProbeRecord): PlanPolicy | undefined {
  const i = r.target.policy;
  return i === undefined ? undefined : ev.run.plan.policies?.find((p) => p.index === i);
}

const policyName = (p: PlanPolicy) => `policies[${p.index}] ${policyText(p)}`;

/**
 * A policy's ACLs as the plan has them against the NB: which are missing (deleted or changed behind labctl's
 * back). Undefined when the NB could not be read.
 */
async function missingAcls(ev: Evidence, p: PlanPolicy): Promise<string[] | undefined> {
  const nb = await ev.nb();
  if (!nb) return undefined;
  const switchOf = new Map<string, string>();
  for (const sw of nb.switches) for (const u of sw.acls) switchOf.set(u, sw.name);
  const have = new Set(
    nb.acls.map((a) => [switchOf.get(a.uuid) ?? '', a.direction, a.priority, a.match, a.action].join('|')),
  );
  return ev.run.plan.acls
    .filter((a) => a.externalIds['labctl-policy'] === String(p.index))
    .filter((a) => !have.has([a.switch, a.direction, a.priority, a.match, a.action].join('|')))
    .map((a) => `${a.direction} ${a.priority} ${a.action} (${a.match}) on ${a.switch}`);
}

/** Reachable although the lab's own policy blocks it: the policy's ACL is gone or does not act. */
async function policyBypassed(ev: Evidence, r: ProbeRecord, p: PlanPolicy, how: string): Promise<Verdict> {
  const file = ev.ctx.labFile ?? 'lab.yml';
  const missing = await missingAcls(ev, p);
  const acls =
    missing === undefined
      ? 'its ACLs could not be read from the northbound DB'
      : missing.length
        ? `its ACL is missing from the northbound DB (removed behind labctl's back?): ${missing.join('; ')}`
        : 'its ACLs are in the northbound DB, yet they did not block it';
  return {
    status: 'fail',
    cause: 'unexpected-reachability',
    evidence: `${how}: reachable, but ${policyName(p)} blocks ${r.subject}; ${acls}`,
    fix: `labctl up -f ${file}`,
    data: { policy: p.index, ...(missing ? { missingAcls: missing } : {}) },
  };
}

function serviceWhat(r: ProbeRecord): string {
  return `${r.target.proto}/${r.port}`;
}

async function verdictOf(ev: Evidence, r: ProbeRecord): Promise<Verdict> {
  const t = r.target;
  if (r.notRun)
    return {
      status: r.notRun.status,
      evidence: r.notRun.status === 'error' ? `could not run: ${r.notRun.why}` : r.notRun.why,
    };
  const res = r.result!;
  const dst = `${t.dstIp}${r.port !== undefined ? `:${r.port}` : ''}`;
  const who = t.toNode ?? t.dstIp;
  const retried = r.first ? ` (first attempt: ${describe(r.first)})` : '';
  if (res.outcome === 'error')
    return { status: 'error', evidence: `could not run: ${res.detail ?? res.code ?? 'probe error'}` };

  // ---- expected blocked
  if (t.expect === 'blocked') {
    const policy = policyOf(ev, r);
    if (res.outcome === 'pass' || res.outcome === 'mismatch') {
      const how =
        t.proto === 'icmp'
          ? `echo reply from ${t.dstIp} in ${res.ms} ms`
          : res.outcome === 'mismatch'
            ? `${dst} answered (${res.detail})`
            : r.answer === 'doctor'
              ? `the doctor's token came back from ${dst} in ${res.ms} ms`
              : `${t.proto === 'tcp' ? 'connected to' : 'reply from'} ${dst} in ${res.ms} ms`;
      if (policy) return policyBypassed(ev, r, policy, how);
      const rule = `{ deny: { from: ${t.from}, to: ${t.to}, proto: ${t.proto}${r.port !== undefined && t.kind !== 'mesh' ? `, port: ${r.port}` : ''} } }`;
      return {
        status: 'fail',
        cause: 'unexpected-reachability',
        evidence: `${how}: reachable, but the lab expects ${r.subject} to be blocked`,
        fix: `add a policy to ${ev.ctx.labFile ?? 'lab.yml'}: ${rule} (or change the expect entry), then labctl up`,
      };
    }
    const listening =
      r.listener?.port !== undefined
        ? ` while the doctor's ${t.proto} listener on ${who} port ${r.listener.port} was up`
        : '';
    // A verdict derived from the policies names its policy (no trace: the mesh may hold hundreds of these);
    // an expect entry's is traced, so the evidence names the ACL that blocks it.
    if (policy)
      return {
        status: 'pass',
        evidence: `blocked as expected: ${describe(res)}${listening}; ${policyName(policy)} blocks it`,
        data: { policy: policy.index },
      };
    const trace = await traceExplain(ev, r, false);
    const by = trace && 'note' in trace && trace.blockedBy ? `; ${trace.blockedBy}` : '';
    return { status: 'pass', evidence: `blocked as expected: ${describe(res)}${listening}${by}` };
  }

  // ---- expected to pass
  if (res.outcome === 'pass') {
    if (t.proto === 'icmp') {
      if (r.big && r.big.outcome !== 'pass' && r.big.outcome !== 'error') return mtuExplain(ev, r);
      const big =
        r.big?.outcome === 'pass' ? `; ${(t.fwd?.mtu ?? 1500) - 28}-byte don't-fragment ping passes too` : '';
      return {
        status: 'pass',
        evidence: `echo reply from ${res.from ?? t.dstIp} in ${res.ms} ms${big}${retried}`,
      };
    }
    if (r.answer === 'doctor')
      return {
        status: 'pass',
        evidence: `the doctor's token came back from ${dst} in ${res.ms} ms${retried}`,
      };
    if (t.proto === 'tcp')
      return {
        status: 'pass',
        evidence: `SYN-ACK from ${dst} in ${res.ms} ms: ${who} serves ${serviceWhat(r)}${retried}`,
      };
    return { status: 'pass', evidence: `reply from ${res.from ?? dst} in ${res.ms} ms${retried}` };
  }

  if (res.outcome === 'mismatch')
    return {
      status: 'fail',
      evidence: `${dst} answered, but not with the doctor's token: ${res.detail}${r.answer === 'doctor' ? ' (another program holds the port?)' : ''}`,
    };

  if (res.outcome === 'refused') {
    const rst = t.proto === 'tcp' ? `RST from ${dst}` : `ICMP port-unreachable from ${dst}`;
    if (r.answer === 'doctor') {
      // our listener was up: the refusal came from the network (an ACL reject)
      const tr = await traceExplain(ev, r, true);
      if (tr && 'status' in tr) return tr;
      return {
        status: 'fail',
        evidence: `${rst} although the doctor's listener on ${who} was up${tr?.note ? `; ${tr.note}` : ''}`,
      };
    }
    const tr = await traceExplain(ev, r, true);
    if (tr && 'status' in tr && tr.cause === 'acl-drop') return tr;
    const node = t.toNode;
    return {
      status: 'fail',
      cause: 'no-listener',
      evidence: `${rst}: nothing listens on ${serviceWhat(r)} in ${who}${retried}`,
      fix: node
        ? `start the service in ${node} (it declares ${serviceWhat(r)} in listen, but nothing serves it)`
        : `nothing can serve ${serviceWhat(r)} on ${t.dstIp}: change the expect entry`,
    };
  }

  // ---- timeout / unreachable
  if (t.proto === 'icmp') {
    const tr = await traceExplain(ev, r, true);
    if (tr && 'status' in tr) return tr;
    const d = dropsNote(ev.run, r, tr?.note);
    return {
      status: 'fail',
      evidence: `ping ${t.dstIp}: ${describe(res)}${retried}${tr?.note ? `; ${tr.note}` : ''}${d.text}`,
      ...(d.data ? { data: d.data } : {}),
    };
  }
  const cs = await checksumExplain(ev, r);
  if (cs) return cs;
  const tr = await traceExplain(ev, r, true);
  if (tr && 'status' in tr) return tr;
  const icmpText = r.icmp ? `; ICMP ${r.icmp.outcome === 'pass' ? 'passes' : describe(r.icmp)}` : '';
  const note = tr?.note ? `; ${tr.note}` : '';
  if (t.proto === 'udp' && r.answer === 'node' && res.outcome === 'timeout' && r.icmp?.outcome === 'pass')
    return {
      status: 'warn',
      evidence: `no reply and no ICMP port-unreachable from ${dst}: something is bound there but did not answer the probe's datagram${icmpText}${note}`,
    };
  const d = dropsNote(ev.run, r, tr?.note);
  return {
    status: 'fail',
    evidence: `${t.proto} ${dst}: ${describe(res)}${retried}${icmpText}${note}${d.text}`,
    ...(d.data ? { data: d.data } : {}),
  };
}

/**
 * A failure that was probed again alone at a low rate and still got no answer although ovn-trace delivers the
 * packet: name the drop counters of the datapath and the host that rose during the run (src/drivers/datapath-drops).
 */
function dropsNote(
  run: DataplaneRun,
  r: ProbeRecord,
  traceNote: string | undefined,
): { text: string; data?: Record<string, unknown> } {
  if (!run.drops || !traceNote?.includes('ovn-trace delivers')) return { text: '' };
  const veths = [r.target.fwd, r.target.rev]
    .filter((e): e is PathEnd => !!e)
    .map(
      (e) =>
        run.plan.nodes.find((n) => n.name === e.node)?.interfaces.find((i) => i.name === e.iface)?.hostVeth,
    )
    .filter((v): v is string => !!v);
  const dd = dropDelta(run.drops.before, run.drops.after, veths);
  const again = r.attempts > 1 ? 'probed again alone at a low rate: still no answer; ' : '';
  const rose = dd.rose.length ? dd.rose.join(', ') : 'none rose';
  return {
    text: `; ${again}drop counters during the run: ${rose}`,
    data: { drops: dd.rose, ...(dd.tableFulls !== undefined ? { neighTableFulls: dd.tableFulls } : {}) },
  };
}

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
    ...(t.proto === 'icmp' && run.icmp.get(t.from) ? { icmpVia: run.icmp.get(t.from) } : {}),
  };
}

export async function buildResults(
  ctx: DataplaneContext,
  run: DataplaneRun,
): Promise<Map<DataplaneCheckId, CheckResult[]>> {
  const ev = new Evidence(ctx, run);
  const verdicts = await mapLimit(run.records, 6, (r) =>
    verdictOf(ev, r).catch(
      (e: Error) => ({ status: 'error' as const, evidence: `could not explain: ${e.message}` }) as Verdict,
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
  // A check with nothing to probe says why, rather than passing silently. With the mesh as the baseline this is
  // only ever a lab where no two nodes share a routed domain (or, for services, where nothing is left to probe).
  for (const [id, list] of out) {
    if (list.length) continue;
    const what = id.replace('dataplane.', '');
    const why =
      id === 'dataplane.service'
        ? run.plan.nodes.some((n) => n.listen.length)
          ? 'every declared listen port is covered by an expect entry'
          : 'no node declares a listen port'
        : `no two nodes share a routed domain${run.plan.expect.length ? ` and no expect entry uses ${what}` : ''}`;
    list.push({
      id,
      layer: 'dataplane',
      subject: run.plan.lab,
      status: 'skip',
      evidence: `nothing to probe: ${why}`,
    });
  }
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
