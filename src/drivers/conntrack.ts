/**
 * Connection tracking of the local datapath. On the userspace datapath (netdev) conntrack lives inside
 * ovs-vswitchd and is flushed with `ovs-appctl dpctl/flush-conntrack`; on the kernel datapath it is the host's
 * table (`conntrack -D`). ovn-controller does not flush it when NAT or load-balancer backends change, so a moved
 * VIP or a rotated public address keeps its old translation until this runs (platform.md).
 */
import { isIP } from 'node:net';
import { type Runner, run as runLocal } from '../exec.js';
import { assertArg } from '../names.js';

/**
 * Which datapath: this host's (the defaults), or a simulated chassis's own (docs/multichassis.md) — its OVS
 * database and its ovs-vswitchd's control socket, whose userspace datapath holds that chassis's conntrack.
 */
export interface DatapathTarget {
  /** ovs-vsctl --db (e.g. unix:<chassis dir>/db.sock) */
  db?: string;
  /** ovs-appctl -t (e.g. <chassis dir>/ovs-vswitchd.ctl) */
  vswitchdCtl?: string;
  /** how commands reach that datapath's machine (a remote chassis: over ssh); default: this machine */
  runner?: Runner;
}

const dbArgs = (t?: DatapathTarget) => (t?.db ? [`--db=${t.db}`] : []);
const ctlArgs = (t?: DatapathTarget) => (t?.vswitchdCtl ? ['-t', t.vswitchdCtl] : []);

export async function datapathType(bridge: string, target?: DatapathTarget): Promise<string> {
  const run = target?.runner ?? runLocal;
  const r = await run(
    'ovs-vsctl',
    ['--timeout=10', ...dbArgs(target), 'get', 'Bridge', assertArg(bridge, 'bridge'), 'datapath_type'],
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
  /** the original-direction tuple as flush-conntrack takes it (ct_nw_src=…,ct_nw_dst=…,ct_nw_proto=…,…) */
  origTuple: string;
}

const PROTO_NUMBER: Record<string, string> = { tcp: '6', udp: '17', icmp: '1', icmpv6: '58', sctp: '132' };
const TUPLE_KEY: Record<string, string> = {
  src: 'ct_nw_src',
  dst: 'ct_nw_dst',
  sport: 'ct_tp_src',
  dport: 'ct_tp_dst',
  id: 'icmp_id',
  type: 'icmp_type',
  code: 'icmp_code',
};

function origTupleOf(proto: string, o: Record<string, string>): string {
  // IPv6 entries: flush-conntrack names their addresses ct_ipv6_src/ct_ipv6_dst
  const v6 = (o.src ?? '').includes(':');
  const parts = Object.entries(o)
    .filter(([k]) => TUPLE_KEY[k])
    .map(([k, v]) => `${v6 && (k === 'src' || k === 'dst') ? `ct_ipv6_${k}` : TUPLE_KEY[k]}=${v}`);
  const n = PROTO_NUMBER[proto];
  if (n) parts.splice(2, 0, `ct_nw_proto=${n}`);
  return parts.join(',');
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
      origTuple: origTupleOf(m[1]!, o),
    });
  }
  return out;
}

/** Addresses the plan gives someone: node interfaces, router ports, gateways. */
/**
 * Flush every entry that names one of these addresses (original or reply direction, any zone), except those
 * `keep` says are current (e.g. a VIP's entries that already lead to its new backend). Each entry is flushed by
 * its exact zone and original tuple: OVS 3.1's flush-conntrack looks in zone 0 only unless told the zone, and OVN
 * keeps a zone per logical port and per router. Repeated (bounded) until a dump finds nothing stale, because
 * packets already in flight can re-create an entry with the old translation for a moment after the new flows are
 * in. Returns how many entries were flushed.
 */
export async function flushAddresses(
  bridge: string,
  addresses: string[],
  keep: (e: CtEntry) => boolean = () => false,
  rounds = 10,
  target?: DatapathTarget,
): Promise<number> {
  if (!addresses.length) return 0;
  for (const a of addresses) if (!isIP(a)) assertArg(a, 'address', /^\d{1,3}(\.\d{1,3}){3}$/);
  const run = target?.runner ?? runLocal;
  if ((await datapathType(bridge, target)) !== 'netdev') {
    for (const a of addresses)
      for (const flag of ['-s', '-d', '-r', '-q'])
        await run('conntrack', ['-D', flag, a], { timeoutMs: 10_000, reject: false });
    return 0;
  }
  const names = (e: CtEntry) =>
    addresses.some((a) => [e.orig.src, e.orig.dst, e.reply.src, e.reply.dst].includes(a));
  let flushed = 0;
  for (let round = 0; round < rounds; round++) {
    const dump = await run('ovs-appctl', [...ctlArgs(target), 'dpctl/dump-conntrack'], { timeoutMs: 20_000 });
    const stale = parseConntrack(dump.stdout).filter((e) => names(e) && !keep(e));
    if (!stale.length && round > 0) break;
    for (const e of stale) {
      assertArg(e.origTuple, 'conntrack tuple');
      await run('ovs-appctl', [...ctlArgs(target), 'dpctl/flush-conntrack', `zone=${e.zone}`, e.origTuple], {
        timeoutMs: 10_000,
        reject: false,
      });
    }
    flushed += stale.length;
    await new Promise((r) => setTimeout(r, 100));
  }
  return flushed;
}

/** The userspace datapath's whole conntrack table, as `ovs-appctl dpctl/dump-conntrack` prints it. */
export async function dumpConntrack(target?: DatapathTarget): Promise<string> {
  const run = target?.runner ?? runLocal;
  return (await run('ovs-appctl', [...ctlArgs(target), 'dpctl/dump-conntrack'], { timeoutMs: 20_000 }))
    .stdout;
}

/**
 * Flush the userspace datapath's entries that match `zone=N` and one tuple field (e.g. ct_nw_src=10.0.1.5), as
 * `ovs-appctl dpctl/flush-conntrack zone=N ct_nw_src=…`; throws when it fails.
 */
export async function flushConntrackMatching(zone: string, tuple: string): Promise<void> {
  assertArg(zone, 'conntrack zone', /^zone=\d+$/);
  assertArg(tuple, 'conntrack tuple');
  await runLocal('ovs-appctl', ['dpctl/flush-conntrack', zone, tuple], { timeoutMs: 10_000 });
}

/**
 * Drop ovs-vswitchd's cached datapath flows, so the next packet of every flow goes through the current OpenFlow
 * tables. After ovn-controller installs new NAT/LB flows, cached megaflows can still apply the old translation
 * for a moment and re-create a conntrack entry just flushed.
 */
export async function purgeDatapathFlows(target?: DatapathTarget): Promise<void> {
  const run = target?.runner ?? runLocal;
  await run('ovs-appctl', [...ctlArgs(target), 'revalidator/purge'], { timeoutMs: 10_000, reject: false });
}

/** Flush whole conntrack zones. */
export async function flushZones(bridge: string, zones: number[], target?: DatapathTarget): Promise<void> {
  if (!zones.length) return;
  const run = target?.runner ?? runLocal;
  const userspace = (await datapathType(bridge, target)) === 'netdev';
  for (const z of zones) {
    if (userspace)
      await run('ovs-appctl', [...ctlArgs(target), 'dpctl/flush-conntrack', `zone=${z}`], {
        timeoutMs: 10_000,
      });
    else await run('conntrack', ['-D', '-w', String(z)], { timeoutMs: 10_000, reject: false });
  }
}
