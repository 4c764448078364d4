/**
 * diffLab: plan × observed → change set. Pure and synchronous: every decision `up` makes is made here, from data,
 * so `up --dry-run` shows exactly what `up` does and the diff is unit-tested on fixtures without a host.
 */
import { configHash } from '../drivers/containers.js';
import type { HostLink, NsState } from '../drivers/links.js';
import { ALIAS_PREFIX } from '../drivers/links.js';
import { ovsPortOf, type Plan, type PlanNode } from '../plan/types.js';
import type { Change, ChangeSet, DhcpLeaseChange, LinkPlumbChange } from './changes.js';
import { diffImpairs } from './impair-diff.js';
import { ifaceAddrs, v6Sysctls } from './node-links.js';
import type { Observed, ObservedHost } from './observe.js';
import { diffNb } from './ovn-diff.js';

export function diffLab(plan: Plan, observed: Observed): ChangeSet {
  const changes: Change[] = [];
  const nb = diffNb(plan, observed.nb, { chassisOf: (h) => observed.hosts[h]?.chassis });
  // Order within the set is the order of the lines; the executor orders the effects (see executeChanges).
  changes.push(...nb.changes.filter((c) => c.phase !== 'late'));
  for (const host of plan.hosts) {
    const seen = observed.hosts[host.name] ?? emptyHost(host.name);
    changes.push(
      ...diffHost(
        plan,
        plan.nodes.filter((n) => n.host === host.name),
        seen,
      ),
    );
  }
  changes.push(...nb.changes.filter((c) => c.phase === 'late'));
  if (nb.flushAddresses.length)
    for (const host of plan.hosts)
      changes.push({
        kind: 'conntrack-flush',
        host: host.name,
        op: '-',
        summary: `flush conntrack of ${nb.flushAddresses.join(', ')}`,
        addresses: nb.flushAddresses,
      });
  // Hosts the lab no longer uses keep nothing of it.
  for (const [name, seen] of Object.entries(observed.hosts))
    if (!plan.hosts.some((h) => h.name === name)) changes.push(...diffHost(plan, [], seen));
  return { lab: plan.lab, changes };
}

function emptyHost(name: string): ObservedHost {
  return { name, containers: [], ovs: [], hostLinks: [], nodes: {} };
}

/** Containers, links and OVS ports of one host. */
function diffHost(plan: Plan, nodes: PlanNode[], seen: ObservedHost): Change[] {
  const out: Change[] = [];
  const host = seen.name;
  const byNode = new Map(seen.containers.map((c) => [c.node, c]));
  const hostLinks = new Map(seen.hostLinks.map((l) => [l.name, l]));
  const ovsByName = new Map(seen.ovs.map((o) => [o.name, o]));
  const replumbed = new Set<string>();
  for (const node of nodes) {
    const cur = byNode.get(node.name);
    let fresh = true;
    if (!cur)
      out.push({
        kind: 'container',
        host,
        op: '+',
        action: 'create',
        node: node.name,
        summary: `create container ${node.container}`,
      });
    else if (cur.configHash !== configHash(node))
      out.push({
        kind: 'container',
        host,
        op: '~',
        action: 'recreate',
        node: node.name,
        id: cur.id,
        summary: `recreate container ${node.container} (image, command, environment or hostname changed)`,
      });
    else if (!cur.running || !seen.nodes[node.name])
      out.push({
        kind: 'container',
        host,
        op: '~',
        action: 'start',
        node: node.name,
        id: cur.id,
        summary: `start container ${node.container} (${cur.state})`,
      });
    else fresh = false;
    if (fresh) {
      // A new or (re)started container has a new network namespace: every link is plumbed afresh.
      for (const i of node.interfaces) replumbed.add(`${node.name}.${i.name}`);
      for (const i of node.interfaces)
        out.push(
          plumb(host, node, i.name, {
            fresh: true,
            staleHost: hostLinks.has(i.hostVeth),
            staleInside: false,
            staleOvs: ovsByName.has(i.hostVeth),
          }),
        );
      for (const i of node.interfaces) {
        if (i.dhcp) out.push(lease(host, node, i.name, 'a new link'));
        if (i.dhcp6) out.push(lease(host, node, i.name, 'a new link', 6));
      }
      continue;
    }
    const own = diffNodeLinks(host, node, hostLinks, seen.nodes[node.name]!.ns, ovsByName);
    out.push(...own);
    for (const c of own) if (c.kind === 'link-plumb') replumbed.add(`${node.name}.${c.iface}`);
  }
  // Impairment relays (impair-diff.ts): a wired interface's OVS port is plugged by its wire change.
  const imp = diffImpairs(plan.lab, host, nodes, seen, replumbed);
  out.push(...imp.changes);
  for (const node of nodes) {
    if (!seen.nodes[node.name] || out.some((c) => c.kind === 'container' && c.node === node.name)) continue;
    for (const i of node.interfaces) {
      if (replumbed.has(`${node.name}.${i.name}`) || imp.wired.has(`${node.name}.${i.name}`)) continue;
      const port = ovsPortOf(i);
      const o = ovsByName.get(port);
      if (!o)
        out.push({
          kind: 'ovs-port',
          host,
          op: '+',
          action: 'plug',
          port,
          node: node.name,
          externalIds: i.ovsExternalIds,
          summary: `plug ${node.name}.${i.name} (${port}) into ${plan.ovn.bridge} (iface-id ${i.lsp})`,
        });
      else if (Object.entries(i.ovsExternalIds).some(([k, v]) => o.externalIds[k] !== v))
        out.push({
          kind: 'ovs-port',
          host,
          op: '~',
          action: 'relabel',
          port,
          node: node.name,
          externalIds: i.ovsExternalIds,
          summary: `restore external_ids of ${port} (iface-id ${i.lsp})`,
        });
    }
  }

  // ---- what this host has of the lab that the plan no longer wants
  const wanted = new Set(nodes.map((n) => n.name));
  for (const c of seen.containers)
    if (!wanted.has(c.node))
      out.push({
        kind: 'container',
        host,
        op: '-',
        action: 'remove',
        node: c.node,
        id: c.id,
        summary: `remove container ${c.name}`,
      });
  // An impaired interface owns its host end too (the wire change takes it off the bridge).
  const planned = new Set(nodes.flatMap((n) => n.interfaces.flatMap((i) => [i.hostVeth, ovsPortOf(i)])));
  for (const o of seen.ovs)
    if (!planned.has(o.name) && !imp.covered.has(o.name))
      out.push({
        kind: 'ovs-port',
        host,
        op: '-',
        action: 'unplug',
        port: o.name,
        summary: `unplug ${o.name} from ${plan.ovn.bridge}`,
      });
  for (const l of seen.hostLinks)
    if (l.alias === `${ALIAS_PREFIX}${plan.lab}` && !planned.has(l.name))
      out.push({ kind: 'veth-delete', host, op: '-', name: l.name, summary: `delete veth ${l.name}` });
  return out;
}

