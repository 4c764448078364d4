/**
 * Drop counters of the path a probe takes, read before and after a doctor's probe run, so a failure that ovn-trace
 * says should be delivered can name where packets were lost (docs/probes.md "Pacing"):
 * - the userspace datapath: `ovs-appctl dpctl/show -s` (upcalls lost; per port rx/tx dropped, errors, overruns) and
 *   the drop counters of `ovs-appctl coverage/show` (datapath_drop_*, drop_action_*);
 * - the host ends of the lab's veths (/sys/class/net/IF/statistics rx_dropped, tx_dropped);
 * - the kernel's neighbour (ARP) table (/proc/net/stat/arp_cache table_fulls, /proc/sys/net/ipv4/neigh/default):
 *   it is one table for every network namespace on the host, and a new entry that does not fit is refused, so
 *   a packet to a not-yet-resolved address is dropped before it ever reaches the datapath.
 * Everything here is read-only and bounded (two ovs-appctl calls with a time limit, a few small /proc files).
 */
import { readFileSync } from 'node:fs';
import { run } from '../exec.js';

export interface NeighTable {
  /** the hard limit on (non-permanent) entries, shared by every network namespace */
  gcThresh3: number;
  /** above this the kernel reclaims entries older than 5 s when it needs room */
  gcThresh2: number;
  /** entries now (all namespaces) */
  entries: number;
  /** entries refused because the table was full (since boot) */
  tableFulls: number;
  /** base_reachable_time_ms: an entry stays REACHABLE (not reclaimable) for 0.5–1.5 × this after a confirmation */
  reachableMs?: number;
}

export interface DropSnapshot {
  at: number;
  /** dpctl/show -s "lost:" (upcalls lost) */
  lost?: number;
  /** per datapath port: rx dropped+errors+overruns, tx dropped+errors */
  ports: Record<string, { rxDrop: number; txDrop: number }>;
  /** coverage counters whose name says drop (totals) */
  coverage: Record<string, number>;
  /** host veth statistics */
  veths: Record<string, { rxDrop: number; txDrop: number }>;
  neigh?: NeighTable;
  errors: string[];
}

function readInt(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The kernel's IPv4 neighbour table: limits and use. Undefined when /proc does not say. */
export function readNeighTable(): NeighTable | undefined {
  const dir = '/proc/sys/net/ipv4/neigh/default';
  const gcThresh3 = readInt(`${dir}/gc_thresh3`);
  const gcThresh2 = readInt(`${dir}/gc_thresh2`);
  let entries: number | undefined;
  let tableFulls = 0;
  try {
    const lines = readFileSync('/proc/net/stat/arp_cache', 'utf8').trim().split('\n');
    const head = lines[0]!.trim().split(/\s+/);
    const iEntries = head.indexOf('entries');
    const iFull = head.indexOf('table_fulls');
    for (const l of lines.slice(1)) {
      const v = l.trim().split(/\s+/);
      // "entries" is the table's (the same on every CPU line); the rest are per-CPU counts
      if (iEntries >= 0 && entries === undefined) entries = Number.parseInt(v[iEntries]!, 16);
      if (iFull >= 0) tableFulls += Number.parseInt(v[iFull]!, 16) || 0;
    }
  } catch {
    return undefined;
  }
  if (gcThresh3 === undefined || gcThresh2 === undefined || entries === undefined) return undefined;
  const reachableMs = readInt(`${dir}/base_reachable_time_ms`);
  return { gcThresh3, gcThresh2, entries, tableFulls, ...(reachableMs !== undefined ? { reachableMs } : {}) };
}

/** Entries of the neighbour tables of these network namespaces (by a process in each), from /proc/PID/net/arp. */
export function countNeighEntries(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      const lines = readFileSync(`/proc/${pid}/net/arp`, 'utf8').trim().split('\n');
      n += Math.max(0, lines.length - 1);
    } catch {
      // gone: nothing to count
    }
  }
  return n;
}

