/** Human-readable rendering of a Plan for `labctl plan`. */
import { ifaceAddrs } from '../apply/node-links.js';
import { describeImpair } from '../lab/impair.js';
import type { Plan } from './types.js';

export function renderPlan(plan: Plan): string {
  const out: string[] = [
    `lab ${plan.lab}: ${plan.nodes.length} nodes, ${plan.switches.length} switches, ${plan.routers.length} routers, ${plan.acls.length} ACLs`,
  ];
  out.push('', 'containers (network_mode none):');
  for (const n of plan.nodes) {
    out.push(`  ${n.container}  image ${n.image}${n.build ? ` (built from ${n.build.context})` : ''}`);
    for (const i of n.interfaces) {
      const addrs = ifaceAddrs(i).join(' ');
      out.push(
        i.impair
          ? `    ${i.name} ${addrs} ${i.mac} mtu ${i.mtu}  veth ${i.hostVeth} ⇄ relay ⇄ ${i.impair.relayVeth}/${i.impair.bridgeVeth} → ${plan.ovn.bridge} iface-id=${i.lsp}  impaired: ${describeImpair(i.impair)}`
          : `    ${i.name} ${addrs} ${i.mac} mtu ${i.mtu}  veth ${i.hostVeth} → ${plan.ovn.bridge} iface-id=${i.lsp}`,
      );
    }
    for (const r of n.routes)
      out.push(`    route${r.family === 6 ? ' -6' : ''} ${r.dst} via ${r.via} dev ${r.dev}`);
  }
  out.push('', 'OVN logical switches:');
  for (const s of plan.switches) {
    out.push(
      `  ${s.name} (${[s.subnet, s.subnet6].filter(Boolean).join(' ')}, mtu ${s.mtu}${s.ra ? ', ra' : ''})`,
    );
    for (const p of s.ports)
      out.push(`    ${p.name}${p.type ? ` type=${p.type}` : ''} addresses="${p.addresses}"`);
  }
  if (plan.routers.length) out.push('', 'OVN logical routers:');
  for (const r of plan.routers) {
    out.push(`  ${r.router}`);
    for (const p of r.ports) out.push(`    ${p.name} ${p.mac} ${p.networks.join(' ')} ↔ ${p.switchPort}`);
    for (const rt of r.routes) out.push(`    route ${rt.prefix} via ${rt.nexthop}`);
    if (r.chassis) out.push(`    gateway router on chassis of host ${r.chassis}`);
    if (r.gateway)
      out.push(
        `    gateway port ${r.gateway.port} on ${r.gateway.network}: chassis ${r.gateway.chassis.map((c) => `${c.name} (priority ${c.priority})`).join(', ')}`,
      );
    for (const n of r.nat)
      out.push(`    nat ${n.type} ${n.external} ↔ ${n.logical}${n.node ? ` (${n.node})` : ''}`);
  }
  if (plan.loadBalancers.length) out.push('', 'OVN load balancers:');
  for (const lb of plan.loadBalancers)
    out.push(
      `  ${lb.lb} ${lb.vip}${lb.protocol ? `/${lb.protocol}` : ''} → ${lb.backends.map((b) => `${b.node ?? b.ip}${b.port ? `:${b.port}` : ''}`).join(', ')}  on ${[...lb.switches, ...lb.routers].join(', ')}`,
    );
  if (plan.acls.length) out.push('', 'OVN ACLs:');
  for (const a of plan.acls) out.push(`  ${a.switch} ${a.direction} ${a.priority} ${a.action}  ${a.match}`);
  return `${out.join('\n')}\n`;
}
