/**
 * DHCP clients inside a node (docs/dhcp-dns.md), run by labctl through nsenter into every namespace of the
 * container (its own filesystem, so the image's busybox udhcpc), bounded in time, never left running:
 *   lease: `udhcpc -q -n` with the image's event script, which sets the leased address (`up`)
 *   probe: `udhcpc -q -n -s /bin/true`, which asks OVN and changes nothing (doctor)
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
