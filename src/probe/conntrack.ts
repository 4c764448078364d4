/**
 * Stale conntrack (userspace datapath): entries in the conntrack zones of the lab's logical ports (and routers)
 * that still name an address inside the lab's subnets which the plan no longer gives anyone. ovn-controller does
 * not flush conntrack when a port's addresses change (doctor-notes.md), so after a readdress or a moved VIP the
 * old entries keep steering packets. Zones come from `ovn-appctl -t ovn-controller ct-zone-list`; entries from
 * `ovs-appctl dpctl/dump-conntrack` (format: `tcp,orig=(src=…,dst=…,sport=…,dport=…),reply=(…),zone=N,…`).
 */
import type { CheckResult } from '../doctor/types.js';
import { type CtEntry, datapathType, dumpConntrack, parseConntrack } from '../drivers/conntrack.js';
import { ctZoneList } from '../drivers/ovn-controller.js';
import { formatCommand } from '../exec.js';
import { contains, ipToInt, isIPv4, parseCidr } from '../lab/ipv4.js';
import type { Plan } from '../plan/types.js';
import type { DataplaneContext } from './run-types.js';
import { DOCTOR_ICMP_ID, DOCTOR_PORT, DOCTOR_PORT_TRIES } from './targets.js';

export { type CtEntry, parseConntrack } from '../drivers/conntrack.js';

export function plannedAddresses(plan: Plan): Set<string> {
  const s = new Set<string>();
  for (const n of plan.nodes)
    for (const i of n.interfaces) {
      if (i.ip) s.add(i.ip);
      if (i.gateway) s.add(i.gateway);
    }
  for (const r of plan.routers)
    for (const p of r.ports) for (const net of p.networks) s.add(net.split('/')[0]!);
  return s;
}

export interface StaleAddress {
  address: string;
  zones: number[];
  entries: CtEntry[];
}

const DOCTOR_ICMP_TUPLE = new RegExp(`(?:^|,)icmp_id=${DOCTOR_ICMP_ID}(?:,|$)`);
const isDoctorPort = (p: number | undefined) =>
  p !== undefined && p >= DOCTOR_PORT && p <= DOCTOR_PORT + DOCTOR_PORT_TRIES;

/**
 * An entry of the doctor's own mesh probes: untranslated (the reply comes from where the packet went), ICMP from
 * the doctor's identifier or TCP/UDP to or from its listener ports. Such entries name only addresses that were
 * planned when that doctor run probed them, steer nothing (no translation) and expire within a minute; counting
 * them would make a doctor run right after a node was removed report its predecessor's probes.
 */
export function isDoctorProbe(e: CtEntry): boolean {
  if (e.orig.src !== e.reply.dst || e.orig.dst !== e.reply.src) return false;
  if (e.proto === 'icmp') return DOCTOR_ICMP_TUPLE.test(e.origTuple);
  if (e.proto === 'tcp' || e.proto === 'udp') return isDoctorPort(e.orig.dport) || isDoctorPort(e.orig.sport);
  return false;
}

/**
 * Entries in `zones` naming an address inside the lab's subnets that the plan does not give anyone (the doctor's
 * own probe entries aside: isDoctorProbe).
 */
export function findStale(entries: CtEntry[], zones: Set<number>, plan: Plan): StaleAddress[] {
  const planned = plannedAddresses(plan);
  const subnets = plan.switches
    .flatMap((sw) => (sw.subnet ? [parseCidr(sw.subnet)] : []))
    .flatMap((p) => (p.ok ? [p.cidr] : []));
  const inLab = (ip: string) => isIPv4(ip) && subnets.some((c) => contains(c, ipToInt(ip)));
  const by = new Map<string, StaleAddress>();
  for (const e of entries) {
    if (!zones.has(e.zone) || isDoctorProbe(e)) continue;
    for (const ip of new Set([e.orig.src, e.orig.dst, e.reply.src, e.reply.dst])) {
      if (!ip || planned.has(ip) || !inLab(ip)) continue;
      const s = by.get(ip) ?? { address: ip, zones: [], entries: [] };
      if (!s.zones.includes(e.zone)) s.zones.push(e.zone);
      s.entries.push(e);
      by.set(ip, s);
    }
  }
  return [...by.values()].sort((a, b) => ipToInt(a.address) - ipToInt(b.address));
}

