/**
 * Deciding a probe record's verdict from evidence already gathered (evidence.ts): pure functions, no I/O, so every
 * cause is unit-tested on the records and evidence production builds (test/unit/probe-verdict.test.ts).
 * docs/probes.md "Explaining a failure", in order, the first that applies:
 *   answered although expected blocked                                   → unexpected-reachability
 *   RST / ICMP port-unreachable where the node's own software must answer → no-listener
 *   TCP/UDP silent, ICMP passes, tx offload on / InCsumErrors rose       → checksum-offload (the sending end)
 *   ovn-trace --ct=new drops or rejects it in an ACL stage                → acl-drop (ACL named, fix acl-del or
 *                                                                            "edit policies" for the lab's own)
 *   small ping passes, don't-fragment ping at MTU−28 (IPv6: −48) does not → mtu-mismatch
 * A result never passes without a response (or, for an expected-blocked target, without the doctor's own listener
 * up and silence where it should have answered).
 */

import type { Cause, Status } from '../doctor/types.js';
import { dropDelta } from '../drivers/datapath-drops.js';
import { formatCommand } from '../exec.js';
import { policyText } from '../plan/policy-verdict.js';
import type { Plan, PlanPolicy } from '../plan/types.js';
import type { ProbeResult } from './protocol.js';
import type { DataplaneRun, NodeCounters, ProbeRecord } from './run-types.js';
import type { PathEnd } from './targets.js';
import { type AclRef, aclDelCommand, type TraceRun } from './trace.js';

export interface Verdict {
  status: Status;
  cause?: Cause;
  evidence: string;
  fix?: string;
  data?: Record<string, unknown>;
}

/** What a decision may consult besides the record and its evidence: the run's own data. */
export interface DecideEnv {
  plan: Plan;
  labFile?: string;
  pids: Map<string, number>;
  counters: Map<string, NodeCounters>;
  drops?: DataplaneRun['drops'];
}

export interface TracedLeg {
  leg: 'request' | 'reply';
  run: TraceRun;
  outport?: string;
}

/** ovn-trace of the request (and, when it is delivered, of the reply), up to the first drop or failure. */
export interface TraceEvidence {
  /** why it was not traced at all */
  untraced?: string;
  legs: TracedLeg[];
  /** the northbound ACL behind the ACL stage that dropped it (when the lookup found one) */
  acl?: AclRef;
}

/** tx checksum offload at the path's two ends (undefined: could not be read). */
export interface ChecksumEvidence {
  offSrc?: boolean;
  offDst?: boolean;
}

/** Everything gathered for one record (evidence.ts gatherEvidence). */
export interface RecordEvidence {
  trace?: TraceEvidence;
  checksum?: ChecksumEvidence;
  /** the actual MTUs of the path's ends (fwd, rev), for a don't-fragment ping that failed */
  mtus?: (number | undefined)[];
  /** an expected-blocked probe that was answered: its policy's ACLs missing from NB (null: NB unreadable) */
  missingAcls?: string[] | null;
}

const nsenterCmd = (pid: number | undefined, args: string[]) =>
  formatCommand('nsenter', ['-t', pid === undefined ? 'PID' : String(pid), '-n', ...args]);