/** Parse `ovs-appctl dpctl/show -s`. */
export function parseDpctlShow(text: string): Pick<DropSnapshot, 'lost' | 'ports'> {
  const lost = /lost:(\d+)/.exec(text);
  const ports: DropSnapshot['ports'] = {};
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    const p = /^\s*port \d+: (\S+)/.exec(line);
    if (p) {
      cur = p[1]!;
      ports[cur] = { rxDrop: 0, txDrop: 0 };
      continue;
    }
    if (!cur) continue;
    const rx = /RX packets:\d+ errors:(\d+) dropped:(\d+) overruns:(\d+)/.exec(line);
    if (rx) ports[cur]!.rxDrop = Number(rx[1]) + Number(rx[2]) + Number(rx[3]);
    const tx = /TX packets:\d+ errors:(\d+) dropped:(\d+)/.exec(line);
    if (tx) ports[cur]!.txDrop = Number(tx[1]) + Number(tx[2]);
  }
  return { ...(lost ? { lost: Number(lost[1]) } : {}), ports };
}

/** Parse the drop counters of `ovs-appctl coverage/show` (totals). */
export function parseCoverageDrops(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\S*drop\S*)\s+.*total: (\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** One snapshot of every counter above; `veths` are the host ends to read (the lab's). Never throws. */
export async function readDrops(veths: string[]): Promise<DropSnapshot> {
  const snap: DropSnapshot = { at: Date.now(), ports: {}, coverage: {}, veths: {}, errors: [] };
  const [dp, cov] = await Promise.all([
    run('ovs-appctl', ['dpctl/show', '-s'], { timeoutMs: 10_000, reject: false }).catch((e: Error) => e),
    run('ovs-appctl', ['coverage/show'], { timeoutMs: 10_000, reject: false }).catch((e: Error) => e),
  ]);
  if (dp instanceof Error || dp.exitCode !== 0)
    snap.errors.push(`ovs-appctl dpctl/show -s: ${dp instanceof Error ? dp.message : dp.stderr.trim()}`);
  else Object.assign(snap, parseDpctlShow(dp.stdout));
  if (cov instanceof Error || cov.exitCode !== 0)
    snap.errors.push(`ovs-appctl coverage/show: ${cov instanceof Error ? cov.message : cov.stderr.trim()}`);
  else snap.coverage = parseCoverageDrops(cov.stdout);
  for (const v of veths) {
    const dir = `/sys/class/net/${v}/statistics`;
    const rx = readInt(`${dir}/rx_dropped`);
    const tx = readInt(`${dir}/tx_dropped`);
    if (rx !== undefined && tx !== undefined) snap.veths[v] = { rxDrop: rx, txDrop: tx };
  }
  const neigh = readNeighTable();
  if (neigh) snap.neigh = neigh;
  return snap;
}

export interface DropDelta {
  /** "name +N" for every counter that rose, the interesting ones first */
  rose: string[];
  /** neighbour entries refused during the interval */
  tableFulls?: number;
  /** the table at the end */
  neigh?: NeighTable;
}

/** What rose between two snapshots; `focus` (host veths / port names) are listed even when they did not rise. */
export function dropDelta(a: DropSnapshot, b: DropSnapshot, focus: string[] = []): DropDelta {
  const rose: string[] = [];
  const tableFulls = a.neigh && b.neigh ? Math.max(0, b.neigh.tableFulls - a.neigh.tableFulls) : undefined;
  if (tableFulls) rose.push(`kernel neighbour table full +${tableFulls} (arp_cache table_fulls)`);
  if (a.lost !== undefined && b.lost !== undefined && b.lost > a.lost)
    rose.push(`datapath upcalls lost +${b.lost - a.lost}`);
  for (const [k, v] of Object.entries(b.coverage)) {
    const d = v - (a.coverage[k] ?? 0);
    if (d > 0) rose.push(`${k} +${d}`);
  }
  for (const name of focus) {
    const pa = a.ports[name];
    const pb = b.ports[name];
    if (pa && pb)
      rose.push(
        `datapath port ${name} rx dropped +${pb.rxDrop - pa.rxDrop}, tx dropped +${pb.txDrop - pa.txDrop}`,
      );
    const va = a.veths[name];
    const vb = b.veths[name];
    if (va && vb && (vb.rxDrop > va.rxDrop || vb.txDrop > va.txDrop))
      rose.push(`${name} rx_dropped +${vb.rxDrop - va.rxDrop}, tx_dropped +${vb.txDrop - va.txDrop}`);
  }
  return {
    rose,
    ...(tableFulls !== undefined ? { tableFulls } : {}),
    ...(b.neigh ? { neigh: b.neigh } : {}),
  };
}
