/**
 * Every `ip: dhcp` interface holds its planned address, and an independent DHCP client run in its node
 * (`udhcpc -q -n -s /bin/true`: asks OVN, changes nothing) is offered that same address (docs/dhcp-dns.md).
 */
import pLimit from 'p-limit';
import { probeDhcp, probeDhcp6 } from '../src/drivers/dhcp-client.js';
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
      node.interfaces.flatMap((iface) => [
        ...(iface.dhcp ? [{ node, iface, v6: false }] : []),
        ...(iface.dhcp6 ? [{ node, iface, v6: true }] : []),
      ]),
    );
    return Promise.all(
      refs.map(({ node, iface, v6 }) =>
        limit(async () => {
          const subject = `${ifaceSubject(node.name, iface.name)}${v6 ? ' DHCPv6' : ''}`;
          const base = ifaceData(node, iface, v6 ? { family: 6 } : {});
          try {
            const pid = await ctx.facts.pid(node.name);
            if (pid === undefined)
              return toResult(this, subject, base, {
                status: 'skip',
                evidence: `${node.container} does not run`,
              });
            const planned = v6 ? iface.ip6 : iface.ip;
            const want = v6 ? `${iface.ip6}/${iface.prefix6}` : `${iface.ip}/${iface.prefix}`;
            const offer = v6 ? await probeDhcp6(pid, iface.name) : await probeDhcp(pid, iface.name);
            const link = (await ctx.facts.nsState(node.name)).links.find((l) => l.name === iface.name);
            const have = (v6 ? link?.addrs6 : link?.addrs) ?? [];
            const data = { offered: offer.ip ?? null, seen: offer.seen, holds: have, planned: want };
            if (offer.ip !== planned)
              return toResult(
                this,
                subject,
                base,
                fail(
                  'dhcp-no-lease',
                  offer.ip
                    ? `OVN offers ${offer.ip} to ${subject}, planned ${planned} (the client saw: ${offer.seen})`
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
