/**
 * routers.*.nat: runs after the nodes, since an internal side may name a node. Fills each LabRouter's nat.
 */

import type { z } from 'zod';
import { contains, ipToInt, isIPv4, parseCidr } from '../ipv4.js';
import { contains6, ip6ToBig, normalize6, parseCidr6 } from '../ipv6.js';
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
      router.nat.push({
        type: rule.type,
        external: normalize6(rule.external) ?? rule.external,
        internal: normalize6(rule.internal) ?? rule.internal,
      });
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
  const ext6 = normalize6(rule.external);
  if (!isIPv4(rule.external) && ext6 === undefined) {
    add([...p, 'external'], `external "${rule.external}" is not an IPv4 or IPv6 address`, 'e.g. 100.64.0.10');
    return;
  }
  const external = ext6 ?? rule.external;
  // Many snat rules may share one external address; a dnat one cannot.
  if (rule.type === 'snat') return;
  const holder = externals.get(external);
  if (holder)
    add(
      [...p, 'external'],
      `external address ${external} is already used by ${holder}`,
      'give each NAT rule its own external address',
    );
  externals.set(external, `router ${router} nat[${i}]`);
  for (const net of networks) {
    if (!ext6 && net.name === gatewayNet && net.subnet && contains(net.subnet, ipToInt(external))) {
      ctx.addresses.take(net.name, ipToInt(external), `router ${router} nat[${i}]`, [...p, 'external']);
      continue;
    }
    const inside = ext6
      ? net.subnet6 && contains6(net.subnet6, ip6ToBig(ext6))
      : net.subnet && contains(net.subnet, ipToInt(external));
    if (inside && linked.has(net.name))
      add(
        [...p, 'external'],
        `external address ${external} is inside ${net.name} (${ext6 ? net.cidr6 : net.cidr}), which router ${router} links`,
        'use an address outside the linked subnets',
      );
  }
}

/**
 * internal: a node on a linked network (with an address of the external's family), an address of that family,
 * or (snat only) a network or a CIDR of that family.
 */
function checkInternal(
  ctx: ValidateContext,
  router: string,
  rule: NatDoc,
  p: PathSeg[],
  linked: Set<string>,
): void {
  const { doc, add } = ctx;
  const v = rule.internal;
  const v6 = normalize6(rule.external) !== undefined;
  const fam = v6 ? 'IPv6' : 'IPv4';
  const hasFamily = (network: string) => {
    const net = ctx.netByName.get(network);
    return !net || (v6 ? net.subnet6 !== undefined : net.subnet !== undefined);
  };
  if (v in doc.nodes) {
    const nets = doc.nodes[v]!.interfaces.map((x) => (typeof x === 'string' ? x : x.network));
    const onLinked = nets.filter((n) => linked.has(n));
    if (!onLinked.length)
      add(
        [...p, 'internal'],
        `node ${v} has no interface on a network router ${router} links`,
        `attach ${v} to ${[...linked].join(' or ')}`,
      );
    else if (!onLinked.some(hasFamily))
      add(
        [...p, 'internal'],
        `node ${v} has no ${fam} address on a network router ${router} links, for the ${fam} external ${rule.external}`,
        `give ${onLinked[0]} a ${v6 ? 'subnet6' : 'subnet'}, or use an external address of the other family`,
      );
  } else if (v in doc.networks) {
    if (rule.type !== 'snat')
      add(
        [...p, 'internal'],
        `${rule.type} needs one internal address, not the network ${v}`,
        'name a node or an address',
      );
    else if (!hasFamily(v))
      add([...p, 'internal'], `network ${v} has no ${fam} subnet for the ${fam} external ${rule.external}`);
  } else {
    const is4 = isIPv4(v);
    const is6 = normalize6(v) !== undefined;
    if (is4 || is6) {
      if (is6 !== v6)
        add(
          [...p, 'internal'],
          `internal ${v} is ${is6 ? 'IPv6' : 'IPv4'} but the external ${rule.external} is ${fam}`,
          'NAT maps addresses of one family',
        );
      return;
    }
    const c4 = parseCidr(v);
    const c6 = parseCidr6(v);
    const ok = (c4.ok && !c4.hostBitsSet && !v6) || (c6.ok && !c6.hostBitsSet && v6);
    if (!ok || rule.type !== 'snat')
      add(
        [...p, 'internal'],
        `internal "${v}" is not a node, an ${fam} address${rule.type === 'snat' ? `, a network or an ${fam} CIDR` : ''}`,
        didYouMean(v, ctx.nodeNames, 'nodes'),
      );
  }
}