/**
 * The flushes for one stale address: per zone, by the direction and side it appears on. An address seen only in
 * the reply tuple (the old backend of a VIP: orig dst is the VIP) is matched by the reply tuple, with an empty
 * original tuple (ovs-vswitchd(8) dpctl/flush-conntrack).
 */
export function flushCommands(s: StaleAddress): string[][] {
  const cmds = new Map<string, string[]>();
  for (const e of s.entries) {
    const z = `zone=${e.zone}`;
    if (e.orig.src === s.address)
      cmds.set(`${e.zone}/os`, ['dpctl/flush-conntrack', z, `ct_nw_src=${s.address}`]);
    if (e.orig.dst === s.address)
      cmds.set(`${e.zone}/od`, ['dpctl/flush-conntrack', z, `ct_nw_dst=${s.address}`]);
    if (e.orig.src === s.address || e.orig.dst === s.address) continue;
    if (e.reply.src === s.address)
      cmds.set(`${e.zone}/rs`, ['dpctl/flush-conntrack', z, '', `ct_nw_src=${s.address}`]);
    if (e.reply.dst === s.address)
      cmds.set(`${e.zone}/rd`, ['dpctl/flush-conntrack', z, '', `ct_nw_dst=${s.address}`]);
  }
  return [...cmds.values()];
}

export async function conntrackResults(ctx: DataplaneContext): Promise<CheckResult[]> {
  const { plan } = ctx;
  const base = { id: 'dataplane.conntrack', layer: 'dataplane' as const };
  const dp = await datapathType(plan.ovn.bridge);
  if (dp !== 'netdev')
    return [
      {
        ...base,
        subject: 'conntrack',
        status: 'skip',
        evidence: `${plan.ovn.bridge} uses the ${dp} datapath: conntrack lives in the kernel, not checked here`,
      },
    ];
  const zonesByPort = await ctZoneList();
  const zoneOwner = new Map<number, string>();
  for (const n of plan.nodes)
    for (const i of n.interfaces) {
      const z = zonesByPort.get(i.lsp);
      if (z !== undefined) zoneOwner.set(z, `${n.name}.${i.name}`);
    }
  try {
    const nb = await ctx.ovn.readLab(plan.lab);
    for (const r of nb.routers)
      for (const suffix of ['_dnat', '_snat']) {
        const z = zonesByPort.get(`${r.uuid}${suffix}`);
        if (z !== undefined) zoneOwner.set(z, `router ${r.name}${suffix.replace('_', ' ')}`);
      }
  } catch {
    // router zones are a bonus; node zones are what matter
  }
  const entries = parseConntrack(await dumpConntrack());
  const zones = new Set(zoneOwner.keys());
  const mine = entries.filter((e) => zones.has(e.zone));
  const stale = findStale(entries, zones, plan);
  if (!stale.length)
    return [
      {
        ...base,
        subject: 'conntrack',
        status: 'pass',
        evidence: `${mine.length} conntrack entries in the lab's ${zones.size} zones; none names an address the plan does not give anyone`,
        data: { entries: mine.length, zones: zones.size },
      },
    ];
  return stale.map((s) => {
    const owners = s.zones.map((z) => `${z} (${zoneOwner.get(z)})`).join(', ');
    const e = s.entries[0]!;
    const example = `${e.proto} ${e.orig.src}→${e.orig.dst}${e.orig.dport !== undefined ? `:${e.orig.dport}` : ''}${e.state ? ` ${e.state}` : ''}`;
    const nodes = [
      ...new Set(
        s.zones
          .map((z) => zoneOwner.get(z)?.split('.')[0])
          .filter((n): n is string => !!n && plan.nodes.some((x) => x.name === n)),
      ),
    ];
    return {
      ...base,
      subject: `conntrack ${s.address}`,
      status: 'fail' as const,
      cause: 'stale-conntrack' as const,
      evidence: `${s.entries.length} conntrack entr${s.entries.length === 1 ? 'y' : 'ies'} in zone ${owners} still name ${s.address}, which the plan gives no node or router (e.g. ${example})`,
      fix: flushCommands(s)
        .map((a) => formatCommand('ovs-appctl', a))
        .join(' && '),
      data: {
        addresses: [s.address],
        zones: s.zones,
        flush: flushCommands(s),
        entries: s.entries.length,
        nodes,
      },
    };
  });
}
