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
}

const HEADER = /^(ingress|egress)\(dp="([^"]+)"/;
const STEP = /^\s*(\d+)\.\s+(\S+)\s+\(([^)]*)\):\s+(.*),\s+priority\s+(\d+),\s+uuid\s+([0-9a-f]+)\s*$/;
const OUTPUT = /\/\*\s*output to "([^"]+)"/;

/** Parse ovn-trace's detailed output. The first drop or reject ends the original packet's journey. */
export function parseTrace(text: string, expectOutport?: string): TraceVerdict {
  let pipeline: 'ingress' | 'egress' = 'ingress';
  let datapath = '';
  let step: TraceStep | undefined;
  const outputs: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = HEADER.exec(line);
    if (h) {
      pipeline = h[1] as 'ingress' | 'egress';
      datapath = h[2]!;
      step = undefined;
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
      continue;
    }
    const o = OUTPUT.exec(line);
    if (o) {
      outputs.push(o[1]!);
      continue;
    }
    const action = line.trim();
    if (/^drop;/.test(action)) return { verdict: 'drop', ...(step ? { step } : {}), outputs };
    if (/^reject\b/.test(action)) return { verdict: 'reject', ...(step ? { step } : {}), outputs };
    if (/no (logical flow )?match|implicit drop/i.test(action))
      return { verdict: 'drop', ...(step ? { step } : {}), outputs };
  }
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
  /** ICMP: echo request (8, default) or reply (0) */
  icmpType?: number;
  /** ICMP payload size → ip length is not modelled by ovn-trace; kept for the record */
}

/** The microflow ovn-trace takes (its own expression language; one argv element, never a shell string). */
export function microflow(f: FlowSpec): string {
  const parts = [
    `inport == "${f.inport}"`,
    `eth.src == ${f.ethSrc}`,
    `eth.dst == ${f.ethDst}`,
    `ip4.src == ${f.ipSrc}`,
    `ip4.dst == ${f.ipDst}`,
    'ip.ttl == 64',
  ];
  if (f.proto === 'icmp') parts.push(`icmp4.type == ${f.icmpType ?? 8}`, 'icmp4.code == 0');
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
    ...(opts.ct ? [`--ct=${opts.ct}`] : []),
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
