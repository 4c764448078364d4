/**
 * The drivers of a multi-chassis lab: per simulated chassis a HostDriver whose "host" is the chassis's network
 * namespace (links) and its own OVS database (ovs), and the lab's own OVN central. Containers stay on this
 * machine's Docker; only their host-side veths go into the chassis namespace.
 */

import type Docker from 'dockerode';
import type { Drivers } from '../apply/observe.js';
import { LabctlError } from '../errors.js';
import { centralPaths, chassisPaths } from '../plan/chassis-naming.js';
import { LABEL_CHASSIS, type Plan, type PlanChassis } from '../plan/types.js';
import { type ContainerDriver, dockerContainers } from './containers.js';
import type { HostDriver } from './host.js';
import { localLinks } from './links.js';
import { type OvnDriver, ovnDriver } from './ovn.js';
import { localOvs, type OvsDriver } from './ovs.js';
import type { RelayDriver } from './relay.js';
import { remoteHost } from './remote-chassis.js';
import { controllerCtl } from './sim-chassis.js';

export function remoteUnsupported(ch: { name: string }): LabctlError {
  return new LabctlError(
    'environment',
    `chassis ${ch.name} is kind: remote: labctl chassis stop|start acts on simulated chassis only`,
    {
      hint: `labctl host check --chassis ${ch.name} -f LAB.yml   (the remote's daemons, over ssh; docs/multichassis.md)`,
    },
  );
}

/** The OVS database of a lab's simulated chassis. */
export function chassisOvs(lab: string, chassis: string): OvsDriver {
  return localOvs(`unix:${chassisPaths(lab, chassis).dbSock}`);
}

/** The lab's own OVN central. */
export function centralOvn(lab: string): OvnDriver {
  const c = centralPaths(lab);
  return ovnDriver({ nb: `unix:${c.nbSock}`, sb: `unix:${c.sbSock}` });
}

export function simulatedHost(lab: string, ch: PlanChassis, containers: ContainerDriver): HostDriver {
  if (ch.kind !== 'simulated' || !ch.netns) throw new Error(`chassis ${ch.name} is not simulated`);
  return {
    name: ch.name,
    containers,
    links: localLinks(ch.netns),
    ovs: chassisOvs(lab, ch.name),
    chassis: async () => ch.systemId,
    relays: noRelays(ch.name),
    datapath: {
      db: `unix:${chassisPaths(lab, ch.name).dbSock}`,
      vswitchdCtl: chassisPaths(lab, ch.name).vswitchdCtl,
      controllerCtl: () => controllerCtl(lab, ch.name),
    },
  };
}

/** Impairment relays are not run on simulated chassis yet (validation refuses impair: in such labs). */
function noRelays(chassis: string): RelayDriver {
  const refuse = (): never => {
    throw new LabctlError(
      'invalid-lab',
      `impairments are not supported on simulated chassis ${chassis} yet`,
      {
        hint: 'drop impair: from the lab file (docs/impairments.md)',
      },
    );
  };
  return { list: () => [], start: async () => refuse(), update: () => refuse(), stop: async () => {} };
}

/**
 * Every chassis shares this machine's Docker, but each one's diff must see only its own nodes' containers (else the
 * diff of a chassis would remove every other chassis's nodes as not its own): the nodes the plan places on it, and
 * on the first chassis also the lab's containers of nodes the plan no longer has (so they are removed once).
 */
function placedContainers(plan: Plan, chassis: string, first: boolean, c: ContainerDriver): ContainerDriver {
  const placed = new Map(plan.nodes.map((n) => [n.name, n.host]));
  const mine = (node: string) => placed.get(node) === chassis || (first && !placed.has(node));
  return {
    ...c,
    list: async (lab) => (await c.list(lab)).filter((x) => lab === undefined || mine(x.node)),
  };
}

/** Does the plan have a remote chassis (docs/multichassis.md "Remote chassis")? */
export const hasRemoteChassis = (plan: Pick<Plan, 'chassis'>) =>
  Boolean(plan.chassis?.some((c) => c.kind === 'remote'));

/**
 * Drivers for every chassis of a multi-chassis plan, and its central. A remote chassis's driver speaks ssh
 * (drivers/remote-chassis.ts). In a lab with remote chassis, one Docker may serve several chassis (a remote that is
 * this very machine, as in the tests): given localDocker, each chassis then sees only the containers labelled with
 * its name.
 */
export function chassisDrivers(plan: Plan, containers: ContainerDriver, localDocker?: Docker): Drivers {
  const scoped = hasRemoteChassis(plan);
  const hosts = new Map(
    (plan.chassis ?? []).map((c, i) => [
      c.name,
      c.kind === 'remote'
        ? remoteHost(c, scoped)
        : simulatedHost(
            plan.lab,
            c,
            scoped && localDocker
              ? dockerContainers(localDocker, { [LABEL_CHASSIS]: c.name })
              : placedContainers(plan, c.name, i === 0, containers),
          ),
    ]),
  );
  return {
    central: centralOvn(plan.lab),
    host(name) {
      const h = hosts.get(name);
      if (!h) throw new Error(`no chassis ${name} in lab ${plan.lab}`);
      return h;
    },
  };
}
