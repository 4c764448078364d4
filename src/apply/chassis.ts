/**
 * The runtime of a multi-chassis lab (docs/multichassis.md): start its central, underlay and chassis before `up`
 * converges the lab onto them, and remove all of it on `down` — after the containers, whose host-side veths live in
 * the chassis namespaces.
 */
import pLimit from 'p-limit';
import { remoteUnsupported } from '../drivers/chassis-host.js';
import type { ContainerRemover } from '../drivers/containers.js';
import {
  chassisRuntimeExists,
  ensureCentral,
  ensureChassis,
  ensureUnderlay,
  missingChassisPrerequisites,
  setTunnelBfd,
  teardownChassisLab,
} from '../drivers/sim-chassis.js';
import { envError, LabctlError } from '../errors.js';
import type { Plan } from '../plan/types.js';
import { REMOVE_CONCURRENCY } from './down.js';
import { loadState, removeState } from './state.js';

export function isMultiChassis(plan: Pick<Plan, 'chassis'>): boolean {
  return Boolean(plan.chassis?.length);
}

/** This machine can run simulated chassis: the OVS/OVN programs and /dev/net/tun. */
export function assertChassisPrerequisites(): void {
  const missing = missingChassisPrerequisites();
  if (missing.length)
    throw envError(
      `simulated chassis need ${missing.join(', ')}, missing on this host`,
      'labctl host install   (installs Open vSwitch and OVN)',
    );
}

/** Start what of the lab's central, underlay and chassis is not running (idempotent). */
export async function ensureChassisRuntime(
  plan: Plan,
  log: (line: string) => void = () => undefined,
): Promise<void> {
  const remote = plan.chassis?.find((c) => c.kind === 'remote');
  if (remote) throw remoteUnsupported(remote);
  const underlay = plan.underlay!;
  try {
    log(`underlay ${underlay.cidr} (mtu ${underlay.mtu}) and OVN central of lab ${plan.lab}`);
    await ensureUnderlay(plan.lab, underlay);
    await ensureCentral(plan.lab, underlay.netns);
    await setTunnelBfd(plan.lab, underlay.bfd);
    log(`chassis ${plan.chassis!.map((c) => c.name).join(', ')}`);
    await Promise.all(plan.chassis!.map((c) => ensureChassis(plan.lab, c, underlay)));
  } catch (err) {
    if (err instanceof LabctlError) throw err;
    throw new LabctlError(
      'environment',
      `starting the chassis of lab ${plan.lab} failed: ${(err as Error).message}`,
      {
        hint: `labctl down --lab ${plan.lab}   (removes what was started), then labctl host check`,
        cause: err,
      },
    );
  }
}

export interface ChassisDownResult {
  containers: number;
  processes: number;
  namespaces: number;
}

/** Does the lab have a multi-chassis runtime here (or did its last up plan one)? */
export async function hasChassisRuntime(lab: string): Promise<boolean> {
  return Boolean(loadState(lab)?.plan.chassis?.length) || (await chassisRuntimeExists(lab));
}

/**
 * Remove a multi-chassis lab: its containers (by label), then every process, namespace (with the veths in them),
 * socket and database of its chassis and central, then its state.
 */
export async function destroyChassisLab(
  lab: string,
  containers: ContainerRemover,
): Promise<ChassisDownResult> {
  const limit = pLimit(REMOVE_CONCURRENCY);
  const cs = await containers.list(lab);
  await Promise.all(cs.map((c) => limit(() => containers.remove(c.id))));
  const t = await teardownChassisLab(lab);
  removeState(lab);
  return { containers: cs.length, ...t };
}
