/**
 * Stop or start one simulated chassis of a running multi-chassis lab (docs/multichassis.md): `labctl chassis
 * stop|start NAME` and the scenario step `{ chassis: { stop: NAME } }` both call this. Stopping ends the chassis's
 * ovn-controller, ovs-vswitchd and ovsdb-server (its nodes keep running without a data plane; an HA gateway fails
 * over to the next chassis once BFD notices); starting brings them back on their kept databases.
 */
import { withLabLock } from '../apply/state.js';
import { usageError } from '../errors.js';
import type { Plan } from '../plan/types.js';

export interface ChassisActionResult {
  lab: string;
  chassis: string;
  action: 'stop' | 'start';
  /** false: it already was stopped / running */
  changed: boolean;
  durationMs: number;
}

export async function chassisAction(
  plan: Plan,
  name: string,
  action: 'stop' | 'start',
  upHint = 'labctl up -f lab.yml',
): Promise<ChassisActionResult> {
  const ch = plan.chassis?.find((c) => c.name === name);
  if (!ch)
    throw usageError(
      plan.chassis?.length
        ? `lab ${plan.lab} has no chassis ${name} (it has ${plan.chassis.map((c) => c.name).join(', ')})`
        : `lab ${plan.lab} has no chassis: section`,
      'labctl status   (lists each lab with its chassis)',
    );
  const [sim, { remoteUnsupported }] = await Promise.all([
    import('../drivers/sim-chassis.js'),
    import('../drivers/chassis-host.js'),
  ]);
  if (ch.kind !== 'simulated') throw remoteUnsupported(ch);
  const central = sim.centralDaemons(plan.lab);
  if (!central.nb || !central.sb) throw usageError(`lab ${plan.lab} is not up`, upHint);
  const t0 = performance.now();
  const changed = await withLabLock(plan.lab, async () => {
    if (action === 'stop') return (await sim.stopChassisDaemons(plan.lab, ch.name)) > 0;
    const before = Object.values(sim.chassisDaemons(plan.lab, ch.name)).filter(Boolean).length;
    await sim.startChassisDaemons(plan.lab, ch, plan.underlay!);
    return before < 3;
  });
  return { lab: plan.lab, chassis: ch.name, action, changed, durationMs: Math.round(performance.now() - t0) };
}

export function describeChassisAction(r: ChassisActionResult): string {
  if (!r.changed) return `chassis ${r.chassis}: already ${r.action === 'stop' ? 'stopped' : 'running'}`;
  return `chassis ${r.chassis}: ${r.action === 'stop' ? 'stopped' : 'started'} (${r.durationMs} ms)`;
}
