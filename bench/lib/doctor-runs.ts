/**
 * The bench's doctor runs beyond timing: the report of one `labctl doctor --json`, a real fault injected into a big
 * healthy lab (it must be found with its cause), and the multi-chassis lab against its single-chassis twin.
 */
import { execFileSync } from 'node:child_process';
import type { BenchLab } from './labs.js';
import { labctl } from './proc.js';
import type { DoctorRun, Row } from './report.js';

export interface DoctorJson {
  ok?: boolean;
  checks?: { status?: string; cause?: string; followsFrom?: string; data?: { node?: string } }[];
}

/** The multi-chassis lab against its single-chassis twin (same networks, router and nodes): what the spread costs. */
export function chassisRatio(rows: Row[]): string | undefined {
  const mc = rows.find((r) => r.key.startsWith('chassis-'));
  const twin = mc && rows.find((r) => r.key === `routed-${mc.key.split('-').slice(2).join('-')}`);
  if (!mc || !twin) return undefined;
  const part = (what: string, a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0
      ? `${what} ${(a / 1000).toFixed(2)} s vs ${(b / 1000).toFixed(2)} s (${(a / b).toFixed(2)}×)`
      : `${what} not measured`;
  return `multi-chassis ${mc.key} vs single-chassis ${twin.key}: ${[
    part('up', mc.up, twin.up),
    part('doctor', mc.doctor, twin.doctor),
    part('down', mc.down, twin.down),
  ].join('; ')}`;
}

/**
 * The dual-stack routed lab against its IPv4 twin (same networks, router and nodes): what probing both families
 * costs the doctor (and up/down, which configure IPv6 too).
 */
export function dualStackRatio(rows: Row[]): string | undefined {
  const ds = rows.find((r) => r.key.startsWith('dual-'));
  const twin = ds && rows.find((r) => r.key === `routed-${ds.key.slice('dual-'.length)}`);
  if (!ds || !twin) return undefined;
  const part = (what: string, a?: number, b?: number) =>
    a !== undefined && b !== undefined && b > 0
      ? `${what} ${(a / 1000).toFixed(2)} s vs ${(b / 1000).toFixed(2)} s (${(a / b).toFixed(2)}×)`
      : `${what} not measured`;
  return `dual-stack ${ds.key} vs IPv4-only ${twin.key}: ${[
    part('doctor', ds.doctor, twin.doctor),
    part('up', ds.up, twin.up),
    part('down', ds.down, twin.down),
  ].join('; ')}`;
}

/** `labctl doctor -f FILE --json` on a bench lab: the run, and its report when it printed one. */
export async function doctorJson(lab: BenchLab) {
  const dr = await labctl(['doctor', '-f', lab.file, '--json'], {
    timeoutMs: 300_000 + lab.nodes * lab.nodes * 200,
    trace: false,
  });
  let parsed: DoctorJson | undefined;
  try {
    parsed = JSON.parse(dr.stdout) as DoctorJson;
  } catch {
    parsed = undefined;
  }
  return { dr, parsed };
}

/**
 * A real fault in one node of a big healthy lab (issue 11: "a real fault injected into one node of the 100-node lab
 * is still found with its cause"): tx checksum offload back on inside the middle node, the doctor run again, the
 * fault undone whatever happened. Found = exit 1 and the only root cause is checksum-offload on that node.
 */
export async function injectedFault(lab: BenchLab): Promise<NonNullable<DoctorRun['fault']>> {
  const node = `n${String(Math.ceil(lab.nodes / 2)).padStart(String(lab.nodes).length, '0')}`;
  const pid = execFileSync('docker', ['inspect', '-f', '{{.State.Pid}}', `labctl.${lab.lab}.${node}`], {
    encoding: 'utf8',
    timeout: 30_000,
  }).trim();
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`no pid for node ${node}: ${pid}`);
  const ethtool = (state: 'on' | 'off') =>
    execFileSync('nsenter', ['-t', pid, '-n', 'ethtool', '-K', 'eth1', 'tx', state], { timeout: 30_000 });
  ethtool('on');
  try {
    const { dr, parsed } = await doctorJson(lab);
    const roots = (parsed?.checks ?? []).filter(
      (c) => (c.status === 'fail' || c.status === 'error') && !c.followsFrom,
    );
    const found =
      dr.exitCode === 1 &&
      roots.length > 0 &&
      roots.every((c) => c.cause === 'checksum-offload' && c.data?.node === node);
    return {
      node,
      found,
      roots: roots.map((c) => `${c.cause ?? c.status} ${c.data?.node ?? ''}`.trim()),
      ms: dr.wallMs,
      exitCode: dr.exitCode,
    };
  } finally {
    ethtool('off');
  }
}
