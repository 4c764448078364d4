/**
 * dns: (docs/dhcp-dns.md): every node resolves every other node's `<node>.<lab>` to that node's current addresses
 * (the plan's), through its own resolver — OVN's DNS answered in its logical switch. A wrong or missing answer is
 * `dns-stale` (evidence: the name, the answer, the expected addresses).
 */
import pLimit from 'p-limit';
import { lookup } from '../src/drivers/dns-client.js';
import type { DoctorCheck } from './runner.js';
import { errorResult } from './runner.js';
import { fail, fixByConverge, pass, toResult, upCommand } from './wiring-common.js';

/** queries at once (each one nsenter + busybox, ≤ 5 s) */
const CONCURRENCY = 8;

export const dataplaneDns: DoctorCheck = {
  id: 'dataplane.dns',
  layer: 'dataplane',
  title: "every node resolves every other node's name to its current addresses",
  async run(ctx) {
    const dns = ctx.plan.dns;
    if (!dns) return [];
    const limit = pLimit(CONCURRENCY);
    const L = ctx.plan.lab;
    const pairs = ctx.plan.nodes
      .filter((n) => n.resolver)
      .flatMap((from) => ctx.plan.nodes.filter((to) => to !== from).map((to) => ({ from, to })));
    return Promise.all(
      pairs.map(({ from, to }) =>
        limit(async () => {
          const name = `${to.name}.${L}`;
          const subject = `${from.name}→${name}`;
          const base = { node: from.name, target: to.name, name };
          try {
            const pid = await ctx.facts.pid(from.name);
            if (pid === undefined)
              return toResult(this, subject, base, {
                status: 'skip',
                evidence: `${from.container} does not run`,
              });
            const all = (dns.records[name] ?? '').split(' ').filter(Boolean);
            const v4 = all.filter((a) => !a.includes(':'));
            const v6 = all.filter((a) => a.includes(':'));
            // A, and AAAA when the node has IPv6 addresses: each answer must be exactly that family's addresses
            const answers = await Promise.all([
              ...(v4.length ? [lookup(pid, name, 'a')] : []),
              ...(v6.length ? [lookup(pid, name, 'aaaa')] : []),
            ]);
            const got = answers.flatMap((a) => a.addresses);
            const seen = answers.map((a) => a.seen).join(' ');
            const data = { answer: got, expected: all, seen };
            const same = got.length === all.length && [...got].sort().join(' ') === [...all].sort().join(' ');
            if (!same)
              return toResult(
                this,
                subject,
                base,
                fail(
                  'dns-stale',
                  `${from.name} resolves ${name} to ${seen}; expected ${all.join(' ')}`,
                  upCommand(ctx),
                  data,
                ),
              );
            return toResult(this, subject, base, pass(`${name} → ${got.join(' ')}`, data));
          } catch (err) {
            const r = errorResult(this, subject, err);
            r.data = { ...base, ...(r.data ?? {}) };
            return r;
          }
        }),
      ),
    );
  },
  // applyPlan writes the lab's DNS records back to the plan's
  fix: fixByConverge,
};
