/** load_balancers: VIPs, ports, backends and where they attach. */
import { MAX_OBJECT_NAME } from '../../names.js';
import { contains, ipToInt, isIPv4 } from '../ipv4.js';
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
    if (!isIPv4(lb.vip)) add([...p, 'vip'], `vip "${lb.vip}" is not an IPv4 address`, 'e.g. vip: 10.0.9.100');
    else {
      // A VIP inside a node's own subnet needs an ARP answer nobody gives; routed VIPs are translated on the
      // client's switch before routing (verified on OVN 23.03).
      const inside = networks.find((net) => contains(net.subnet, ipToInt(lb.vip)));
      if (inside)
        add(
          [...p, 'vip'],
          `vip ${lb.vip} is inside ${inside.name} (${inside.cidr}); nodes would ARP for it and get no answer`,
          'use an address outside every lab subnet; clients reach it through their router',
        );
    }
    if (lb.proto !== undefined && lb.port === undefined)
      add([...p, 'proto'], 'proto needs a port', 'add port: 80, or remove proto');
    if (lb.backend_port !== undefined && lb.port === undefined)
      add([...p, 'backend_port'], 'backend_port needs a VIP port', 'add port: 80');
    lb.backends.forEach((b, i) => {
      if (!(b in doc.nodes) && !isIPv4(b))
        add(
          [...p, 'backends', i],
          `backend "${b}" is not a node or an IPv4 address`,
          didYouMean(b, nodeNames, 'nodes'),
        );
      else if (b in doc.nodes && doc.nodes[b]!.interfaces.length === 0)
        add([...p, 'backends', i], `backend node ${b} has no interfaces`, 'attach it to a network');
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
      vip: lb.vip,
      backends: lb.backends,
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
