/**
 * routers: names, links, static routes and the gateway chassis. Every link takes an address on its network (the
 * first router that links a network gives that network's next hop); NAT is checked later, once nodes are known.
 */

import type { z } from 'zod';
import { MAX_OBJECT_NAME } from '../../names.js';
import {
  type Cidr,
  contains,
  firstHost,
  formatCidr,
  intToIp,
  ipToInt,
  isHostAddress,
  isIPv4,
  overlaps,
  parseCidr,
} from '../ipv4.js';
import {
  bigToIp6,
  type Cidr6,
  contains6,
  firstHost6,
  formatCidr6,
  ip6ToBig,
  normalize6,
  overlaps6,
  parseCidr6,
} from '../ipv6.js';
import type { routerSchema } from '../schema.js';
import type { LabNetwork, LabRouter } from '../types.js';
import { checkHostIp, checkHostIp6 } from './addresses.js';
import type { PathSeg, ValidateContext } from './context.js';
import { didYouMean, nameIssue } from './suggest.js';

/** Hosts a lab can place objects on. One today; the plan and drivers already carry the host of every node. */
export const KNOWN_HOSTS = ['local'];

type RouterDoc = z.output<typeof routerSchema>;
interface LinkedSubnet {
  network: string;
  subnet: Cidr;
}
interface LinkedSubnet6 {
  network: string;
  subnet: Cidr6;
}

/** HA gateways' external networks each get interfaces named by their index (x0…x9): at most this many. */
const MAX_GATEWAY_NETWORKS = 10;

export function validateRouters(ctx: ValidateContext): LabRouter[] {
  const routers: LabRouter[] = [];
  const gatewayNets = new Set<string>();
  for (const [name, r] of Object.entries(ctx.doc.routers)) {
    const p = ['routers', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) ctx.add(p, `router name "${name}" ${bad}`, undefined, true);
    const { links, linked, linked6 } = validateLinks(ctx, name, r, p);
    const router: LabRouter = {
      name,
      links,
      routes: validateRoutes(ctx, name, r, linked, linked6, p),
      nat: [],
    };
    if (r.chassis !== undefined) {
      // a multi-chassis lab binds gateway routers to one of its own chassis (validate/chassis.ts)
      const labChassis = ctx.doc.chassis ? Object.keys(ctx.doc.chassis) : undefined;
      if (labChassis && !labChassis.includes(r.chassis))
        ctx.add(
          [...p, 'chassis'],
          `unknown chassis "${r.chassis}" for gateway router ${name}`,
          didYouMean(r.chassis, labChassis, 'chassis'),
        );
      else if (!labChassis && !KNOWN_HOSTS.includes(r.chassis))
        ctx.add(
          [...p, 'chassis'],
          `unknown host "${r.chassis}" for gateway router ${name}`,
          `hosts: ${KNOWN_HOSTS.join(', ')} (or add a chassis: section to place the lab on several chassis)`,
        );
      router.chassis = r.chassis;
    }
    if (r.gateway !== undefined) {
      const gw = validateGateway(ctx, name, r, p);
      if (gw) {
        router.gateway = gw;
        gatewayNets.add(gw.network);
        if (gatewayNets.size > MAX_GATEWAY_NETWORKS)
          ctx.add(
            [...p, 'gateway', 'network'],
            `more than ${MAX_GATEWAY_NETWORKS} networks carry HA gateways`,
            'put the gateways of several routers on one external network',
          );
      }
    }
    routers.push(router);
  }
  return routers;
}

/**
 * An HA distributed gateway port (multi-chassis labs, docs/multichassis.md "Gateway failover"): its network is one
 * of the router's links, its chassis are the lab's, each with its own priority (OVN picks the highest that is up;
 * equal priorities would leave the choice to OVN, so they are refused).
 */
