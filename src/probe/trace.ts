/**
 * ovn-trace, to explain a probe that timed out: simulate the packet through the logical pipeline and name the stage
 * and logical flow that dropped (or rejected) it, then map an ACL stage's flow back to its northbound ACL
 * (Logical_Flow external_ids:stage-hint is the first 8 hex digits of the NB row's UUID).
 *
 * Verified on OVN 23.03: the default (--detailed) output is the only one naming stages. Per pipeline section
 *   egress(dp="lab.vpc-a", inport="…", outport="lab.web.eth1")
 *   ----…
 *    4. ls_out_acl (northd.c:6588): outport == "lab.web.eth1" && tcp.dst == 22, priority 3000, uuid b15c1b62
 *       drop;
 * A reject shows as `reject { … };` followed by the generated reply's own sections; a delivery as
 * `/* output to "lab.web.eth1", type "" *\/`. --summary and --minimal print neither stage names nor uuids.
 *
 * OVN ≥ 23.09 (verified on 25.03, Debian 13) evaluates ACLs in two stages: `ls_out_acl_eval` matches the ACL (its
 * logical flow carries the ACL's stage-hint) and only sets a register (`reg8[17] = 1;` drop, `reg8[18] = 1;`
 * reject); `ls_out_acl_action` then acts on it. Its drop has no `drop;` line any more: the flow's actions end
 * (`reg8[16] = 0; reg8[17] = 0; reg8[18] = 0; /* drop *\/`) and the trace simply stops after them. So a trace that
 * ends after a step whose actions neither continue nor output is an (implicit) drop at that step, and a drop or
 * reject in an `*_acl_action` stage is reported at the `*_acl_eval` step that decided it — the one naming the ACL.
 */

import type { AclRef } from '../drivers/ovn-lflow-acl.js';
import { formatOvnTrace, ovnTrace } from '../drivers/ovn-trace.js';
import { formatCommand } from '../exec.js';

export { type AclRef, aclOfLflow } from '../drivers/ovn-lflow-acl.js';

export interface TraceStep {
  pipeline: 'ingress' | 'egress';
  datapath: string;
  table: number;
  stage: string;
  /** northd source location, e.g. northd.c:6588 */
  source: string;
  match: string;
  priority: number;
  /** logical flow UUID prefix (8 hex digits) */
  lflow: string;
}

export interface TraceVerdict {
  /** drop/reject: stopped at `step`; delivered: reached the expected outport; elsewhere: output only to other ports */
  verdict: 'drop' | 'reject' | 'delivered' | 'elsewhere' | 'unknown';
  step?: TraceStep;
  /** every `output to "…"` seen, in order */
  outputs: string[];
  /** OVN ≥ 23.09: the `*_acl_action` step that carried out the drop/reject decided at `step` (an `*_acl_eval`) */
  actionStep?: TraceStep;
}

const HEADER = /^(ingress|egress)\(dp="([^"]+)"/;
const STEP = /^\s*(\d+)\.\s+(\S+)\s+\(([^)]*)\):\s+(.*),\s+priority\s+(\d+),\s+uuid\s+([0-9a-f]+)\s*$/;
const OUTPUT = /\/\*\s*output to "([^"]+)"/;

/** `*_acl_eval` / `*_acl_after_lb_eval` (OVN ≥ 23.09) and the matching `*_acl_action` stages. */
const ACL_EVAL = /_acl(_after_lb)?_eval$/;
const ACL_ACTION = /_acl(_after_lb)?_action$/;
/** An action line that neither continues the packet nor outputs it: a register or field assignment, a comment. */
const INERT_ACTION = /^(\/\*.*\*\/|[\w.]+(\[[\d.]+\])?\s*=\s*[^=].*;|ct_commit\s*\{.*\};)$/;

/**
 * ovn-trace takes one --ct per ct_next, in order, and assumes `est` for every ct_next past the last one given: a
 * switch with stateful ACLs runs ct_next in its ingress and again in its egress pipeline (and a routed packet
 * crosses two switches), so the state is given this many times. With only one, the egress ACL of a new
 * connection was evaluated as established (`ct_commit { ct_mark.blocked = 1; }` instead of a drop).
 */
const CT_REPEAT = 6;

