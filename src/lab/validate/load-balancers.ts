/** load_balancers: VIPs, ports, backends and where they attach. */
import { MAX_OBJECT_NAME } from '../../names.js';
import { contains, ipToInt, isIPv4 } from '../ipv4.js';
import { contains6, ip6ToBig, normalize6 } from '../ipv6.js';
import type { LabLoadBalancer, LabNetwork } from '../types.js';
import type { ValidateContext } from './context.js';
import { didYouMean, nameIssue } from './suggest.js';

export function validateLoadBalancers(ctx: ValidateContext, networks: LabNetwork[]): LabLoadBalancer[] {
  const { doc, add, nodeNames } = ctx;
  const loadBalancers: LabLoadBalancer[] = [];
  const attachable = [...ctx.networkNames, ...Object.keys(doc.routers)];
  for (const [name, lb] of Object.entries(doc.load_balancers)) {
    const p = ['load_balancers', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `load balancer name "${name}" ${bad}`, undefined, true);
    const vip6 = normalize6(lb.vip);
    if (!isIPv4(lb.vip) && vip6 === undefined)
      add([...p, 'vip'], `vip "${lb.vip}" is not an IPv4 or IPv6 address`, 'e.g. vip: 10.0.9.100');
    else {
      // A VIP inside a node's own subnet needs an ARP (ND) answer nobody gives; routed VIPs are translated on the
      // client's switch before routing (verified on OVN 23.03).
      const inside = vip6
        ? networks.find((net) => net.subnet6 && contains6(net.subnet6, ip6ToBig(vip6)))
        : networks.find((net) => net.subnet && contains(net.subnet, ipToInt(lb.vip)));
      if (inside)
        add(
          [...p, 'vip'],
          `vip ${vip6 ?? lb.vip} is inside ${inside.name} (${vip6 ? inside.cidr6 : inside.cidr}); nodes would ${vip6 ? 'solicit' : 'ARP'} for it and get no answer`,
          'use an address outside every lab subnet; clients reach it through their router',
        );
    }
    if (lb.proto !== undefined && lb.port === undefined)
      add([...p, 'proto'], 'proto needs a port', 'add port: 80, or remove proto');
    if (lb.backend_port !== undefined && lb.port === undefined)
      add([...p, 'backend_port'], 'backend_port needs a VIP port', 'add port: 80');
    const backends = lb.backends.map((b, i) => {
      if (b in doc.nodes) {
        if (doc.nodes[b]!.interfaces.length === 0)
          add([...p, 'backends', i], `backend node ${b} has no interfaces`, 'attach it to a network');
        else if (vip6 !== undefined && !nodeHasV6(ctx, b))
          add(
            [...p, 'backends', i],
            `backend node ${b} has no IPv6 address for the IPv6 vip ${vip6}`,
            'attach it to a network with subnet6',
          );
        return b;
      }
      const b6 = normalize6(b);
      if (!isIPv4(b) && b6 === undefined)
        add(
          [...p, 'backends', i],
          `backend "${b}" is not a node or an IP address`,
          didYouMean(b, nodeNames, 'nodes'),
        );
      else if (isIPv4(lb.vip) || vip6 !== undefined) {
        if ((b6 !== undefined) !== (vip6 !== undefined))
          add(
            [...p, 'backends', i],
            `backend ${b} is ${b6 ? 'IPv6' : 'IPv4'} but the vip ${lb.vip} is ${vip6 ? 'IPv6' : 'IPv4'}`,
            'a VIP and its backends are of one family; add a second load balancer for the other',
          );
      }
      return b6 ?? b;
    });
    (lb.attach ?? []).forEach((a, i) => {
      if (!(a in doc.networks) && !(a in doc.routers))
        add(
          [...p, 'attach', i],
          `attach to unknown network or router "${a}"`,
          didYouMean(a, attachable, 'networks and routers'),
        );
    });
    const out: LabLoadBalancer = {
      name,
      vip: vip6 ?? lb.vip,
      backends,
      attach: lb.attach ?? [...ctx.networkNames],
    };
    if (lb.port !== undefined) {
      out.port = lb.port;
      out.proto = lb.proto ?? 'tcp';
    }
    if (lb.backend_port !== undefined) out.backendPort = lb.backend_port;
    loadBalancers.push(out);
  }
  return loadBalancers;
}

/** Whether a node has an interface on a network with subnet6 (so it gets an IPv6 address). */
export function nodeHasV6(ctx: ValidateContext, node: string): boolean {
  return (ctx.doc.nodes[node]?.interfaces ?? []).some((x) => {
    const network = typeof x === 'string' ? x : x.network;
    return ctx.netByName.get(network)?.subnet6 !== undefined;
  });
}
