/**
 * Kernel settings under /proc/sys, raised but never lowered: they are shared by everything on the host, so labctl
 * only ever asks for at least what it needs.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Keys labctl may raise (validated: each becomes a /proc/sys path). */
const RAISABLE = /^net\.ipv[46]\.neigh\.default\.gc_thresh[123]$/;

/**
 * The kernel's neighbour (ARP) table is one table for every network namespace on the host (1024 entries by
 * default); a full mesh of N lab nodes needs N·(N−1) entries, so the doctor's probes of a 50-node lab overflow it
 * ("neighbor table overflow!") and healthy pairs look broken. Room for a 256-node mesh, the same order as what
 * large container hosts configure.
 */
export const NEIGH_TABLE_MIN = {
  'net.ipv4.neigh.default.gc_thresh2': 32_768,
  'net.ipv4.neigh.default.gc_thresh3': 65_536,
  // IPv6 neighbour discovery has its own host-wide table of the same default size: a dual-stack mesh fills both
  'net.ipv6.neigh.default.gc_thresh2': 32_768,
  'net.ipv6.neigh.default.gc_thresh3': 65_536,
} as const;

/** Raise each key to at least its value; returns "key=value" for every key changed. */
export function raiseSysctls(values: Record<string, number>): string[] {
  const changed: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!RAISABLE.test(key) || !Number.isInteger(value) || value <= 0) continue;
    const file = `/proc/sys/${key.replaceAll('.', '/')}`;
    try {
      const now = Number(readFileSync(file, 'utf8').trim());
      if (Number.isFinite(now) && now >= value) continue;
      writeFileSync(file, `${value}\n`);
      changed.push(`${key}=${value}`);
    } catch {
      // absent or read-only here (an unprivileged container's /proc/sys): the doctor names the table if it is short
    }
  }
  return changed;
}
