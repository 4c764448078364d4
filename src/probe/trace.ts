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

import { map, num, parseTables, str } from '../drivers/ovsdb-json.js';
import { formatCommand, run } from '../exec.js';

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
  const command = formatCommand('ovn-trace', args);
  try {
    const r = await run('ovn-trace', args, { timeoutMs: 20_000, reject: false });
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

export interface AclRef {
  uuid: string;
  name: string;
  direction: string;
  priority: number;
  match: string;
  action: string;
  externalIds: Record<string, string>;
  /** where the ACL hangs: a logical switch or a port group */
  owner?: { kind: 'switch' | 'port-group'; name: string };
}

/** The northbound ACL behind a logical flow (by its stage-hint); undefined when the flow is not an ACL's own. */
export async function aclOfLflow(
  lflow: string,
  opts: { sb?: string; nb?: string } = {},
): Promise<AclRef | undefined> {
  if (!/^[0-9a-f]{4,36}$/.test(lflow)) return undefined;
  const sb = opts.sb ? [`--db=${opts.sb}`] : [];
  const nb = opts.nb ? [`--db=${opts.nb}`] : [];
  const json = ['--format=json', '--data=json'];
  const f = await run(
    'ovn-sbctl',
    ['--timeout=10', ...sb, ...json, '--columns=external_ids', 'list', 'Logical_Flow', lflow],
    { timeoutMs: 15_000, reject: false },
  );
  if (f.exitCode !== 0) return undefined;
  const hint = map(parseTables(f.stdout)[0]?.[0] ?? {}, 'external_ids')['stage-hint'];
  if (!hint || !/^[0-9a-f]{4,36}$/.test(hint)) return undefined;
  const a = await run(
    'ovn-nbctl',
    [
      '--timeout=10',
      ...nb,
      ...json,
      '--columns=_uuid,name,direction,priority,match,action,external_ids',
      'list',
      'ACL',
      hint,
    ],
    {
      timeoutMs: 15_000,
      reject: false,
    },
  );
  if (a.exitCode !== 0) return undefined;
  const row = parseTables(a.stdout)[0]?.[0];
  if (!row) return undefined;
  const acl: AclRef = {
    uuid: str(row, '_uuid'),
    name: str(row, 'name'),
    direction: str(row, 'direction'),
    priority: num(row, 'priority') ?? 0,
    match: str(row, 'match'),
    action: str(row, 'action'),
    externalIds: map(row, 'external_ids'),
  };
  const owners = await run(
    'ovn-nbctl',
    [
      '--timeout=10',
      ...nb,
      ...json,
      '--columns=name',
      'find',
      'Logical_Switch',
      `acls{>=}${acl.uuid}`,
      '--',
      '--columns=name',
      'find',
      'Port_Group',
      `acls{>=}${acl.uuid}`,
    ],
    { timeoutMs: 15_000, reject: false },
  );
  if (owners.exitCode === 0) {
    const [ls = [], pg = []] = parseTables(owners.stdout);
    if (ls[0]) acl.owner = { kind: 'switch', name: str(ls[0], 'name') };
    else if (pg[0]) acl.owner = { kind: 'port-group', name: str(pg[0], 'name') };
  }
  return acl;
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
