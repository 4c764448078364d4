/** `up` of a multi-chassis lab: the host check, starting its runtime, and its drivers (docs/multichassis.md). */
import type Docker from 'dockerode';
import { assertChassisPrerequisites, ensureChassisRuntime } from '../apply/chassis.js';
import { diffLab } from '../apply/diff.js';
import type { Drivers, Observed } from '../apply/observe.js';
import { planUp, type UpPlan } from '../apply/up.js';
import { chassisDrivers } from '../drivers/chassis-host.js';
import { dockerContainers } from '../drivers/containers.js';
import { centralDaemons } from '../drivers/sim-chassis.js';
import type { Lab } from '../lab/types.js';
import { compilePlan } from '../plan/compile.js';
import { requireRoot } from './lab-args.js';

export async function assertChassisHost(docker: Promise<Docker>): Promise<void> {
  requireRoot('labctl up');
  assertChassisPrerequisites();
  await docker;
}

/** The lab's drivers, its central and chassis started first (start=false: as they are). */
export async function chassisLabDrivers(lab: Lab, docker: Docker, start = true): Promise<Drivers> {
  const plan = compilePlan(lab);
  if (start) await ensureChassisRuntime(plan, undefined, lab.file);
  return chassisDrivers(plan, dockerContainers(docker), docker);
}

/** What `up` would do (dry run): against the running lab, or everything when its central does not run. */
export async function planChassisUp(lab: Lab, docker: Docker): Promise<UpPlan> {
  const c = centralDaemons(lab.name);
  if (c.nb && c.sb) return planUp(lab, await chassisLabDrivers(lab, docker, false));
  const plan = compilePlan(lab);
  const observed: Observed = {
    lab: lab.name,
    nb: {
      switches: [],
      ports: [],
      routers: [],
      routerPorts: [],
      acls: [],
      routes: [],
      nat: [],
      loadBalancers: [],
    },
    hosts: Object.fromEntries(
      plan.hosts.map((h) => [
        h.name,
        {
          name: h.name,
          containers: [],
          ovs: [],
          hostLinks: [],
          nodes: {},
          chassis: plan.chassis!.find((c) => c.name === h.name)!.systemId,
        },
      ]),
    ),
  };
  return { plan, observed, changes: diffLab(plan, observed) };
}
