/**
 * The read-only questions `labctl host check` (and the doctor's host layer) asks the OVS and OVN daemons. Each
 * never throws, is bounded (PROBE_TIMEOUT_MS, the tool's own --timeout a second less so it reports first), and
 * answers with the tool's stdout, or its own last error line. The caller parses and judges.
 */
import { run, which } from '../exec.js';
import { PROBE_TIMEOUT_MS, TOOL_TIMEOUT_S } from '../host/constants.js';
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