function lease(host: string, node: PlanNode, iface: string, why: string, family?: 6): DhcpLeaseChange {
  const i = node.interfaces.find((x) => x.name === iface)!;
  if (family === 6)
    return {
      kind: 'dhcp-lease',
      host,
      op: '~',
      node: node.name,
      iface,
      ip: i.ip6!,
      family,
      summary: `DHCPv6 ${node.name}.${iface}: lease ${i.ip6}/${i.prefix6} from OVN (${why})`,
    };
  return {
    kind: 'dhcp-lease',
    host,
    op: '~',
    node: node.name,
    iface,
    // ip: dhcp needs an IPv4 subnet (validation), so the interface has its planned IPv4 address
    ip: i.ip!,
    summary: `DHCP ${node.name}.${iface}: lease ${i.ip}/${i.prefix} from OVN (${why})`,
  };
}

function plumb(
  host: string,
  node: PlanNode,
  iface: string,
  f: Pick<LinkPlumbChange, 'fresh' | 'staleHost' | 'staleInside' | 'staleOvs'>,
): LinkPlumbChange {
  const i = node.interfaces.find((x) => x.name === iface)!;
  const why = f.fresh ? '' : ' (the pair is broken)';
  return {
    kind: 'link-plumb',
    host,
    op: f.fresh ? '+' : '~',
    node: node.name,
    iface,
    ...f,
    summary: `plumb ${node.name}.${iface} ${ifaceAddrs(i).join(' ')} (veth ${i.hostVeth}, iface-id ${i.lsp})${why}`,
  };
}

/**
 * One running node's links against its namespace: a broken pair is re-plumbed; a link that stays gets only the
 * settings that differ (MAC/MTU, address, admin state, host end up) and the routes it lacks.
 */