/** Parse ovn-trace's detailed output. The first drop or reject ends the original packet's journey. */
export function parseTrace(text: string, expectOutport?: string): TraceVerdict {
  let pipeline: 'ingress' | 'egress' = 'ingress';
  let datapath = '';
  let step: TraceStep | undefined;
  /** the action lines of `step` so far, and whether anything was output since it began */
  let actions: string[] = [];
  /** the last ACL evaluation in this pipeline section that decided drop (reg8[17]) or reject (reg8[18]) */
  let aclEval: TraceStep | undefined;
  const outputs: string[] = [];
  const stopped = (verdict: 'drop' | 'reject'): TraceVerdict => {
    if (step && ACL_ACTION.test(step.stage) && aclEval)
      return { verdict, step: aclEval, actionStep: step, outputs };
    return { verdict, ...(step ? { step } : {}), outputs };
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = HEADER.exec(line);
    if (h) {
      pipeline = h[1] as 'ingress' | 'egress';
      datapath = h[2]!;
      step = undefined;
      actions = [];
      aclEval = undefined;
      continue;
    }
    const s = STEP.exec(line);
    if (s) {
      step = {
        pipeline,
        datapath,
        table: Number(s[1]),
        stage: s[2]!,
        source: s[3]!,
        match: s[4]!,
        priority: Number(s[5]),
        lflow: s[6]!,
      };
      actions = [];
      continue;
    }
    const o = OUTPUT.exec(line);
    if (o) {
      outputs.push(o[1]!);
      actions.push('output');
      continue;
    }
    const action = line.trim();
    if (!action || /^-+$/.test(action)) continue;
    actions.push(action);
    if (step && ACL_EVAL.test(step.stage) && /^reg8\[1[78]\]\s*=\s*1;/.test(action)) aclEval = step;
    if (/^drop;/.test(action)) return stopped('drop');
    if (/^reject\b/.test(action)) return stopped('reject');
    if (/no (logical flow )?match|implicit drop/i.test(action)) return stopped('drop');
  }
  // the trace ends right after a step whose actions neither continue nor output the packet: dropped there
  if (step && actions.length > 0 && actions.every((a) => INERT_ACTION.test(a))) return stopped('drop');
  if (expectOutport && outputs.includes(expectOutport)) return { verdict: 'delivered', outputs };
  if (outputs.length) return { verdict: expectOutport ? 'elsewhere' : 'delivered', outputs };
  return { verdict: 'unknown', outputs };
}

export interface FlowSpec {
  inport: string;
  ethSrc: string;
  ethDst: string;
  ipSrc: string;
  ipDst: string;
  proto: 'tcp' | 'udp' | 'icmp';
  /** tcp/udp ports */
  sport?: number;
  dport?: number;
  /** ICMP: echo request (8, default) or reply (0); ICMPv6 (an IPv6 flow): 128 / 129, given as 8 / 0 */
  icmpType?: number;
  /** ICMP payload size → ip length is not modelled by ovn-trace; kept for the record */
}

/** The microflow ovn-trace takes (its own expression language; one argv element, never a shell string). */
export function microflow(f: FlowSpec): string {
  // IPv6: ip6.src/ip6.dst; OVN's ip.ttl is the hop limit there; icmp6 echo request 128, reply 129
  const v6 = f.ipDst.includes(':');
  const ip = v6 ? 'ip6' : 'ip4';
  const parts = [
    `inport == "${f.inport}"`,
    `eth.src == ${f.ethSrc}`,
    `eth.dst == ${f.ethDst}`,
    `${ip}.src == ${f.ipSrc}`,
    `${ip}.dst == ${f.ipDst}`,
    'ip.ttl == 64',
  ];
  if (f.proto === 'icmp' && v6)
    parts.push(`icmp6.type == ${(f.icmpType ?? 8) === 0 ? 129 : 128}`, 'icmp6.code == 0');
  else if (f.proto === 'icmp') parts.push(`icmp4.type == ${f.icmpType ?? 8}`, 'icmp4.code == 0');
  else parts.push(`${f.proto}.src == ${f.sport ?? 49152}`, `${f.proto}.dst == ${f.dport ?? 0}`);
  return parts.join(' && ');
}

export interface TraceRun {
  verdict: TraceVerdict;
  /** the command, printable */
  command: string;
  /** raw output (bounded) */
  output: string;
  error?: string;
}

/**
 * Run ovn-trace on `datapath` (the logical switch the packet enters). ct: the conntrack state to assume
 * ("new" for a first packet, "est,rpl" for a reply). Never throws: a failure comes back as verdict unknown + error.
 */
export async function runTrace(
  datapath: string,
  flow: string,
  opts: { ct?: string; sb?: string; expectOutport?: string } = {},
): Promise<TraceRun> {
  const args = [
    ...(opts.sb ? [`--db=${opts.sb}`] : []),
    ...(opts.ct ? Array.from({ length: CT_REPEAT }, () => `--ct=${opts.ct}`) : []),
    datapath,
    flow,
  ];
  const command = formatOvnTrace(args);
  try {
    const r = await ovnTrace(args);
    if (r.exitCode !== 0 || r.timedOut)
      return {
        verdict: { verdict: 'unknown', outputs: [] },
        command,
        output: r.stdout.slice(0, 20_000),
        error: r.timedOut ? 'ovn-trace timed out' : r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`,
      };
    return { verdict: parseTrace(r.stdout, opts.expectOutport), command, output: r.stdout.slice(0, 20_000) };
  } catch (e) {
    return { verdict: { verdict: 'unknown', outputs: [] }, command, output: '', error: (e as Error).message };
  }
}

/** The command that removes exactly this ACL. */
/** ovn-nbctl arguments that delete exactly this ACL from its switch or port group. */
export function aclDelArgs(acl: {
  owner?: { kind: string; name: string };
  direction?: string;
  priority?: number;
  match?: string;
}): string[] | undefined {
  if (!acl.owner || !acl.direction || acl.priority === undefined || !acl.match) return undefined;
  return [
    ...(acl.owner.kind === 'port-group' ? ['--type=port-group'] : []),
    'acl-del',
    acl.owner.name,
    acl.direction,
    String(acl.priority),
    acl.match,
  ];
}

export function aclDelCommand(acl: AclRef, nb?: string): string | undefined {
  const args = aclDelArgs(acl);
  return args ? formatCommand('ovn-nbctl', [...(nb ? [`--db=${nb}`] : []), ...args]) : undefined;
}
