/**
 * Wait until every port is really ready: ovn-controller sets external_ids:ovn-installed="true" on the OVS
 * interface once the port's flows are installed (OVN ≥ 21.09; platform.md). `ovn-nbctl --wait=hv sync` is not
 * used: it can hang forever when any chassis is unhealthy. The wait is bounded, and a timeout names every port
 * still pending with the reason seen.
 */

import type { HostDriver } from '../drivers/host.js';
import type { OvnDriver } from '../drivers/ovn.js';
import { LabctlError } from '../errors.js';

export interface PortRef {
  node: string;
  iface: string;
  hostVeth: string;
  lsp: string;
}

export async function waitForPorts(
  host: HostDriver,
  ovn: OvnDriver,
  ports: PortRef[],
  timeoutMs: number,
  pollMs = 100,
): Promise<void> {
  if (!ports.length) return;
  const deadline = Date.now() + timeoutMs;
  let pending = ports;
  let lastSeen = new Map<string, { ofport?: number; error: string; installed: boolean; ifaceId?: string }>();
  while (Date.now() < deadline) {
    const ifaces = await host.ovs.listLabInterfaces();
    lastSeen = new Map(
      ifaces.map((i) => [
        i.name,
        {
          ofport: i.ofport,
          error: i.error,
          installed: i.externalIds['ovn-installed'] === 'true',
          ifaceId: i.externalIds['iface-id'],
        },
      ]),
    );
    pending = pending.filter((p) => {
      const s = lastSeen.get(p.hostVeth);
      return !(s?.installed && s.ifaceId === p.lsp);
    });
    if (!pending.length) return;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const bindings = new Map(
    (await ovn.bindings(pending.map((p) => p.lsp)).catch(() => [])).map((b) => [b.logicalPort, b]),
  );
  const details = pending.map((p) => {
    const s = lastSeen.get(p.hostVeth);
    const b = bindings.get(p.lsp);
    let why: string;
    if (!s) why = `no OVS interface ${p.hostVeth}`;
    else if (s.error) why = `OVS error: ${s.error}`;
    else if (!s.ofport || s.ofport < 0) why = `OVS interface ${p.hostVeth} has no ofport`;
    else if (!b) why = `no Port_Binding for ${p.lsp} (is ovn-northd running?)`;
    else if (!b.chassis)
      why = `${p.lsp} is not bound to any chassis (is ovn-controller running and connected?)`;
    else why = `bound to ${b.chassis}, flows not installed yet (ovn-installed missing)`;
    return `${p.node}.${p.iface} (${p.lsp}): ${why}`;
  });
  throw new LabctlError(
    'timeout',
    `${pending.length} of ${ports.length} ports not ready after ${Math.round(timeoutMs / 1000)} s`,
    {
      details,
      hint: 'labctl doctor   (names the root cause), or labctl host start if a daemon is down',
    },
  );
}
