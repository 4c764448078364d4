/**
 * The read-only questions `labctl host check` (and the doctor's host layer) asks the OVS and OVN daemons. Each
 * never throws, is bounded (PROBE_TIMEOUT_MS, the tool's own --timeout a second less so it reports first), and
 * answers with the tool's stdout, or its own last error line. The caller parses and judges.
 */
import { readFileSync } from 'node:fs';
import { run, which } from '../exec.js';
import { PROBE_TIMEOUT_MS, TOOL_TIMEOUT_S, VSWITCHD_PIDFILE } from '../host/constants.js';
import type { CommandProbe } from '../host/report.js';

/** Run one probe command: never throws, bounded, and reports the tool's own last error line. */
export async function probeCommand(file: string, args: string[]): Promise<CommandProbe> {
  if (!which(file)) return { ok: false, detail: `${file}: command not found` };
  try {
    const r = await run(file, args, { reject: false, timeoutMs: PROBE_TIMEOUT_MS });
    if (r.exitCode === 0 && !r.timedOut) return { ok: true, detail: r.stdout.trim() };
    const err = r.timedOut
      ? `no answer within ${PROBE_TIMEOUT_MS / 1000} s`
      : (r.stderr.trim().split('\n').pop() ?? '') || `exited ${r.exitCode}`;
    return { ok: false, detail: err.replace(/^[\w-]+: /, '') };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/** ovsdb-server: the Open_vSwitch row (external_ids, ovs_version) and every Bridge's name and datapath_type (JSON). */
export function probeOvsdbRows(): Promise<CommandProbe> {
  return probeCommand('ovs-vsctl', [
    `--timeout=${TOOL_TIMEOUT_S}`,
    '--format=json',
    '--data=json',
    '--',
    '--columns=external_ids,ovs_version',
    'list',
    'Open_vSwitch',
    '--',
    '--columns=name,datapath_type',
    'list',
    'Bridge',
  ]);
}

/** The southbound DB at `remote`: every Chassis (name, hostname) and Encap (type, ip, chassis_name) (JSON). */
export function probeSbRows(remote: string): Promise<CommandProbe> {
  return probeCommand('ovn-sbctl', [
    `--db=${remote}`,
    `--timeout=${TOOL_TIMEOUT_S}`,
    '--format=json',
    '--data=json',
    '--',
    '--columns=name,hostname',
    'list',
    'Chassis',
    '--',
    '--columns=type,ip,chassis_name',
    'list',
    'Encap',
  ]);
}

/** The northbound DB answers (`ovn-nbctl get-connection`); nb undefined: ovn-nbctl's default socket. */
export function probeNbConnection(nb: string | undefined): Promise<CommandProbe> {
  return probeCommand('ovn-nbctl', [
    ...(nb ? [`--db=${nb}`] : []),
    `--timeout=${TOOL_TIMEOUT_S}`,
    'get-connection',
  ]);
}

/** One unixctl command to a daemon (e.g. ovn-appctl -t ovn-controller version); detail is its first line. */
export async function probeAppctl(
  tool: 'ovs-appctl' | 'ovn-appctl',
  target: string,
  command: string,
): Promise<CommandProbe> {
  const r = await probeCommand(tool, ['-T', String(TOOL_TIMEOUT_S), '-t', target, command]);
  return r.ok ? { ok: true, detail: r.detail.split('\n')[0]?.trim() ?? '' } : r;
}

/**
 * What ovs-vswitchd's monitor (--monitor) says about crashes: its process title reads "ovs-vswitchd: monitoring pid
 * N (K crashes: pid P died, killed (Aborted))" once the daemon has crashed and been restarted. Undefined when there
 * is no monitor or no crash. Never throws.
 */
export function vswitchdCrashes(pidfile = VSWITCHD_PIDFILE): { count: number; last: string } | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim(), 10);
    if (!(pid > 1)) return undefined;
    // /proc/PID/stat: "pid (comm) state ppid …" — comm may hold spaces, so read after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
    if (!(ppid > 1)) return undefined;
    return parseMonitorTitle(readFileSync(`/proc/${ppid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
  } catch {
    return undefined;
  }
}

/** "ovs-vswitchd: monitoring pid 11816 (1 crashes: pid 11761 died, killed (Segmentation fault))" → count, last. */
export function parseMonitorTitle(title: string): { count: number; last: string } | undefined {
  const m = /monitoring pid \d+ \((\d+) crashes: (.*)\)$/.exec(title);
  if (!m) return undefined;
  const count = Number(m[1]);
  return count > 0 ? { count, last: m[2]! } : undefined;
}
