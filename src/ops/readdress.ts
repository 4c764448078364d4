/**
 * Change one interface's address while the lab runs: the saved lab gets that one address explicit, is recompiled
 * with the running plan's allocations as its prior (so no other node is renumbered), and the lab is converged to
 * it: the container's address and routes, the OVN port's addresses, and every ACL that names the node. Conntrack
 * entries of the old address are flushed.
 */

import { priorFromPlan } from '../apply/running-plan.js';
import { saveState, withLabLock } from '../apply/state.js';
import { applyPlan } from '../apply/up.js';
import { LabctlError, usageError } from '../errors.js';
import { contains, intToIp, ipToInt, isHostAddress, isIPv4 } from '../lab/ipv4.js';
import { base6, bigToIp6, ip6ToBig, isHostAddress6, normalize6 } from '../lab/ipv6.js';
import type { LabInterface } from '../lab/types.js';
import { compilePlan } from '../plan/compile.js';
import type { LabRuntime } from './context.js';
import { findInterface } from './context.js';

export interface ReaddressResult {
  node: string;
  iface: string;
  from: string;
  to: string;
  changes: string[];
}

export async function readdress(
  rt: LabRuntime,
  node: string,
  iface: string,
  address: string,
): Promise<ReaddressResult> {
  const { state } = rt;
  if (!state.lab)
    throw new LabctlError('usage', `the saved state of lab ${state.plan.lab} predates readdress`, {
      hint: 'labctl up -f lab.yml (once), then readdress',
    });
  const { iface: pi } = findInterface(state, node, iface);
  const [raw, prefix] = address.split('/');
  const net = state.lab.networks.find((n) => n.name === pi.network)!;
  const v6 = normalize6(raw ?? '');
  if (v6 !== undefined) return readdress6(rt, node, iface, v6, prefix);
  const ip = raw;
  if (!net.subnet || !net.cidr)
    throw usageError(
      `${pi.network} is IPv6-only: "${address}" is not an IPv6 address`,
      `e.g. labctl readdress ${node} ${iface} ${net.subnet6 ? bigToIp6(base6(net.subnet6) + 50n) : 'fd00:1::50'}`,
    );
  if (!ip || !isIPv4(ip))
    throw usageError(
      `"${address}" is not an IPv4 or IPv6 address`,
      `e.g. labctl readdress ${node} ${iface} ${intToIp(net.subnet.base + 50)}`,
    );
  if (prefix !== undefined && Number(prefix) !== net.subnet.prefix)
    throw usageError(
      `${address}: ${pi.network} is ${net.cidr}; the prefix length cannot change`,
      `labctl readdress ${node} ${iface} ${ip}`,
    );
  const n = ipToInt(ip);
  if (!contains(net.subnet, n) || !isHostAddress(net.subnet, n))
    throw usageError(
      `${ip} is not a host address in ${pi.network} (${net.cidr})`,
      `pick a free address in ${net.cidr}`,
    );
  const holder = state.plan.nodes
    .flatMap((x) => x.interfaces.map((i) => ({ x, i })))
    .find(({ i }) => i.network === pi.network && i.ip === ip);
  if (holder && !(holder.x.name === node && holder.i.name === iface))
    throw usageError(
      `${ip} is already used by ${holder.x.name}.${holder.i.name}`,
      `pick a free address in ${net.cidr}`,
    );
  if (
    state.plan.routers.some((r) => r.ports.some((p) => p.networks.some((c) => c.startsWith(`${ip}/`)))) ||
    net.gateway === ip
  )
    throw usageError(`${ip} is the router address of ${pi.network}`, `pick a free address in ${net.cidr}`);
  const old = pi.ip!;
  if (old === ip) return { node, iface, from: old, to: ip, changes: [] };

  // Only this interface gets an explicit address; every other one keeps its address because the allocations of
  // the running plan are the prior (sticky). The interface's own allocation stays reserved, so the next
  // `up -f lab.yml` puts the file's address back.
  return converge(rt, node, iface, old, ip, (i) => {
    i.ip = ip;
  });
}

/** The lab with one interface's address made explicit, recompiled with the running allocations as prior, applied. */
async function converge(
  rt: LabRuntime,
  node: string,
  iface: string,
  from: string,
  to: string,
  set: (i: LabInterface) => void,
): Promise<ReaddressResult> {
  const { state } = rt;
  const lab = structuredClone(state.lab!);
  set(lab.nodes.find((x) => x.name === node)!.interfaces.find((i) => i.name === iface)!);
  const plan = compilePlan(lab, { prior: priorFromPlan(state.plan) });
  return withLabLock(plan.lab, async () => {
    saveState({ ...state, lab, plan, updatedAt: new Date().toISOString() });
    const r = await applyPlan(plan, rt.host, rt.ovn, { readyTimeoutMs: 60_000 });
    // the change set flushes the old address's conntrack entries itself (diffNb: a readdressed port's old address)
    return { node, iface, from, to, changes: r.changes };
  });
}

/** The IPv6 twin (docs/ipv6.md): `ip` is in RFC 5952 form. */
async function readdress6(
  rt: LabRuntime,
  node: string,
  iface: string,
  ip: string,
  prefix: string | undefined,
): Promise<ReaddressResult> {
  const { state } = rt;
  const { iface: pi } = findInterface(state, node, iface);
  const net = state.lab!.networks.find((n) => n.name === pi.network)!;
  if (!net.subnet6 || !net.cidr6)
    throw usageError(
      `${pi.network} has no subnet6, so ${node}.${iface} has no IPv6 address to change`,
      `add subnet6: to ${pi.network} and run labctl up, or give an IPv4 address`,
    );
  if (prefix !== undefined && Number(prefix) !== net.subnet6.prefix)
    throw usageError(
      `${ip}/${prefix}: ${pi.network} is ${net.cidr6}; the prefix length cannot change`,
      `labctl readdress ${node} ${iface} ${ip}`,
    );
  if (!isHostAddress6(net.subnet6, ip6ToBig(ip)))
    throw usageError(
      `${ip} is not a host address in ${pi.network} (${net.cidr6})`,
      `pick a free address in ${net.cidr6}`,
    );
  const holder = state.plan.nodes
    .flatMap((x) => x.interfaces.map((i) => ({ x, i })))
    .find(({ i }) => i.network === pi.network && i.ip6 === ip);
  if (holder && !(holder.x.name === node && holder.i.name === iface))
    throw usageError(
      `${ip} is already used by ${holder.x.name}.${holder.i.name}`,
      `pick a free address in ${net.cidr6}`,
    );
  if (state.plan.routers.some((r) => r.ports.some((p) => p.networks.some((c) => c.startsWith(`${ip}/`)))))
    throw usageError(`${ip} is the router address of ${pi.network}`, `pick a free address in ${net.cidr6}`);
  const old = pi.ip6 ?? '';
  if (old === ip) return { node, iface, from: old, to: ip, changes: [] };
  return converge(rt, node, iface, old, ip, (i) => {
    i.ip6 = ip;
  });
}
