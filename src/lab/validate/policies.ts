/** policies: each end a node, a group, a network or a CIDR; ports only with tcp or udp. */

import type { z } from 'zod';
import { parseCidr } from '../ipv4.js';
import { formatCidr6, parseCidr6 } from '../ipv6.js';
import type { ruleSchema } from '../schema.js';
import type { LabPolicy } from '../types.js';
import type { PathSeg, ValidateContext } from './context.js';
import { didYouMean } from './suggest.js';

/** ACL priorities are 2000 - index, above OVN's defaults and within its 0-32767 range. */
export const MAX_POLICIES = 1000;

type RuleDoc = z.output<typeof ruleSchema>;

export function validatePolicies(ctx: ValidateContext): LabPolicy[] {
  const { doc, add } = ctx;
  if (doc.policies.length > MAX_POLICIES)
    add(
      ['policies'],
      `${doc.policies.length} policies; at most ${MAX_POLICIES} fit the ACL priority range`,
      'merge policies with groups or CIDRs',
      true,
    );
  const endNames = [...ctx.nodeNames, ...Object.keys(doc.groups), ...ctx.networkNames];
  return doc.policies.map((pol, i) => {
    const action = 'deny' in pol ? 'deny' : 'allow';
    const rule: RuleDoc = 'deny' in pol ? pol.deny : pol.allow;
    const p = ['policies', i, action];
    // Every unknown end first, then every end without an address: the order diagnostics have always had.
    for (const end of ['from', 'to'] as const) checkEndKnown(ctx, rule[end], [...p, end], endNames);
    for (const end of ['from', 'to'] as const) checkEndAddressed(ctx, rule[end], [...p, end]);
    const out: LabPolicy = { action, from: rule.from, to: rule.to, proto: rule.proto };
    if (rule.port !== undefined) {
      const port = checkPort(ctx, rule, [...p, 'port']);
      if (port) out.port = port;
    }
    return out;
  });
}

function checkEndKnown({ doc, add }: ValidateContext, v: string, path: PathSeg[], known: string[]): void {
  if (v in doc.nodes || v in doc.networks || v in doc.groups) return;
  if (policyCidr(v)) return;
  const c6 = parseCidr6(v.includes('/') ? v : `${v}/128`);
  if (c6.ok && c6.hostBitsSet) {
    add(path, `"${v}" has host bits set`, `did you mean ${formatCidr6(c6.cidr)}?`);
    return;
  }
  const c = parseCidr(v.includes('/') ? v : `${v}/32`);
  if (!c.ok || c.hostBitsSet)
    add(
      path,
      `"${v}" is not a node, a group, a network or a CIDR`,
      didYouMean(v, known, 'nodes, groups and networks'),
    );
}

/** A node (or a group of nodes) with no interface has no address an ACL could match. */
function checkEndAddressed({ doc, add }: ValidateContext, v: string, path: PathSeg[]): void {
  const members = doc.groups[v] ?? (v in doc.nodes ? [v] : []);
  const bare = members.filter((m) => doc.nodes[m] && doc.nodes[m]!.interfaces.length === 0);
  if (bare.length && bare.length === members.length)
    add(
      path,
      `${v} has no interfaces, so no address to match`,
      'attach the node to a network, or remove the policy',
    );
}

function checkPort(
  { add }: ValidateContext,
  rule: RuleDoc,
  path: PathSeg[],
): { min: number; max: number } | undefined {
  if (rule.proto !== 'tcp' && rule.proto !== 'udp')
    add(path, `a port needs proto tcp or udp, not ${rule.proto}`, 'add proto: tcp');
  const [lo, hi] = String(rule.port).split('-').map(Number) as [number, number | undefined];
  const max = hi ?? lo;
  if (lo < 1 || max > 65535 || max < lo) {
    add(path, `port "${rule.port}" is not a port or range within 1-65535`, 'e.g. 80 or 8000-8080');
    return undefined;
  }
  return { min: lo, max };
}

/** A policy end written as an IPv4 or IPv6 address or CIDR (no host bits): its family, else undefined. */
export function policyCidr(v: string): 4 | 6 | undefined {
  if (v.includes(':')) {
    const c = parseCidr6(v.includes('/') ? v : `${v}/128`);
    return c.ok && !c.hostBitsSet ? 6 : undefined;
  }
  const c = parseCidr(v.includes('/') ? v : `${v}/32`);
  return c.ok && !c.hostBitsSet ? 4 : undefined;
}
