/**
 * Semantic checks on a lab that already has the right shape: names, references, addresses, MACs, ports.
 * Every problem is collected (never the first one only), each with the path it concerns and a hint.
 *
 * One validator per section lives in validate/; this runs them in the order later sections depend on (networks
 * before routers, routers before nodes, nodes before NAT), which is also the order of issues at one position.
 */
import type { LabDoc } from './schema.js';
import type { Lab } from './types.js';
import { checkFreeAddresses } from './validate/allocation.js';
import { placeNodes, validateChassis } from './validate/chassis.js';
import { createContext, type Issue } from './validate/context.js';
import { checkDnsNames, reserveServiceAddresses } from './validate/dhcp-dns.js';
import { validateExpect } from './validate/expect.js';
import { validateGroups } from './validate/groups.js';
import { validateLoadBalancers } from './validate/load-balancers.js';
import { validateNat } from './validate/nat.js';
import { validateNetworks } from './validate/networks.js';
import { validateNodes } from './validate/nodes.js';
import { validateOvn } from './validate/ovn.js';
import { validatePolicies } from './validate/policies.js';
import { reserveGateways, validateRouters } from './validate/routers.js';
import { validateScenarios } from './validate/scenarios.js';
import { validateTop } from './validate/top.js';

export type { Issue, PathSeg } from './validate/context.js';
export { MAX_POLICIES } from './validate/policies.js';
export { KNOWN_HOSTS } from './validate/routers.js';
export { suggest } from './validate/suggest.js';

export function validateLab(doc: LabDoc): { lab?: Lab; issues: Issue[] } {
  const ctx = createContext(doc);
  validateTop(ctx);
  const networks = validateNetworks(ctx);
  const chassis = validateChassis(ctx);
  const routers = validateRouters(ctx);
  reserveGateways(ctx, networks);
  reserveServiceAddresses(ctx, networks);
  const nodes = validateNodes(ctx);
  placeNodes(ctx, chassis, nodes, networks);
  checkFreeAddresses(ctx, networks);
  validateNat(ctx, routers, networks);
  const groups = validateGroups(ctx);
  const loadBalancers = validateLoadBalancers(ctx, networks);
  checkDnsNames(ctx);
  const policies = validatePolicies(ctx);
  const expect = validateExpect(ctx);
  const ovn = validateOvn(ctx);
  const scenarios = validateScenarios(ctx, nodes);
  if (ctx.issues.length) return { issues: ctx.issues };
  const lab: Lab = {
    name: doc.name,
    defaults: doc.defaults,
    networks,
    routers,
    nodes,
    groups,
    loadBalancers,
    policies,
    expect,
    ovn,
    scenarios,
  };
  if (chassis) {
    lab.chassis = chassis.chassis;
    lab.underlay = chassis.underlay;
  }
  if (doc.dns) lab.dns = true;
  return { lab, issues: ctx.issues };
}
