/**
 * The runtime of a multi-chassis lab (docs/multichassis.md): start its central, underlay and chassis before `up`
 * converges the lab onto them, and remove all of it on `down` — after the containers, whose host-side veths live in
 * the chassis namespaces.
 */
import pLimit from 'p-limit';
import type { ContainerRemover } from '../drivers/containers.js';
import type { RemoteRecord } from '../drivers/remote-chassis.js';
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
import type { Plan, PlanChassis } from '../plan/types.js';
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
  labFile?: string,
): Promise<void> {
  const remotes = plan.chassis!.filter((c) => c.kind === 'remote');
  const simulated = plan.chassis!.filter((c) => c.kind !== 'remote');
  const underlay = plan.underlay!;
  if (remotes.length) {
    // every remote reachable with its daemons running before anything is made
    log(`remote chassis ${remotes.map((c) => `${c.name} (${c.ssh})`).join(', ')}: ssh and daemons`);
    const rc = await import('../drivers/remote-chassis.js');
    await Promise.all(remotes.map((c) => rc.preflightRemote(c, labFile ?? 'LAB.yml')));
  }
  try {
    log(`underlay ${underlay.cidr} (mtu ${underlay.mtu}) and OVN central of lab ${plan.lab}`);
    await ensureUnderlay(plan.lab, underlay);
    await ensureCentral(plan.lab, underlay.netns);
    await setTunnelBfd(plan.lab, underlay.bfd);
    if (remotes.length) {
      const rc = await import('../drivers/remote-chassis.js');
      const { sshSession } = await import('../drivers/ssh.js');
      // recorded before anything is touched on a remote: down undoes it even after a crash
      rc.saveRemoteRecord(plan.lab, plan.chassis!, underlay);
      await rc.ensureUnderlayUplink(underlay);
      log(`lab CA and certificates for ${remotes.map((c) => c.systemId).join(', ')}; SB over SSL (RBAC)`);
      await rc.ensurePki(
        plan.lab,
        remotes.map((c) => c.systemId),
      );
      await rc.ensureCentralSsl(plan.lab, underlay);
      log(`remote chassis ${remotes.map((c) => `${c.name} (${c.ssh})`).join(', ')}`);
      await Promise.all(
        remotes.map((c) =>
          rc.ensureRemoteChassis(
            plan.lab,
            c,
            underlay,
            sshSession(rc.remoteTargetOf(c)),
            `labctl host start --chassis ${c.name} -f ${labFile ?? 'LAB.yml'}`,
          ),
        ),
      );
    }
    log(`chassis ${simulated.map((c) => c.name).join(', ')}`);
    await Promise.all(simulated.map((c) => ensureChassis(plan.lab, c, underlay)));
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
  /** remote chassis cleaned (their containers are counted in containers) */
  remotes?: number;
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
  opts: { forgetRemotes?: boolean } = {},
): Promise<ChassisDownResult> {
  const limit = pLimit(REMOVE_CONCURRENCY);
  // remote chassis first (over ssh): what labctl recorded before touching them, else the saved plan
  const rc = await import('../drivers/remote-chassis.js');
  const rec = rc.loadRemoteRecord(lab) ?? remoteRecordFromState(lab, rc.remoteRecordOf);
  let remoteContainers = 0;
  const pending: typeof rec = rec ? { ...rec, chassis: [] } : undefined;
  const failures: string[] = [];
  for (const r of rec?.chassis ?? []) {
    try {
      remoteContainers += (await rc.teardownRemoteChassis(lab, r)).containers;
    } catch (err) {
      pending!.chassis.push(r);
      failures.push(`${r.name} (${r.ssh}): ${(err as Error).message}`);
    }
  }
  if (rec?.chassis.length) await (await import('../drivers/ssh.js')).closeSshSessions();
  const cs = await containers.list(lab);
  await Promise.all(cs.map((c) => limit(() => containers.remove(c.id))));
  if (rec?.underlay?.uplink) await rc.releaseUnderlayUplink(rec.underlay.netns, rec.underlay.uplink);
  const t = await teardownChassisLab(lab);
  if (failures.length && !opts.forgetRemotes) {
    // this machine's part is gone; the record of what is left on the remotes stays, so the next down retries them
    rc.writeRemoteRecord(lab, pending!);
    throw new LabctlError(
      'environment',
      `lab ${lab} is down on this machine, but not on remote chassis ${failures.join('; ')}`,
      { hint: `make the remote reachable over ssh, then labctl down --lab ${lab} again` },
    );
  }
  removeState(lab);
  return {
    containers: cs.length + remoteContainers,
    ...t,
    ...(rec?.chassis.length ? { remotes: rec.chassis.length } : {}),
  };
}

/** The remote chassis of the lab's saved plan (when remote.json is gone), as down needs them. */
function remoteRecordFromState(lab: string, recordOf: (c: PlanChassis) => RemoteRecord) {
  const plan = loadState(lab)?.plan;
  const chassis = (plan?.chassis ?? []).filter((c) => c.kind === 'remote' && c.ssh).map(recordOf);
  if (!chassis.length) return undefined;
  return {
    chassis,
    ...(plan?.underlay
      ? {
          underlay: {
            netns: plan.underlay.netns,
            ...(plan.underlay.uplink ? { uplink: plan.underlay.uplink } : {}),
          },
        }
      : {}),
  };
}