function validateGateway(
  ctx: ValidateContext,
  name: string,
  r: RouterDoc,
  p: PathSeg[],
): LabRouter['gateway'] | undefined {
  const g = r.gateway!;
  const gp = [...p, 'gateway'];
  const labChassis = ctx.doc.chassis ? Object.keys(ctx.doc.chassis) : undefined;
  if (!labChassis) {
    ctx.add(
      gp,
      `router ${name}: gateway: needs a multi-chassis lab (its gateway chassis are the lab's chassis)`,
      'add chassis: { hv1: {}, hv2: {} } to the lab, or bind the router to one chassis with chassis: local',
    );
    return undefined;
  }
  if (r.chassis !== undefined)
    ctx.add(
      [...p, 'chassis'],
      `router ${name} has both chassis: (a gateway router) and gateway: (a distributed router with a gateway port)`,
      'keep one: gateway: { network, chassis: { hv1: 20, hv2: 10 } } for failover',
    );
  const linked = r.links.map((l) => (typeof l === 'string' ? l : l.network));
  if (!linked.includes(g.network))
    ctx.add(
      [...gp, 'network'],
      `router ${name}: gateway network "${g.network}" is not one of its links`,
      didYouMean(g.network, linked, `links of ${name}`),
    );
  const entries = Object.entries(g.chassis);
  if (!entries.length)
    ctx.add(
      [...gp, 'chassis'],
      `router ${name}: gateway names no chassis`,
      'e.g. chassis: { hv1: 20, hv2: 10 }',
    );
  const byPriority = new Map<number, string>();
  for (const [ch, prio] of entries) {
    if (!labChassis.includes(ch))
      ctx.add(
        [...gp, 'chassis', ch],
        `unknown chassis "${ch}" for the gateway of router ${name}`,
        didYouMean(ch, labChassis, 'chassis'),
      );
    else if (ctx.doc.chassis![ch]!.kind !== 'simulated')
      ctx.add(
        [...gp, 'chassis', ch],
        `chassis ${ch} is kind: ${ctx.doc.chassis![ch]!.kind}; gateway chassis must be simulated for now`,
        'name simulated chassis in gateway.chassis',
      );
    const other = byPriority.get(prio);
    if (other !== undefined)
      ctx.add(
        [...gp, 'chassis', ch],
        `gateway of router ${name}: chassis ${ch} and ${other} both have priority ${prio}`,
        'give each gateway chassis its own priority (the highest one that is up is active)',
      );
    else byPriority.set(prio, ch);
  }
  return {
    network: g.network,
    chassis: entries
      .map(([ch, priority]) => ({ name: ch, priority }))
      .sort((a, b) => b.priority - a.priority),
  };
}

function validateLinks(
  ctx: ValidateContext,
  name: string,
  r: RouterDoc,
  p: PathSeg[],
): { links: LabRouter['links']; linked: LinkedSubnet[]; linked6: LinkedSubnet6[] } {
  const { doc, add } = ctx;
  const links: LabRouter['links'] = [];
  const linked: LinkedSubnet[] = [];
  const linked6: LinkedSubnet6[] = [];
  r.links.forEach((l, i) => {
    const link = typeof l === 'string' ? { network: l } : l;
    const lp = [...p, 'links', i];
    if (!(link.network in doc.networks)) {
      add(
        typeof l === 'string' ? lp : [...lp, 'network'],
        `router ${name} links unknown network "${link.network}"`,
        didYouMean(link.network, ctx.networkNames, 'networks'),
      );
      return;
    }
    if (links.some((x) => x.network === link.network)) {
      add(lp, `router ${name} links ${link.network} twice`, 'list each network once');
      return;
    }
    const net = ctx.netByName.get(link.network);
    const out: LabRouter['links'][number] = { network: link.network, ip: link.ip };
    links.push(out);
    if (!net) return;
    if (net.subnet6) linkV6(ctx, name, net, link, l, lp, linked6, out);
    else if (link.ip6 !== undefined)
      add(
        [...lp, 'ip6'],
        `${link.network} has no subnet6, so router ${name} has no IPv6 address there`,
        `add subnet6: to ${link.network}, or remove ip6`,
      );
    if (!net.subnet) {
      if (link.ip !== undefined)
        add(
          [...lp, 'ip'],
          `${link.network} is IPv6-only (no subnet:), so ip ${link.ip} has nowhere to go`,
          'use ip6:, or add subnet: to the network',
        );
      return;
    }
    for (const other of linked) {
      if (overlaps(other.subnet, net.subnet)) {
        add(
          lp,
          `router ${name}: subnet ${net.cidr} of ${link.network} overlaps ${formatCidr(other.subnet)} of ${other.network}`,
          'a router cannot route between overlapping subnets; change one subnet',
        );
      }
    }
    linked.push({ network: link.network, subnet: net.subnet });
    // The link's own address, else the network's gateway, else the first host address.
    let ip: number | undefined;
    if (link.ip !== undefined) {
      ip = checkHostIp(link.ip, net.subnet, net.cidr!, [...lp, 'ip'], add);
    } else if (net.gateway !== undefined) {
      // A bad gateway was reported with the network.
      const gw = net.gateway;
      ip = isIPv4(gw) && isHostAddress(net.subnet, ipToInt(gw)) ? ipToInt(gw) : undefined;
    } else {
      ip = firstHost(net.subnet);
    }
    if (ip === undefined) return;
    ctx.addresses.take(link.network, ip, `router ${name}`, typeof l === 'string' ? lp : [...lp, 'ip']);
    if (!ctx.nextHops.has(link.network)) ctx.nextHops.set(link.network, { ip: intToIp(ip), by: 'router' });
  });
  return { links, linked, linked6 };
}

