/**
 * Every `ip: dhcp` interface holds its planned address, and an independent DHCP client run in its node
 * (`udhcpc -q -n -s /bin/true`: asks OVN, changes nothing) is offered that same address (docs/dhcp-dns.md).
 */
import pLimit from 'p-limit';
import { probeDhcp } from '../src/drivers/dhcp-client.js';
import type { DoctorCheck } from './runner.js';
import { errorResult } from './runner.js';
import { fail, fixByConverge, ifaceData, ifaceSubject, pass, toResult, upCommand } from './wiring-common.js';

const CONCURRENCY = 8;

export const dataplaneDhcp: DoctorCheck = {
  id: 'dataplane.dhcp',
  layer: 'dataplane',
  title: 'ip: dhcp interfaces hold the address OVN offers',
  async run(ctx) {
    const limit = pLimit(CONCURRENCY);
    const refs = ctx.plan.nodes.flatMap((node) =>
      node.interfaces.filter((i) => i.dhcp).map((iface) => ({ node, iface })),
    );
    return Promise.all(
      refs.map(({ node, iface }) =>
        limit(async () => {
          const subject = ifaceSubject(node.name, iface.name);
          const base = ifaceData(node, iface);
          try {
            const pid = await ctx.facts.pid(node.name);
            if (pid === undefined)
              return toResult(this, subject, base, {
                status: 'skip',
                evidence: `${node.container} does not run`,
              });
            const want = `${iface.ip}/${iface.prefix}`;
            const offer = await probeDhcp(pid, iface.name);
            const link = (await ctx.facts.nsState(node.name)).links.find((l) => l.name === iface.name);
            const have = link?.addrs ?? [];
            const data = { offered: offer.ip ?? null, seen: offer.seen, holds: have, planned: want };
            if (offer.ip !== iface.ip)
              return toResult(
                this,
                subject,
                base,
                fail(
                  'dhcp-no-lease',
                  offer.ip
                    ? `OVN offers ${offer.ip} to ${subject}, planned ${iface.ip} (the client saw: ${offer.seen})`
                    : `no DHCP lease for ${subject}: ${offer.seen}`,
                  upCommand(ctx),
                  data,
                ),
              );
            if (have.length !== 1 || have[0] !== want)
              return toResult(
                this,
                subject,
                base,
                fail(
                  'address-mismatch',
                  `${subject} holds ${have.join(' ') || 'no address'}; OVN offers its planned ${want}`,
                  upCommand(ctx),
                  data,
                ),
              );
            return toResult(
              this,
              subject,
              base,
              pass(`${subject} holds ${want}, the address OVN offers`, data),
            );
          } catch (err) {
            const r = errorResult(this, subject, err);
            r.data = { ...base, ...(r.data ?? {}) };
            return r;
          }
        }),
      ),
    );
  },
  // applyPlan restores the DHCP options and the port's link to them, and runs the node's client again
  fix: fixByConverge,
};
