/**
 * routers.*.nat: runs after the nodes, since an internal side may name a node. Fills each LabRouter's nat.
 */

import type { z } from 'zod';
import { contains, ipToInt, isIPv4, parseCidr } from '../ipv4.js';
import type { natSchema } from '../schema.js';
import type { LabNetwork, LabRouter } from '../types.js';
import type { PathSeg, ValidateContext } from './context.js';
import { didYouMean } from './suggest.js';

type NatDoc = z.output<typeof natSchema>;

export function validateNat(ctx: ValidateContext, routers: LabRouter[], networks: LabNetwork[]): void {
  const byName = new Map(routers.map((r) => [r.name, r]));
  /** external address of a dnat rule -> the rule, since each such address maps to one inside address */
  const externals = new Map<string, string>();
  for (const [name, r] of Object.entries(ctx.doc.routers)) {
    const router = byName.get(name);
    if (!router) continue;
    const linked = new Set(router.links.map((l) => l.network));
    r.nat.forEach((rule, i) => {
      if (router.chassis === undefined && r.gateway === undefined && i === 0)
        ctx.add(
          ['routers', name, 'nat'],
          `NAT on router ${name} needs a gateway router`,
          ctx.doc.chassis
            ? 'add chassis: NAME (a gateway router) or gateway: { network, chassis: { … } } to the router'
            : 'add chassis: local to the router',
          true,
        );
      const p = ['routers', name, 'nat', i];
      checkExternal(ctx, name, rule, i, p, linked, externals, networks, router.gateway?.network);
      checkInternal(ctx, name, rule, p, linked);
      router.nat.push({ type: rule.type, external: rule.external, internal: rule.internal });
    });
  }
}

function checkExternal(
  ctx: ValidateContext,
  router: string,
  rule: NatDoc,
  i: number,
  p: PathSeg[],
  linked: Set<string>,
  externals: Map<string, string>,
  networks: LabNetwork[],
  /** an HA gateway's network: its NAT addresses are on it (the active gateway answers ARP for them) */
  gatewayNet?: string,
): void {
  const { add } = ctx;
  if (!isIPv4(rule.external)) {
    add([...p, 'external'], `external "${rule.external}" is not an IPv4 address`, 'e.g. 100.64.0.10');
    return;
  }
  // Many snat rules may share one external address; a dnat one cannot.
  if (rule.type === 'snat') return;
  const holder = externals.get(rule.external);
  if (holder)
    add(
      [...p, 'external'],
      `external address ${rule.external} is already used by ${holder}`,
      'give each NAT rule its own external address',
    );
  externals.set(rule.external, `router ${router} nat[${i}]`);
  for (const net of networks)
    if (net.name === gatewayNet && contains(net.subnet, ipToInt(rule.external)))
      ctx.addresses.take(net.name, ipToInt(rule.external), `router ${router} nat[${i}]`, [...p, 'external']);
    else if (contains(net.subnet, ipToInt(rule.external)) && linked.has(net.name))
      add(
        [...p, 'external'],
        `external address ${rule.external} is inside ${net.name} (${net.cidr}), which router ${router} links`,
        'use an address outside the linked subnets',
      );
}

/** internal: a node on a linked network, an IPv4 address, or (snat only) a network or a CIDR. */
function checkInternal(
  ctx: ValidateContext,
  router: string,
  rule: NatDoc,
  p: PathSeg[],
  linked: Set<string>,
): void {
  const { doc, add } = ctx;
  const v = rule.internal;
  if (v in doc.nodes) {
    const onLinked = doc.nodes[v]!.interfaces.some((x) => linked.has(typeof x === 'string' ? x : x.network));
    if (!onLinked)
      add(
        [...p, 'internal'],
        `node ${v} has no interface on a network router ${router} links`,
        `attach ${v} to ${[...linked].join(' or ')}`,
      );
  } else if (v in doc.networks) {
    if (rule.type !== 'snat')
      add(
        [...p, 'internal'],
        `${rule.type} needs one internal address, not the network ${v}`,
        'name a node or an IPv4 address',
      );
  } else if (!isIPv4(v)) {
    const c = parseCidr(v);
    if (!c.ok || c.hostBitsSet || rule.type !== 'snat')
      add(
        [...p, 'internal'],
        `internal "${v}" is not a node, an IPv4 address${rule.type === 'snat' ? ', a network or a CIDR' : ''}`,
        didYouMean(v, ctx.nodeNames, 'nodes'),
      );
  }
}
