/**
 * Carry out the dhcp-lease changes (docs/dhcp-dns.md): once every port is bound, each `ip: dhcp` interface's
 * client runs inside its node (bounded), and labctl observes the outcome: the planned address must be on the
 * interface. Then the routes through it are set (they need the address).
 */
import pLimit from 'p-limit';
import { leaseDhcp, leaseDhcp6 } from '../drivers/dhcp-client.js';
import type { HostDriver } from '../drivers/host.js';
import { LabctlError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import type { DhcpLeaseChange } from './changes.js';

const LEASE_CONCURRENCY = 8;
/** client runs per interface: OVN may still answer from the old flows right after a readdress */
const ATTEMPTS = 3;

export async function runDhcpLeases(
  plan: Plan,
  changes: DhcpLeaseChange[],
  hostOf: (name: string) => HostDriver,
  done: (c: DhcpLeaseChange) => void,
  hint: string,
): Promise<void> {
  const limit = pLimit(LEASE_CONCURRENCY);
  const pids = new Map<string, Promise<Map<string, string>>>();
  const idsOf = (host: string) => {
    let p = pids.get(host);
    if (!p) {
      p = hostOf(host)
        .containers.list(plan.lab)
        .then((cs) => new Map(cs.filter((c) => c.running).map((c) => [c.node, c.id])));
      pids.set(host, p);
    }
    return p;
  };
  await Promise.all(
    changes.map((c) =>
      limit(async () => {
        const host = hostOf(c.host);
        const node = plan.nodes.find((n) => n.name === c.node)!;
        const iface = node.interfaces.find((i) => i.name === c.iface)!;
        const id = (await idsOf(c.host)).get(c.node);
        if (!id)
          throw new LabctlError('environment', `DHCP on ${c.node}.${c.iface}: its container does not run`, {
            hint,
          });
        const pid = await host.containers.pid(id);
        const v6 = c.family === 6;
        const want = v6 ? `${iface.ip6}/${iface.prefix6}` : `${c.ip}/${iface.prefix}`;
        const holds = (have: string[]) => have.length === 1 && have[0] === want;
        let seen = '';
        let have: string[] = [];
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
          const out = v6 ? await leaseDhcp6(pid, c.iface, iface.prefix6!) : await leaseDhcp(pid, c.iface);
          seen = out.ip ? `offered ${out.ip}` : out.seen;
          const link = (await host.links.nsState(pid)).links.find((l) => l.name === c.iface);
          have = (v6 ? link?.addrs6 : link?.addrs) ?? [];
          if (out.ip === c.ip && holds(have)) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        if (!holds(have))
          throw new LabctlError(
            'environment',
            `DHCP${v6 ? 'v6' : ''} on ${c.node}.${c.iface} did not give its planned address ${want}: the client saw ${seen}; the interface has ${have.join(' ') || 'no address'}`,
            {
              hint: `${hint}; the node's image needs ${v6 ? "isc-dhcp-client's dhclient" : 'busybox udhcpc'} and its event script (labctl image build gives labctl/node both)`,
            },
          );
        const routes = node.routes.filter((r) => r.dev === c.iface && (r.family === 6) === v6);
        if (routes.length)
          await host.links.nsBatch(
            pid,
            routes.map((r) => `route replace ${r.dst} via ${r.via} dev ${r.dev}`),
          );
        done(c);
      }),
    ),
  );
}
