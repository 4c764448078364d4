/**
 * Pull or plug a node's virtual cable: set the host end of its veth down or up. The container sees carrier loss
 * (NO-CARRIER), as with a real cable. The next `labctl up` restores the plan (links up).
 */
import type { LabRuntime } from './context.js';
import { findInterface } from './context.js';

export async function setLink(
  rt: LabRuntime,
  node: string,
  iface: string,
  state: 'up' | 'down',
): Promise<string> {
  const { iface: i } = findInterface(rt.state, node, iface);
  await rt.host.links.hostBatch([`link set dev ${i.hostVeth} ${state}`]);
  return `${node}.${iface} (host end ${i.hostVeth}) is ${state}`;
}
