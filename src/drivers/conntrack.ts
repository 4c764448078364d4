/**
 * Connection tracking of the local datapath. On the userspace datapath (netdev) conntrack lives inside
 * ovs-vswitchd and is flushed with `ovs-appctl dpctl/flush-conntrack`; on the kernel datapath it is the host's
 * table (`conntrack -D`). ovn-controller does not flush it when NAT or load-balancer backends change, so a moved
 * VIP or a rotated public address keeps its old translation until this runs (platform.md).
 */
import { run } from '../exec.js';
import { assertArg } from '../names.js';

export async function datapathType(bridge: string): Promise<string> {
  const r = await run(
    'ovs-vsctl',
    ['--timeout=10', 'get', 'Bridge', assertArg(bridge, 'bridge'), 'datapath_type'],
    { timeoutMs: 15_000, reject: false },
  );
  return r.stdout.replace(/"/g, '').trim() || 'system';
}

/** Flush entries whose original source or destination is one of these addresses. */
export async function flushAddresses(bridge: string, addresses: string[]): Promise<void> {
  if (!addresses.length) return;
  const userspace = (await datapathType(bridge)) === 'netdev';
  for (const a of addresses) {
    assertArg(a, 'address', /^\d{1,3}(\.\d{1,3}){3}$/);
    for (const dir of ['src', 'dst'] as const) {
      if (userspace)
        await run('ovs-appctl', ['dpctl/flush-conntrack', `ct_nw_${dir}=${a}`], { timeoutMs: 10_000 });
      else
        await run('conntrack', ['-D', dir === 'src' ? '-s' : '-d', a], { timeoutMs: 10_000, reject: false });
    }
  }
}

/** Flush whole conntrack zones. */
export async function flushZones(bridge: string, zones: number[]): Promise<void> {
  if (!zones.length) return;
  const userspace = (await datapathType(bridge)) === 'netdev';
  for (const z of zones) {
    if (userspace) await run('ovs-appctl', ['dpctl/flush-conntrack', `zone=${z}`], { timeoutMs: 10_000 });
    else await run('conntrack', ['-D', '-w', String(z)], { timeoutMs: 10_000, reject: false });
  }
}
