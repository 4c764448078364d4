/**
 * Runtime operations act on a lab that is up: its saved state (the lab and the plan last applied) plus the host
 * and OVN drivers. The lab file names the lab; the saved plan is what is actually running.
 */
import { type LabState, loadState } from '../apply/state.js';
import { type HostDriver, localHost } from '../drivers/host.js';
import { type OvnDriver, ovnDriver } from '../drivers/ovn.js';
import { LabctlError, usageError } from '../errors.js';
import type { PlanInterface, PlanNode } from '../plan/types.js';

export interface LabRuntime {
  state: LabState;
  host: HostDriver;
  ovn: OvnDriver;
}

/** The lab's name: --lab, or the name in the lab file (loading yaml, zod and the validator only then). */
export async function labName(args: { file?: string; lab?: string }): Promise<string> {
  if (args.lab) return args.lab;
  return (await import('../lab/load.js')).loadLabFile(args.file ?? 'lab.yml').name;
}

export async function openLab(args: { file?: string; lab?: string }): Promise<LabRuntime> {
  const name = await labName(args);
  const state = loadState(name);
  if (!state)
    throw usageError(
      `lab ${name} is not up on this host`,
      args.lab
        ? 'labctl status   (lists the labs up here), or labctl up -f FILE'
        : `labctl up${args.file ? ` -f ${args.file}` : ''}`,
    );
  return {
    state,
    host: await localHost(),
    ovn: ovnDriver({ nb: state.plan.ovn.nb, sb: state.plan.ovn.remote }),
  };
}

export function findInterface(
  state: LabState,
  node: string,
  iface: string,
): { node: PlanNode; iface: PlanInterface } {
  const n = state.plan.nodes.find((x) => x.name === node);
  if (!n)
    throw usageError(
      `lab ${state.plan.lab} has no node ${node}`,
      `nodes: ${state.plan.nodes.map((x) => x.name).join(', ')}`,
    );
  const i = n.interfaces.find((x) => x.name === iface);
  if (!i)
    throw usageError(
      `node ${node} has no interface ${iface}`,
      `interfaces: ${n.interfaces.map((x) => x.name).join(', ') || 'none'}`,
    );
  return { node: n, iface: i };
}

export async function nodePid(rt: LabRuntime, node: string): Promise<number> {
  const c = (await rt.host.containers.list(rt.state.plan.lab)).find((x) => x.node === node);
  if (!c?.running)
    throw new LabctlError('environment', `node ${node} is not running`, {
      hint: `labctl up -f ${rt.state.file ?? 'lab.yml'}`,
    });
  return rt.host.containers.pid(c.id);
}