export function diffNodeLinks(
  host: string,
  node: PlanNode,
  hostLinks: Map<string, HostLink>,
  ns: NsState,
  ovsPorts: ReadonlyMap<string, unknown>,
): Change[] {
  const out: Change[] = [];
  const nsLink = new Map(ns.links.map((l) => [l.name, l]));
  const plumbed = new Set<string>();
  /** links whose DHCP client runs again (per family): it sets that family's routes through them after its lease */
  const leased = new Set<string>();
  const leased6 = new Set<string>();
  const readdressed = new Set<string>();
  for (const i of node.interfaces) {
    const hostEnd = hostLinks.get(i.hostVeth);
    const inside = nsLink.get(i.name);
    // The pair is intact when the host end exists with its peer in another namespace and the container has the iface.
    if (!hostEnd || hostEnd.peerNetnsId === undefined || !inside) {
      plumbed.add(i.name);
      out.push(
        plumb(host, node, i.name, {
          fresh: false,
          staleHost: !!hostEnd,
          staleInside: !!inside,
          staleOvs: ovsPorts.has(i.hostVeth),
        }),
      );
      if (i.dhcp) out.push(lease(host, node, i.name, 'a new link'));
      if (i.dhcp6) out.push(lease(host, node, i.name, 'a new link', 6));
      continue;
    }
    const at = `${node.name}.${i.name}`;
    if (inside.mac !== i.mac || inside.mtu !== i.mtu)
      out.push({
        kind: 'link-set',
        host,
        op: '~',
        node: node.name,
        iface: i.name,
        lines: [`link set dev ${i.name} address ${i.mac} mtu ${i.mtu}`],
        summary: `set ${at} MAC ${i.mac} MTU ${i.mtu} (was ${inside.mac} MTU ${inside.mtu})`,
      });
    // Each family on its own: a changed IPv4 address leaves the IPv6 ones (and the link-local one) alone.
    const addr = i.ip !== undefined ? `${i.ip}/${i.prefix}` : undefined;
    const v4Differs = addr ? inside.addrs.length !== 1 || inside.addrs[0] !== addr : inside.addrs.length > 0;
    if (i.dhcp && v4Differs) {
      // the client takes the new address from OVN (and sets the routes through it again)
      leased.add(i.name);
      out.push(lease(host, node, i.name, `has ${inside.addrs.join(' ') || 'no address'}`));
    } else if (v4Differs) {
      readdressed.add(i.name);
      out.push({
        kind: 'link-set',
        host,
        op: '~',
        node: node.name,
        iface: i.name,
        lines: [
          ...inside.addrs.map((a) => `addr del ${a} dev ${i.name}`),
          ...(addr ? [`addr add ${addr} dev ${i.name}`] : []),
        ],
        summary: `readdress ${at}: ${inside.addrs.join(' ') || '(none)'} → ${addr ?? '(no IPv4)'}`,
      });
    }
    const addr6 = i.ip6 !== undefined ? `${i.ip6}/${i.prefix6}` : undefined;
    const have6 = inside.addrs6 ?? [];
    if (i.dhcp6 && addr6 && (have6.length !== 1 || have6[0] !== addr6)) {
      // the DHCPv6 client takes the new address from OVN (and sets the IPv6 routes through it again)
      leased6.add(i.name);
      out.push(lease(host, node, i.name, `has ${have6.join(' ') || 'no IPv6 address'}`, 6));
    } else if (addr6 ? have6.length !== 1 || have6[0] !== addr6 : have6.length > 0) {
      readdressed.add(i.name);
      const change: Change = {
        kind: 'link-set',
        host,
        op: '~',
        node: node.name,
        iface: i.name,
        lines: [
          ...have6.map((a) => `addr del ${a} dev ${i.name}`),
          ...(addr6 ? [`addr add ${addr6} dev ${i.name} nodad`] : []),
        ],
        summary: `readdress ${at} (IPv6): ${have6.join(' ') || '(none)'} → ${addr6 ?? '(no IPv6)'}`,
      };
      // IPv6 switched on (without DAD, RA or SLAAC) before the address goes on
      if (addr6 && !inside.v6) change.sysctls = v6Sysctls(i);
      out.push(change);
    }
    if (!inside.up)
      out.push({
        kind: 'link-set',
        host,
        op: '~',
        node: node.name,
        iface: i.name,
        lines: [`link set dev ${i.name} up`],
        summary: `set ${at} up`,
      });
    if (!hostEnd.up)
      out.push({
        kind: 'host-link-up',
        host,
        op: '~',
        node: node.name,
        iface: i.name,
        hostVeth: i.hostVeth,
        summary: `set host end ${i.hostVeth} of ${at} up`,
      });
  }
  // Routes through a re-plumbed link come with the plumbing; a readdressed link lost its routes with the flush.
  for (const r of node.routes) {
    if (plumbed.has(r.dev) || (r.family === 6 ? leased6 : leased).has(r.dev)) continue;
    const have = ns.routes.some((x) => x.dst === r.dst && x.via === r.via && x.dev === r.dev);
    if (have && !readdressed.has(r.dev)) continue;
    out.push({
      kind: 'link-set',
      host,
      op: have ? '~' : '+',
      node: node.name,
      lines: [`route replace ${r.dst} via ${r.via} dev ${r.dev}`],
      summary: `route ${node.name}: ${r.dst} via ${r.via} dev ${r.dev}`,
    });
  }
  return out;
}
