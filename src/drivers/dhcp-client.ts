/**
 * DHCP clients inside a node (docs/dhcp-dns.md), run by labctl through nsenter into every namespace of the
 * container (its own filesystem, so the image's busybox udhcpc), bounded in time, never left running:
 *   lease: `udhcpc -q -n` with the image's event script, which sets the leased address (`up`)
 *   probe: `udhcpc -q -n -s /bin/true`, which asks OVN and changes nothing (doctor)
 * and for stateful DHCPv6 ISC `dhclient -6 -1` (the image's isc-dhcp-client), which daemonizes once bound: labctl
 * stops it right after (`dhclient -6 -x`, no release) — OVN's leases never expire, nothing is left to renew.
 */
import { run } from '../exec.js';
import { assertArg } from '../names.js';

/** The event script the default node image (compose/node) carries for udhcpc. */
export const UDHCPC_SCRIPT = '/usr/local/lib/labctl/udhcpc.script';
/** discover packets per run and seconds between them: OVN answers at once, so a few seconds bound a run */
const TRIES = 4;
const PAUSE_S = 1;

export interface DhcpOutcome {
  /** the address OVN offered and acknowledged; undefined when no lease came */
  ip?: string;
  /** what the client saw, for errors and doctor evidence (its last lines, or the timeout) */
  seen: string;
}

/** Parse udhcpc's output: "udhcpc: lease of 10.0.1.5 obtained from 10.0.1.1, lease time 31536000". */
export function parseUdhcpc(output: string): DhcpOutcome {
  const lease = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(output);
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const seen = lease ? lease[0] : lines.slice(-2).join('; ') || 'no output';
  return lease ? { ip: lease[1], seen } : { seen };
}

function udhcpcArgs(pid: number, iface: string, script: string): string[] {
  assertArg(iface, 'interface name');
  return [
    '-t',
    String(pid),
    '-a',
    '--',
    // Debian's busybox installs no applet links: call the applet through busybox (works on Alpine too)
    'busybox',
    'udhcpc',
    '-i',
    iface,
    '-f',
    '-q',
    '-n',
    '-t',
    String(TRIES),
    '-T',
    String(PAUSE_S),
    '-s',
    script,
  ];
}

async function runUdhcpc(pid: number, iface: string, script: string): Promise<DhcpOutcome> {
  const timeoutMs = (TRIES * PAUSE_S + 6) * 1000;
  const r = await run('nsenter', udhcpcArgs(pid, iface, script), { timeoutMs, reject: false });
  const out = parseUdhcpc(`${r.stdout}\n${r.stderr}`);
  if (!out.ip && r.exitCode === 127)
    return { seen: `no busybox udhcpc in the node's image (${r.stderr.trim() || 'exit 127'})` };
  if (!out.ip && r.timedOut) return { seen: `no lease within ${timeoutMs / 1000} s (${out.seen})` };
  if (!out.ip) return { seen: `no lease after ${TRIES} discover(s), ${PAUSE_S} s apart (${out.seen})` };
  return out;
}

/** Run the node's DHCP client on `iface` once: it sets the leased address and exits. */
export function leaseDhcp(pid: number, iface: string): Promise<DhcpOutcome> {
  return runUdhcpc(pid, iface, UDHCPC_SCRIPT);
}

/** Ask OVN for a lease on `iface` without changing the interface (the doctor's independent client). */
export function probeDhcp(pid: number, iface: string): Promise<DhcpOutcome> {
  return runUdhcpc(pid, iface, '/bin/true');
}

/** The event script the default node image carries for dhclient -6. */
export const DHCLIENT6_SCRIPT = '/usr/local/lib/labctl/dhclient6.script';

/** Parse dhclient -6 -v: the address of the Reply that bound the lease ("RCV:  | | X-- IAADDR fd00::2"). */
export function parseDhclient6(output: string): DhcpOutcome {
  const bound = /Bound to lease/.test(output);
  const addr = [...output.matchAll(/IAADDR ([0-9a-f:]+)/gi)].pop()?.[1];
  if (bound && addr) return { ip: addr, seen: `lease of ${addr} bound` };
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return { seen: lines.slice(-2).join('; ') || 'no output' };
}

async function runDhclient6(
  pid: number,
  iface: string,
  script: string,
  prefix: number,
): Promise<DhcpOutcome> {
  assertArg(iface, 'interface name');
  const files = [`-pf`, `/run/labctl-dhclient6.${iface}.pid`, '-lf', `/run/labctl-dhclient6.${iface}.leases`];
  const base = ['-t', String(pid), '-a', '--', 'dhclient', '-6'];
  // -1: one try (its own timeout, ≤ 60 s by default, bounded below); once bound it forks into the background
  const timeoutMs = 20_000;
  const r = await run(
    'nsenter',
    [...base, '-1', '-v', '--address-prefix-len', String(prefix), '-sf', script, ...files, iface],
    { timeoutMs, reject: false },
  );
  // stop the daemon it left (-x: no release, the script sees STOP6 and keeps the address)
  await run('nsenter', [...base, '-x', '-sf', script, ...files, iface], { timeoutMs: 10_000, reject: false });
  if (r.exitCode === 127)
    return { seen: `no dhclient in the node's image (${r.stderr.trim() || 'exit 127'})` };
  const out = parseDhclient6(`${r.stdout}\n${r.stderr}`);
  if (!out.ip && r.timedOut) return { seen: `no DHCPv6 lease within ${timeoutMs / 1000} s (${out.seen})` };
  return out;
}

/** Run the node's DHCPv6 client on `iface` once (stateful): it sets the leased address/prefix and is stopped. */
export function leaseDhcp6(pid: number, iface: string, prefix: number): Promise<DhcpOutcome> {
  return runDhclient6(pid, iface, DHCLIENT6_SCRIPT, prefix);
}

/** Ask OVN for a DHCPv6 lease on `iface` without changing the interface (the doctor's independent client). */
export function probeDhcp6(pid: number, iface: string): Promise<DhcpOutcome> {
  return runDhclient6(pid, iface, '/bin/true', 128);
}