/** The IPv6 side of a link: no overlap with the router's other IPv6 subnets; ip6 or the first host address. */
function linkV6(
  ctx: ValidateContext,
  name: string,
  net: LabNetwork,
  link: { network: string; ip6?: string },
  raw: unknown,
  lp: PathSeg[],
  linked6: LinkedSubnet6[],
  out: LabRouter['links'][number],
): void {
  const subnet6 = net.subnet6!;
  for (const other of linked6)
    if (overlaps6(other.subnet, subnet6))
      ctx.add(
        lp,
        `router ${name}: subnet6 ${net.cidr6} of ${link.network} overlaps ${formatCidr6(other.subnet)} of ${other.network}`,
        'a router cannot route between overlapping subnets; change one subnet6',
      );
  linked6.push({ network: link.network, subnet: subnet6 });
  const path = typeof raw === 'string' ? lp : [...lp, link.ip6 !== undefined ? 'ip6' : 'network'];
  const ip6 =
    link.ip6 !== undefined
      ? checkHostIp6(link.ip6, subnet6, net.cidr6!, path, ctx.add)
      : bigToIp6(firstHost6(subnet6));
  if (ip6 === undefined) return;
  out.ip6 = ip6;
  ctx.addresses6.take(link.network, ip6, `router ${name}`, path);
  if (!ctx.nextHops6.has(link.network)) ctx.nextHops6.set(link.network, { ip: ip6, by: 'router' });
}

/** Static routes: an IPv4 or IPv6 prefix, via a next hop of the same family on a network the router links. */
function validateRoutes(
  { add }: ValidateContext,
  name: string,
  r: RouterDoc,
  linked: LinkedSubnet[],
  linked6: LinkedSubnet6[],
  p: PathSeg[],
): LabRouter['routes'] {
  return r.routes.map((rt, i) => {
    const rp = [...p, 'routes', i];
    const v6 = rt.prefix.includes(':');
    if (v6) {
      const pc = parseCidr6(rt.prefix);
      if (!pc.ok) add([...rp, 'prefix'], `route prefix "${rt.prefix}": ${pc.reason}`, 'e.g. "fd00:9::/48"');
      else if (pc.hostBitsSet)
        add(
          [...rp, 'prefix'],
          `route prefix "${rt.prefix}" has host bits set`,
          `did you mean ${formatCidr6(pc.cidr)}?`,
        );
      const via = normalize6(rt.via);
      if (via === undefined) {
        add(
          [...rp, 'via'],
          isIPv4(rt.via)
            ? `route next hop ${rt.via} is IPv4 but the prefix ${rt.prefix} is IPv6`
            : `route next hop "${rt.via}" is not an IPv6 address`,
          'an IPv6 prefix needs an IPv6 next hop, e.g. via: "fd00:1::fe"',
        );
      } else if (!linked6.some((s) => contains6(s.subnet, ip6ToBig(via)))) {
        add(
          [...rp, 'via'],
          `route next hop ${via} is not on any IPv6 network router ${name} links`,
          `linked: ${linked6.map((s) => formatCidr6(s.subnet)).join(', ') || 'none'}`,
        );
      }
      return { prefix: pc.ok ? formatCidr6(pc.cidr) : rt.prefix, via: via ?? rt.via };
    }
    const pc = parseCidr(rt.prefix);
    if (!pc.ok) add([...rp, 'prefix'], `route prefix "${rt.prefix}": ${pc.reason}`, 'e.g. 10.9.0.0/16');
    else if (pc.hostBitsSet)
      add(
        [...rp, 'prefix'],
        `route prefix "${rt.prefix}" has host bits set`,
        `did you mean ${formatCidr(pc.cidr)}?`,
      );
    if (!isIPv4(rt.via)) {
      add(
        [...rp, 'via'],
        normalize6(rt.via) !== undefined
          ? `route next hop ${rt.via} is IPv6 but the prefix ${rt.prefix} is IPv4`
          : `route next hop "${rt.via}" is not an IPv4 address`,
        'e.g. via: 10.0.1.254',
      );
    } else if (!linked.some((s) => contains(s.subnet, ipToInt(rt.via)))) {
      add(
        [...rp, 'via'],
        `route next hop ${rt.via} is not on any network router ${name} links`,
        `linked: ${linked.map((s) => formatCidr(s.subnet)).join(', ') || 'none'}`,
      );
    }
    return { prefix: pc.ok ? formatCidr(pc.cidr) : rt.prefix, via: rt.via };
  });
}

/**
 * A gateway on a network no router links is still an address nodes route via (compile reserves it too). Runs
 * after the routers, whose addresses come first.
 */
export function reserveGateways(ctx: ValidateContext, networks: LabNetwork[]): void {
  for (const net of networks) {
    if (net.gateway === undefined || !net.subnet || ctx.nextHops.has(net.name) || !isIPv4(net.gateway))
      continue;
    const gw = ipToInt(net.gateway);
    if (!isHostAddress(net.subnet, gw)) continue;
    ctx.addresses.take(net.name, gw, `the gateway of ${net.name}`, ['networks', net.name, 'gateway']);
    ctx.nextHops.set(net.name, { ip: intToIp(gw), by: 'gateway' });
  }
}
