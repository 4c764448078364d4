/** Small facts about this host that several host commands need: root, systemd, the kernel module, stored OVS keys. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { readStoredOvsExternalIds } from '../drivers/ovs-config.js';
import { run, which } from '../exec.js';
import { OVS_SYSTEM_ID_FILE, SYSTEMD_MARKER } from './constants.js';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' ? process.getuid() === 0 : false;
}

export function hasSystemd(): boolean {
  return existsSync(SYSTEMD_MARKER);
}

export interface KernelModuleState {
  /** /sys/module/openvswitch exists */
  loaded: boolean;
  /** loaded, or `modprobe -n openvswitch` finds it */
  available: boolean;
  detail: string;
}

export async function kernelModuleState(): Promise<KernelModuleState> {
  if (existsSync('/sys/module/openvswitch'))
    return { loaded: true, available: true, detail: 'openvswitch module loaded' };
  if (!which('modprobe')) {
    return {
      loaded: false,
      available: false,
      detail: 'openvswitch module not loaded (no modprobe to look for it)',
    };
  }
  const r = await run('modprobe', ['-n', '-q', 'openvswitch'], { reject: false, timeoutMs: 5000 });
  return r.exitCode === 0
    ? { loaded: false, available: true, detail: 'openvswitch module available (not loaded)' }
    : { loaded: false, available: false, detail: 'no openvswitch kernel module' };
}

/** The Open_vSwitch row's external_ids as stored in the database file (ovsdb-server down), or undefined. */
export const storedOvsExternalIds = readStoredOvsExternalIds;

/**
 * The system-id a host gets when it has none yet: the one ovs-ctl's `--system-id=random` stored earlier, else
 * `<hostname>-<8 hex of /etc/machine-id>` (readable, and unique between cloned VMs that share a hostname).
 */
export function newSystemId(): string {
  try {
    const stored = readFileSync(OVS_SYSTEM_ID_FILE, 'utf8').trim();
    if (stored) return stored;
  } catch {
    // none stored
  }
  const host = (hostname().split('.')[0] ?? 'host').toLowerCase().replace(/[^a-z0-9-]/g, '-') || 'host';
  let seed: string;
  try {
    seed = readFileSync('/etc/machine-id', 'utf8').trim();
  } catch {
    seed = `${host}-${process.pid}-${Date.now()}`;
  }
  return `${host}-${createHash('sha256').update(seed).digest('hex').slice(0, 8)}`;
}
