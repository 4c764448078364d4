/**
 * What the lab's policies let through, from the plan alone (pure, synchronous; docs/lab-file.md "policies").
 *
 * A flow is what its source starts: (source address, destination node and address, protocol, port). The first
 * policy in file order that matches it decides — `allow` → pass, `deny` → blocked — and a flow no policy matches
 * passes. Policies are stateful: replies and later packets of a connection that passed pass too, whatever the
 * policies say about the reverse direction, so only the direction that starts a connection is ever asked about.
 *
 * This mirrors what compileAcls() (compile.ts) installs: a policy's `from` is matched against the source address
 * the receiving switch sees (`ip4.src`, so after SNAT the public address), its `to` by the port the packet is
 * delivered to when it names a node or group (`outport`), else by the destination address after DNAT (`ip4.dst`).
 *
 * IPv6 (docs/probes.md "IPv6"): a policy's `cidrs` may hold IPv6 CIDRs (and a node or group end both families'
 * addresses); an IPv6 flow is matched against those only, as compileAcls' `ip6.src`/`ip6.dst` ACLs do, and `icmp`
 * covers ICMPv6.
 *
 * Cost: the policies whose `from` holds a source address are found once per address (nodes × policies), then a
 * flow looks only at those, in order.
 */
import { type Cidr6, contains6, ip6ToBig, isV6, parseCidr6 } from '../lab/ip6-match.js';
import { type Cidr, contains, ipToInt, parseCidr } from '../lab/ipv4.js';
import type { Plan, PlanPolicy } from './types.js';

export type FlowProto = 'tcp' | 'udp' | 'icmp';

export interface Flow {
  /** the source address as the receiver sees it (a public NAT address after SNAT) */
  srcIp: string;
  /** the node the packet is delivered to, if any */
  dstNode?: string;
  /** the destination address as delivered (after DNAT) */
  dstIp: string;
  proto: FlowProto;
  /** tcp/udp destination port */
  port?: number;
}

export interface PolicyVerdict {
  result: 'pass' | 'blocked';
  /** the policy that decided; absent when none matched (pass by default) */
  policy?: PlanPolicy;
}

interface Compiled {
  p: PlanPolicy;
  from: Cidr[];
  from6: Cidr6[];
  toNodes?: ReadonlySet<string>;
  to: Cidr[];
  to6: Cidr6[];
}

function cidrs(list: readonly string[]): Cidr[] {
  const out: Cidr[] = [];
  for (const text of list) {
    if (text.includes(':')) continue;
    const c = parseCidr(text.includes('/') ? text : `${text}/32`);
    if (c.ok) out.push(c.cidr);
  }
  return out;
}

function cidrs6(list: readonly string[]): Cidr6[] {
  const out: Cidr6[] = [];
  for (const text of list) {
    const c = text.includes(':') ? parseCidr6(text) : undefined;
    if (c) out.push(c);
  }
  return out;
}

const within = (list: readonly Cidr[], ip: number) => list.some((c) => contains(c, ip));
const within6 = (list: readonly Cidr6[], ip: bigint) => list.some((c) => contains6(c, ip));

function protoMatches(p: PlanPolicy, proto: FlowProto, port: number | undefined): boolean {
  if (p.proto === 'any') return true;
  if (p.proto !== proto) return false;
  if (!p.port) return true;
  return port !== undefined && port >= p.port.min && port <= p.port.max;
}

/** The verdicts of one plan's policies; build once, ask per flow. */
export class PolicyVerdicts {
  private readonly compiled: Compiled[];
  private readonly bySource = new Map<string, Compiled[]>();

  constructor(policies: readonly PlanPolicy[]) {
    this.compiled = [...policies]
      .sort((a, b) => a.index - b.index)
      .map((p) => ({
        p,
        from: cidrs(p.from.cidrs),
        from6: cidrs6(p.from.cidrs),
        ...(p.to.nodes ? { toNodes: new Set(p.to.nodes) } : {}),
        to: cidrs(p.to.cidrs),
        to6: cidrs6(p.to.cidrs),
      }));
  }

  static of(plan: Pick<Plan, 'policies'>): PolicyVerdicts {
    return new PolicyVerdicts(plan.policies ?? []);
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  /** The policies whose `from` holds this source address, in order (memoized per address). */
  private forSource(srcIp: string): Compiled[] {
    let list = this.bySource.get(srcIp);
    if (!list) {
      if (isV6(srcIp)) {
        const ip6 = ip6ToBig(srcIp)!;
        list = this.compiled.filter((c) => within6(c.from6, ip6));
        this.bySource.set(srcIp, list);
        return list;
      }
      const ip = ipToInt(srcIp);
      list = this.compiled.filter((c) => within(c.from, ip));
      this.bySource.set(srcIp, list);
    }
    return list;
  }

  verdict(f: Flow): PolicyVerdict {
    if (!this.compiled.length) return { result: 'pass' };
    let dst: number | undefined;
    let dst6: bigint | undefined;
    const v6 = isV6(f.dstIp);
    for (const c of this.forSource(f.srcIp)) {
      if (!protoMatches(c.p, f.proto, f.port)) continue;
      if (c.toNodes) {
        if (f.dstNode === undefined || !c.toNodes.has(f.dstNode)) continue;
      } else if (v6) {
        dst6 ??= ip6ToBig(f.dstIp)!;
        if (!within6(c.to6, dst6)) continue;
      } else {
        dst ??= ipToInt(f.dstIp);
        if (!within(c.to, dst)) continue;
      }
      return { result: c.p.action === 'allow' ? 'pass' : 'blocked', policy: c.p };
    }
    return { result: 'pass' };
  }
}

/** One flow's verdict (builds the index: for many flows, use PolicyVerdicts). */
export function policyVerdict(plan: Pick<Plan, 'policies'>, flow: Flow): PolicyVerdict {
  return PolicyVerdicts.of(plan).verdict(flow);
}

/** A policy as the lab file writes it: `{ deny: { from: web, to: db, proto: icmp } }`. */
export function policyText(p: PlanPolicy): string {
  const port = p.port
    ? `, port: ${p.port.min === p.port.max ? p.port.min : `"${p.port.min}-${p.port.max}"`}`
    : '';
  const proto = p.proto === 'any' ? '' : `, proto: ${p.proto}`;
  return `{ ${p.action}: { from: ${p.from.ref}, to: ${p.to.ref}${proto}${port} } }`;
}
