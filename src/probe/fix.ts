/**
 * The safe automatic fixes of data-plane results (`labctl doctor --fix`): turn tx checksum offload off on the
 * sender's container-side veth, remove an ACL that is not the lab's own policy, flush stale conntrack entries,
 * re-create the lab's own policy ACLs that were removed behind its back (converge, as `labctl up` does).
 * Everything else (a service that does not listen, a policy in lab.yml, an MTU in lab.yml) is the user's call:
 * the result's fix line says what to do, and fix() returns undefined.
 */

import type { CheckResult } from '../doctor/types.js';
import { flushConntrackMatching } from '../drivers/conntrack.js';
import { raiseSysctls } from '../drivers/sysctl.js';
import type { DataplaneContext } from './run-types.js';
import { aclDelArgs } from './trace.js';

async function pidOf(ctx: DataplaneContext, node: string): Promise<number | undefined> {
  if (ctx.facts) return ctx.facts.pid(node);
  const c = (await ctx.host.containers.list(ctx.plan.lab)).find((x) => x.node === node && x.running);
  return c ? ctx.host.containers.pid(c.id) : undefined;
}

export async function dataplaneFix(ctx: DataplaneContext, result: CheckResult): Promise<string | undefined> {
  const d = result.data ?? {};
  if (
    result.cause === 'checksum-offload' &&
    typeof d.fixNode === 'string' &&
    typeof d.fixIface === 'string'
  ) {
    const node = ctx.plan.nodes.find((n) => n.name === d.fixNode);
    if (!node?.interfaces.some((i) => i.name === d.fixIface)) return undefined;
    const pid = await pidOf(ctx, node.name);
    if (pid === undefined) return undefined;
    await ctx.host.links.disableTxOffload(d.fixIface, pid);
    return `tx checksum offload off on ${d.fixIface} inside ${node.name}`;
  }
  if (result.cause === 'acl-drop' && d.acl && typeof d.acl === 'object') {
    const acl = d.acl as {
      uuid?: string;
      own?: boolean;
      direction?: string;
      priority?: number;
      match?: string;
      owner?: { kind: string; name: string };
    };
    // the lab's own policy is the user's to change (lab.yml); a foreign or stale ACL on the lab's path is not
    const args = acl.own ? undefined : aclDelArgs(acl);
    if (!args || !acl.owner) return undefined;
    await ctx.ovn.transact([args]);
    return `removed ACL ${String(acl.uuid ?? '').slice(0, 8)} (${acl.direction} ${acl.priority} ${acl.match}) from ${acl.owner.name}`;
  }
  if (
    result.cause === 'unexpected-reachability' &&
    Array.isArray(d.missingAcls) &&
    d.missingAcls.length &&
    ctx.converge
  ) {
    const changes = await ctx.converge();
    return changes.length
      ? `converged lab ${ctx.plan.lab}: ${changes.join('; ')}`
      : `converged lab ${ctx.plan.lab}: no changes needed`;
  }
  if (result.cause === 'stale-conntrack' && Array.isArray(d.flush)) {
    // exactly the zones of this lab and the stale address: other labs may use the same addresses
    const cmds = (d.flush as unknown[]).filter(
      (c): c is string[] =>
        Array.isArray(c) &&
        c.length === 3 &&
        c[0] === 'dpctl/flush-conntrack' &&
        /^zone=\d+$/.test(String(c[1])) &&
        /^ct_nw_(src|dst)=\d{1,3}(\.\d{1,3}){3}$/.test(String(c[2])),
    );
    for (const c of cmds) await flushConntrackMatching(c[1]!, c[2]!);
    return cmds.length ? `flushed ${cmds.map((c) => `${c[1]} ${c[2]}`).join(', ')}` : undefined;
  }
  if (result.cause === 'neigh-table-full' && d.sysctl && typeof d.sysctl === 'object') {
    // raise only, never lower: the table is shared by everything on the host
    // raiseSysctls takes only the neighbour-table keys and whole numbers
    const done = raiseSysctls(d.sysctl as Record<string, number>);
    return done.length ? `raised the host's neighbour table: ${done.join(', ')}` : undefined;
  }
  return undefined;
}
