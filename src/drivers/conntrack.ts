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

export interface CtEntry {
  proto: string;
  zone: number;
  orig: { src?: string; dst?: string; sport?: number; dport?: number };
  reply: { src?: string; dst?: string };
  state?: string;
  raw: string;
}

function tuple(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (text ?? '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

export function parseConntrack(dump: string): CtEntry[] {
  const out: CtEntry[] = [];
  for (const line of dump.split('\n')) {
    const raw = line.trim();
    const m = /^(\w+),orig=\(([^)]*)\),reply=\(([^)]*)\)(.*)$/.exec(raw);
    if (!m) continue;
    const o = tuple(m[2]);
    const r = tuple(m[3]);
    const zone = /(?:^|,)zone=(\d+)/.exec(m[4]!);
    const state = /state=([A-Z_]+)/.exec(m[4]!);
    out.push({
      proto: m[1]!,
      zone: zone ? Number(zone[1]) : 0,
      orig: {
        src: o.src,
        dst: o.dst,
        ...(o.sport ? { sport: Number(o.sport) } : {}),
        ...(o.dport ? { dport: Number(o.dport) } : {}),
      },
      reply: { src: r.src, dst: r.dst },
      ...(state ? { state: state[1] } : {}),
      raw,
    });
  }
  return out;
}

/** Addresses the plan gives someone: node interfaces, router ports, gateways. */
/**
 * Flush every entry that names one of these addresses (original or reply direction, any zone). OVS 3.1's
 * flush-conntrack matches partial tuples but only within one zone (zone 0 when none is given), and OVN keeps a
 * zone per logical port and per gateway router, so the zones come from a dump first.
 */
export async function flushAddresses(bridge: string, addresses: string[]): Promise<number> {
  if (!addresses.length) return 0;
  for (const a of addresses) assertArg(a, 'address', /^\d{1,3}(\.\d{1,3}){3}$/);
  if ((await datapathType(bridge)) !== 'netdev') {
    for (const a of addresses)
      for (const flag of ['-s', '-d', '-r', '-q'])
        await run('conntrack', ['-D', flag, a], { timeoutMs: 10_000, reject: false });
    return 0;
  }
  const entries = parseConntrack(
    (await run('ovs-appctl', ['dpctl/dump-conntrack'], { timeoutMs: 20_000 })).stdout,
  );
  const flushes = new Set<string>();
  for (const e of entries)
    for (const a of addresses) {
      if (e.orig.src === a) flushes.add(`${e.zone}|ct_nw_src=${a}|`);
      if (e.orig.dst === a) flushes.add(`${e.zone}|ct_nw_dst=${a}|`);
      if (e.reply.src === a) flushes.add(`${e.zone}||ct_nw_src=${a}`);
      if (e.reply.dst === a) flushes.add(`${e.zone}||ct_nw_dst=${a}`);
    }
  for (const f of flushes) {
    const [zone, orig, reply] = f.split('|') as [string, string, string];
    // An empty original tuple with a reply tuple flushes by the reply direction (ovs-vswitchd(8)).
    await run('ovs-appctl', ['dpctl/flush-conntrack', `zone=${zone}`, orig, ...(reply ? [reply] : [])], {
      timeoutMs: 10_000,
    });
  }
  return entries.filter((e) =>
    addresses.some((a) => [e.orig.src, e.orig.dst, e.reply.src, e.reply.dst].includes(a)),
  ).length;
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