export function describe(res: ProbeResult | undefined): string {
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

/** The policy a mesh or service target's expectation comes from. */
export function policyOf(plan: Plan, r: ProbeRecord): PlanPolicy | undefined {
  const i = r.target.policy;
  return i === undefined ? undefined : plan.policies?.find((p) => p.index === i);
}

const policyName = (p: PlanPolicy) => `policies[${p.index}] ${policyText(p)}`;

/** A counter's rise in a node's namespace during the run (undefined: not read). */
export function counterDelta(
  counters: Map<string, NodeCounters>,
  node: string,
  counter: string,
): number | undefined {
  const c = counters.get(node);
  if (!c?.before || !c.after) return undefined;
  const a = c.after[counter];
  const b = c.before[counter];
  return a === undefined || b === undefined ? undefined : a - b;
}

const isAclStage = (stage: string) => /_acl/.test(stage);

/** Does the trace stop at a drop or reject with a named step (the legs after it are not traced)? */
export function traceStops(run: TraceRun): boolean {
  return (
    !run.error && (run.verdict.verdict === 'drop' || run.verdict.verdict === 'reject') && !!run.verdict.step
  );
}

/** The stage an ACL lookup is needed for: the ACL stage the trace stopped in, if any. */
export function aclStageLflow(tr: TraceEvidence): string | undefined {
  const last = tr.legs.at(-1)?.run;
  return last && traceStops(last) && isAclStage(last.verdict.step!.stage)
    ? last.verdict.step!.lflow
    : undefined;
}

/** A silent (or refused-by-the-network) path by ovn-trace: an ACL's drop → acl-drop; else a note for evidence. */
export function decideTrace(
  env: DecideEnv,
  r: ProbeRecord,
  tr: TraceEvidence,
  expectPass: boolean,
): Verdict | { note: string; blockedBy?: string } {
  if (tr.untraced) return { note: tr.untraced };
  const notes: string[] = [];
  for (const leg of tr.legs) {
    const run = leg.run;
    if (run.error) {
      notes.push(`ovn-trace failed: ${run.error}`);
      break;
    }
    const v = run.verdict;
    if (traceStops(run)) {
      const s = v.step!;
      const where = `${s.stage} (${s.pipeline} of ${s.datapath}, table ${s.table}, logical flow ${s.lflow}, priority ${s.priority})`;
      const trace = {
        leg: leg.leg,
        stage: s.stage,
        pipeline: s.pipeline,
        datapath: s.datapath,
        table: s.table,
        lflow: s.lflow,
        verdict: v.verdict,
        command: run.command,
      };
      const stopped = v.verdict === 'reject' ? 'is rejected' : 'is dropped';
      if (isAclStage(s.stage))
        return decideAcl(env, r, tr.acl, { leg: leg.leg, stopped, where, match: s.match, trace }, expectPass);
      const note = `ovn-trace: the ${leg.leg} ${stopped} in ${where}: ${s.match}`;
      if (!expectPass) return { note, blockedBy: note };
      return {
        status: 'fail',
        ...(/port_sec/.test(s.stage) ? { cause: 'address-mismatch' as Cause } : {}),
        evidence: note,
        data: { trace },
      };
    }
    if (v.verdict === 'elsewhere')
      notes.push(`ovn-trace: the ${leg.leg} goes to ${v.outputs.join(', ')}, not ${leg.outport}`);
    else if (v.verdict === 'delivered') notes.push(`ovn-trace delivers the ${leg.leg}`);
    else notes.push(`ovn-trace: no verdict for the ${leg.leg}`);
  }
  return { note: notes.join('; ') };
}

function decideAcl(
  env: DecideEnv,
  r: ProbeRecord,
  acl: AclRef | undefined,
  at: { leg: string; stopped: string; where: string; match: string; trace: Record<string, unknown> },
  expectPass: boolean,
): Verdict | { note: string; blockedBy: string } {
  const lab = env.plan.lab;
  const file = env.labFile ?? 'lab.yml';
  const own =
    !!acl && acl.externalIds['labctl-lab'] === lab && acl.externalIds['labctl-policy'] !== undefined;
  const aclText = acl
    ? `ACL ${acl.uuid.slice(0, 8)}${acl.name ? ` "${acl.name}"` : ''} (${acl.direction} priority ${acl.priority} ${acl.action}: ${acl.match})${acl.owner ? ` on ${acl.owner.kind === 'switch' ? 'switch' : 'port group'} ${acl.owner.name}` : ''}`
    : `the flow's match: ${at.match}`;
  const blockedBy = `ovn-trace: the ${at.leg} ${at.stopped} in ${at.where} by ${aclText}`;
  if (!expectPass) return { note: blockedBy, blockedBy };
  let fix: string | undefined;
  let evidence = blockedBy;
  if (own) {
    const idx = Number(acl!.externalIds['labctl-policy']);
    const decided = policyOf(env.plan, r);
    evidence +=
      r.target.kind === 'expect'
        ? `; that is the lab's own policy #${idx} (policies[${idx}]) while expect says this should pass`
        : `; that is the lab's own policy #${idx} (policies[${idx}]) although by the policies this should pass (${decided ? `${policyName(decided)} allows it first` : 'no policy matches it'})`;
    fix = `edit policies in ${file} (policies[${idx}] blocks ${r.subject}) or change the expect entry, then labctl up -f ${file}`;
  } else if (acl) {
    evidence +=
      acl.externalIds['labctl-lab'] === lab
        ? ' (labelled for this lab but not in its plan)'
        : ' (not from lab.yml)';
    fix = aclDelCommand(acl, env.plan.ovn.nb);
  }
  return {
    status: 'fail',
    cause: 'acl-drop',
    evidence,
    ...(fix ? { fix } : {}),
    data: {
      trace: at.trace,
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

/** Is checksum evidence worth gathering: TCP/UDP with a known path, and ICMP passing (or not probed)? */
export function checksumApplies(r: ProbeRecord): boolean {
  const t = r.target;
  if (t.proto === 'icmp' || !t.fwd) return false;
  return !r.icmp || r.icmp.outcome === 'pass';
}

/** Checksum offload: ICMP passes, TCP/UDP silent, tx offload on at one end or its peer's InCsumErrors rose. */
export function decideChecksum(env: DecideEnv, r: ProbeRecord, cs: ChecksumEvidence): Verdict | undefined {
  const t = r.target;
  if (!checksumApplies(r) || t.proto === 'icmp') return undefined;
  // TCP has one MIB for both families; UDP over IPv6 counts in snmp6's Udp6InCsumErrors
  const counter =
    t.proto === 'tcp' ? 'TcpInCsumErrors' : t.family === 6 ? 'Udp6InCsumErrors' : 'UdpInCsumErrors';
  const src = t.fwd!;
  const dst = t.rev;
  const { offSrc, offDst } = cs;
  const dDst = t.toNode ? counterDelta(env.counters, t.toNode, counter) : undefined;
  const dSrc = counterDelta(env.counters, t.from, counter);
  const icmpText = r.icmp ? 'ICMP passes' : 'ICMP not probed';
  const pick = (bad: PathEnd, off: boolean | undefined, receiver: string, d: number | undefined): Verdict => {
    const parts = [
      icmpText,
      `${receiver} ${counter} ${d === undefined ? 'unknown' : `+${d}`} during the probes`,
      `tx-checksumming ${off === undefined ? 'unknown' : off ? 'on' : 'off'} on ${bad.node} ${bad.iface}`,
    ];
    return {
      status: 'fail',
      cause: 'checksum-offload',
      evidence: `${parts.join('; ')}: ${bad.node}'s ${bad.iface} sends ${t.proto.toUpperCase()} with unfinished checksums, which the userspace datapath passes on and ${receiver} drops`,
      fix: nsenterCmd(env.pids.get(bad.node), ['ethtool', '-K', bad.iface, 'tx', 'off']),
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

/** The path's ends whose MTU matters (fwd, then rev). */
export const pathEnds = (r: ProbeRecord): PathEnd[] =>
  [r.target.fwd, r.target.rev].filter((e): e is PathEnd => !!e);

/** MTU: the small ping passed, the don't-fragment ping of MTU−28 bytes did not. */
export function decideMtu(env: DecideEnv, r: ProbeRecord, actual: (number | undefined)[]): Verdict {
  const t = r.target;
  const size = (t.fwd?.mtu ?? 1500) - (t.family === 6 ? 48 : 28);
  const ends = pathEnds(r);
  const desc = ends
    .map(
      (e, i) =>
        `${e.node} ${e.iface} mtu ${actual[i] ?? '?'}${actual[i] !== undefined && actual[i] !== e.mtu ? ` (planned ${e.mtu})` : ''}`,
    )
    .join(', ');
  const drifted = ends
    .map((e, i) => ({ e, mtu: actual[i] }))
    .find((x) => x.mtu !== undefined && x.mtu !== x.e.mtu);
  const fix = drifted
    ? nsenterCmd(env.pids.get(drifted.e.node), [
        'ip',
        'link',
        'set',
        'dev',
        drifted.e.iface,
        'mtu',
        String(drifted.e.mtu),
      ])
    : `give both ends the same mtu in ${env.labFile ?? 'lab.yml'} (networks.<name>.mtu or the interface's mtu), then labctl up`;
  return {
    status: 'fail',
    cause: 'mtu-mismatch',
    evidence: `56-byte ping${t.family === 6 ? ' (ICMPv6)' : ''} ${describe(r.result)}, but a ${size}-byte ping with don't-fragment ${describe(r.big)}; ${desc}`,
    fix,
    data: {
      bigSize: size,
      big: r.big,
      mtus: Object.fromEntries(ends.map((e, i) => [`${e.node}.${e.iface}`, actual[i] ?? null])),
    },
  };
}

/** Reachable although the lab's own policy blocks it: the policy's ACL is gone or does not act. */
export function decidePolicyBypassed(
  env: DecideEnv,
  r: ProbeRecord,
  p: PlanPolicy,
  how: string,
  missing: string[] | null | undefined,
): Verdict {
  const acls =
    missing === undefined || missing === null
      ? 'its ACLs could not be read from the northbound DB'
      : missing.length
        ? `its ACL is missing from the northbound DB (removed behind labctl's back?): ${missing.join('; ')}`
        : 'its ACLs are in the northbound DB, yet they did not block it';
  return {
    status: 'fail',
    cause: 'unexpected-reachability',
    evidence: `${how}: reachable, but ${policyName(p)} blocks ${r.subject}; ${acls}`,
    fix: `labctl up -f ${env.labFile ?? 'lab.yml'}`,
    data: { policy: p.index, ...(missing ? { missingAcls: missing } : {}) },
  };
}

/**
 * A failure that was probed again alone at a low rate and still got no answer although ovn-trace delivers the
 * packet: name the drop counters of the datapath and the host that rose during the run (src/drivers/datapath-drops).
 */
export function dropsNote(
  env: DecideEnv,
  r: ProbeRecord,
  traceNote: string | undefined,
): { text: string; data?: Record<string, unknown> } {
  if (!env.drops || !traceNote?.includes('ovn-trace delivers')) return { text: '' };
  const veths = pathEnds(r)
    .map(
      (e) =>
        env.plan.nodes.find((n) => n.name === e.node)?.interfaces.find((i) => i.name === e.iface)?.hostVeth,
    )
    .filter((v): v is string => !!v);
  const dd = dropDelta(env.drops.before, env.drops.after, veths);
  const again = r.attempts > 1 ? 'probed again alone at a low rate: still no answer; ' : '';
  const rose = dd.rose.length ? dd.rose.join(', ') : 'none rose';
  return {
    text: `; ${again}drop counters during the run: ${rose}`,
    data: { drops: dd.rose, ...(dd.tableFulls !== undefined ? { neighTableFulls: dd.tableFulls } : {}) },
  };
}

/** The evidence text of an answer where a block was expected. */
function answeredHow(r: ProbeRecord, res: ProbeResult, dst: string): string {
  const t = r.target;
  if (t.proto === 'icmp') return `echo reply from ${t.dstIp} in ${res.ms} ms`;
  if (res.outcome === 'mismatch') return `${dst} answered (${res.detail})`;
  if (r.answer === 'doctor') return `the doctor's token came back from ${dst} in ${res.ms} ms`;
  return `${t.proto === 'tcp' ? 'connected to' : 'reply from'} ${dst} in ${res.ms} ms`;
}

const serviceWhat = (r: ProbeRecord) => `${r.target.proto}/${r.port}`;

/** One record's verdict, from its outcome and the evidence gathered for it. Pure. */
export function decideVerdict(env: DecideEnv, r: ProbeRecord, ev: RecordEvidence): Verdict {
  const t = r.target;
  if (r.notRun)
    return {
      status: r.notRun.status,
      evidence: r.notRun.status === 'error' ? `could not run: ${r.notRun.why}` : r.notRun.why,
    };
  const res = r.result!;
  // an IPv6 address with a port is written [addr]:port
  const host = t.family === 6 && r.port !== undefined ? `[${t.dstIp}]` : t.dstIp;
  const dst = `${host}${r.port !== undefined ? `:${r.port}` : ''}`;
  const who = t.toNode ?? t.dstIp;
  const retried = r.first ? ` (first attempt: ${describe(r.first)})` : '';
  if (res.outcome === 'error')
    return { status: 'error', evidence: `could not run: ${res.detail ?? res.code ?? 'probe error'}` };
  const traced = (expectPass: boolean) => (ev.trace ? decideTrace(env, r, ev.trace, expectPass) : undefined);

  // ---- expected blocked
  if (t.expect === 'blocked') {
    const policy = policyOf(env.plan, r);
    if (res.outcome === 'pass' || res.outcome === 'mismatch') {
      const how = answeredHow(r, res, dst);
      if (policy) return decidePolicyBypassed(env, r, policy, how, ev.missingAcls);
      const rule = `{ deny: { from: ${t.from}, to: ${t.to}, proto: ${t.proto}${r.port !== undefined && t.kind !== 'mesh' ? `, port: ${r.port}` : ''} } }`;
      return {
        status: 'fail',
        cause: 'unexpected-reachability',
        evidence: `${how}: reachable, but the lab expects ${r.subject} to be blocked`,
        fix: `add a policy to ${env.labFile ?? 'lab.yml'}: ${rule} (or change the expect entry), then labctl up`,
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
    const trace = traced(false);
    const by = trace && 'note' in trace && trace.blockedBy ? `; ${trace.blockedBy}` : '';
    return { status: 'pass', evidence: `blocked as expected: ${describe(res)}${listening}${by}` };
  }

  // ---- expected to pass
  if (res.outcome === 'pass') {
    if (t.proto === 'icmp') {
      if (r.big && r.big.outcome !== 'pass' && r.big.outcome !== 'error')
        return decideMtu(env, r, ev.mtus ?? []);
      const big =
        r.big?.outcome === 'pass'
          ? `; ${(t.fwd?.mtu ?? 1500) - (t.family === 6 ? 48 : 28)}-byte don't-fragment ping passes too`
          : '';
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
    const tr = traced(true);
    if (r.answer === 'doctor') {
      // our listener was up: the refusal came from the network (an ACL reject)
      if (tr && 'status' in tr) return tr;
      return {
        status: 'fail',
        evidence: `${rst} although the doctor's listener on ${who} was up${tr?.note ? `; ${tr.note}` : ''}`,
      };
    }
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
    const tr = traced(true);
    if (tr && 'status' in tr) return tr;
    const d = dropsNote(env, r, tr?.note);
    return {
      status: 'fail',
      evidence: `ping ${t.dstIp}: ${describe(res)}${retried}${tr?.note ? `; ${tr.note}` : ''}${d.text}`,
      ...(d.data ? { data: d.data } : {}),
    };
  }
  const cs = ev.checksum ? decideChecksum(env, r, ev.checksum) : undefined;
  if (cs) return cs;
  const tr = traced(true);
  if (tr && 'status' in tr) return tr;
  const icmpText = r.icmp ? `; ICMP ${r.icmp.outcome === 'pass' ? 'passes' : describe(r.icmp)}` : '';
  const note = tr?.note ? `; ${tr.note}` : '';
  if (t.proto === 'udp' && r.answer === 'node' && res.outcome === 'timeout' && r.icmp?.outcome === 'pass')
    return {
      status: 'warn',
      evidence: `no reply and no ICMP port-unreachable from ${dst}: something is bound there but did not answer the probe's datagram${icmpText}${note}`,
    };
  const d = dropsNote(env, r, tr?.note);
  return {
    status: 'fail',
    evidence: `${t.proto} ${dst}: ${describe(res)}${retried}${icmpText}${note}${d.text}`,
    ...(d.data ? { data: d.data } : {}),
  };
}
