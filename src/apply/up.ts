/**
 * applyPlan: converge this host to a plan. Reads what exists (by label), does only the difference, and waits
 * until every port is really bound (ovn-installed on its OVS interface). Containers and links are handled per
 * node with bounded concurrency, so link plumbing overlaps with Docker starting the next containers; OVN NB and
 * OVS changes each go in one transaction.
 */
import { dirname } from 'node:path';
import pLimit from 'p-limit';
import { flushAddresses, purgeDatapathFlows } from '../drivers/conntrack.js';
import { type ContainerInfo, configHash } from '../drivers/containers.js';
import type { HostDriver } from '../drivers/host.js';
import type { HostLink } from '../drivers/links.js';
import type { OvnDriver } from '../drivers/ovn.js';
import { extIds } from '../drivers/ovsdb-json.js';
import { LabctlError } from '../errors.js';
import type { Plan, PlanNode } from '../plan/types.js';
import { createBatcher } from './batcher.js';
import { REMOVE_CONCURRENCY } from './down.js';
import { applyNodeLinks, disableOffloads, planNodeLinks, vethCreateLines } from './node-links.js';
import { diffNb } from './ovn-diff.js';
import { waitForPorts } from './wait.js';

/** Containers created and started at once by up (Docker itself parallelises; see docs/bench.md). */
export const DEFAULT_UP_CONCURRENCY = 16;

export interface ApplyOptions {
  /** directory build contexts are relative to (the lab file's) */
  baseDir?: string;
  labFile?: string;
  readyTimeoutMs?: number;
  /** containers created/started at once (default DEFAULT_UP_CONCURRENCY) */
  concurrency?: number;
  log?: (line: string) => void;
  ensureImage?: (
    image: string,
    build: PlanNode['build'],
    baseDir: string | undefined,
    log: (l: string) => void,
  ) => Promise<void>;
}

export interface ApplyResult {
  changes: string[];
  containers: {
    created: string[];
    started: string[];
    recreated: string[];
    removed: string[];
    kept: string[];
  };
  durationMs: number;
}

export async function applyPlan(
  plan: Plan,
  host: HostDriver,
  ovn: OvnDriver,
  opts: ApplyOptions = {},
): Promise<ApplyResult> {
  const t0 = performance.now();
  const debug = process.env.LABCTL_DEBUG
    ? (m: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(3)}] ${m}\n`)
    : () => undefined;
  const log = (line: string) => {
    debug(line);
    opts.log?.(line);
  };
  const changes: string[] = [];
  const result: ApplyResult['containers'] = {
    created: [],
    started: [],
    recreated: [],
    removed: [],
    kept: [],
  };
  const bridge = plan.ovn.bridge;

  // ---- read what exists, all at once
  const [containers, ovsIfaces, nb, hostLinkList] = await Promise.all([
    host.containers.list(plan.lab),
    host.ovs.listLabInterfaces(plan.lab),
    ovn.readLab(plan.lab),
    host.links.hostLinks('lv'),
  ]);
  const hostLinks = new Map<string, HostLink>(hostLinkList.map((l) => [l.name, l]));
  const byNode = new Map<string, ContainerInfo>(containers.map((c) => [c.node, c]));

  // ---- images for containers that will be created
  const toCreate = plan.nodes.filter((n) => {
    const c = byNode.get(n.name);
    return !c || c.configHash !== configHash(n);
  });
  if (opts.ensureImage) {
    const images = new Map<string, PlanNode>();
    for (const n of toCreate) if (!images.has(n.image)) images.set(n.image, n);
    for (const n of images.values()) await opts.ensureImage(n.image, n.build, opts.baseDir, log);
  }

  // ---- OVN northbound: one transaction, concurrently with the containers
  const chassis = plan.routers.some((r) => r.chassis) ? await host.chassis() : undefined;
  // Every host of a plan is this host today; a multi-host apply maps each host name to its own chassis.
  const nbChanges = diffNb(plan, nb, { chassisOf: () => chassis! });
  const nbDone = ovn.transact(nbChanges.commands).then(() => {
    changes.push(...nbChanges.summary);
    if (nbChanges.summary.length) log(`OVN: ${nbChanges.summary.length} change(s)`);
  });

  // ---- containers and links, per node. Docker calls and link plumbing have their own bounds, so plumbing one
  // node overlaps with Docker starting the next.
  const dockerLimit = pLimit(opts.concurrency ?? DEFAULT_UP_CONCURRENCY);
  const linkLimit = pLimit(8);
  // --no-wait: readiness is proven per port by ovn-installed below, not by vswitchd's reconfiguration.
  const ovsBatch = createBatcher<string[]>((cmds) => host.ovs.transact(cmds, { noWait: true }));
  // Moving container ends into their netns: one ip -batch for all nodes that got their container in the same tick.
  const moveBatch = createBatcher<string>((lines) => host.links.hostBatch(lines), { delayMs: 10 });
  const ovsByName = new Map(ovsIfaces.map((o) => [o.name, o]));
  const replumbed = new Set<string>();

  // New containers (created or recreated) get all their veths at once, before Docker has finished with them: one
  // ip -batch creates every pair (container end with its final MAC/MTU and offload off), one OVS transaction plugs
  // every host end, so ovn-controller binds the ports while containers start. Per node only the move into its
  // netns and the in-namespace addresses remain.
  const freshNodes = new Set(toCreate.map((n) => n.name));
  const prepared = toCreate.flatMap((n) => n.interfaces);
  const linksReady = (async () => {
    if (!prepared.length) return;
    // A port left under one of these names must leave OVS before its device is replaced, and vswitchd must have let
    // go of it (this transaction waits): in one transaction with the new add-port, vswitchd would match the new row
    // by name and keep its handle on the deleted device.
    const staleOvs = prepared.filter((i) => ovsByName.has(i.hostVeth));
    if (staleOvs.length)
      await host.ovs.transact(staleOvs.map((i) => ['--if-exists', 'del-port', bridge, i.hostVeth]));
    const stale = prepared.filter((i) => hostLinks.has(i.hostVeth)).map((i) => i.hostVeth);
    // An old host end (a recreated container's, or one left by an interrupted up) takes its pair with it.
    if (stale.length) await host.links.deleteHostLinks(stale);
    await host.links.hostBatch(vethCreateLines(plan.lab, prepared));
    for (const i of prepared) replumbed.add(i.hostVeth);
    await Promise.all([
      disableOffloads(host.links, prepared),
      host.ovs.transact(
        prepared.flatMap((i) => [
          ['--may-exist', 'add-port', bridge, i.hostVeth],
          ['set', 'Interface', i.hostVeth, ...extIds(i.ovsExternalIds)],
        ]),
        { noWait: true },
      ),
    ]);
  })();
  // Nobody may be waiting on it yet when it fails; the failure is collected with the node work below.
  linksReady.catch(() => undefined);

  const nodeWork = plan.nodes.map((node) =>
    dockerLimit(async () => {
      const cur = byNode.get(node.name);
      let id: string;
      if (cur && cur.configHash === configHash(node)) {
        id = cur.id;
        if (!cur.running) {
          await host.containers.start(id);
          result.started.push(node.name);
          changes.push(`start container ${node.container}`);
        } else result.kept.push(node.name);
      } else {
        if (cur) {
          await host.containers.remove(cur.id);
          result.recreated.push(node.name);
          changes.push(`recreate container ${node.container} (configuration changed)`);
        } else {
          result.created.push(node.name);
          changes.push(`create container ${node.container}`);
        }
        id = await createContainer(host, node);
      }
      return id;
    }).then((id) =>
      linkLimit(async () => {
        debug(`${node.name}: container ${id.slice(0, 12)} ready for links`);
        const pid = await host.containers.pid(id);
        const fresh = freshNodes.has(node.name);
        if (fresh) {
          await linksReady;
          await applyNodeLinks(host.links, plan.lab, pid, planNodeLinks(node, new Map(), undefined), {
            prepared: true,
            move: (lines) => moveBatch.add(lines),
          });
          log(`${node.name}: created`);
          return;
        }
        const ns = await host.links.nsState(pid);
        const actions = planNodeLinks(node, hostLinks, ns);
        // A link being re-plumbed must leave OVS first, so the new device gets a fresh port.
        const stale = actions.plumb.filter((i) => ovsByName.has(i.hostVeth));
        if (stale.length)
          await host.ovs.transact(stale.map((i) => ['--if-exists', 'del-port', bridge, i.hostVeth]));
        for (const i of actions.plumb) replumbed.add(i.hostVeth);
        await applyNodeLinks(host.links, plan.lab, pid, actions);
        changes.push(...actions.summary);
        // Plug (or relabel) this node's ports now; the batch commits them together with other nodes'.
        const cmds: string[][] = [];
        for (const i of node.interfaces) {
          const cur = replumbed.has(i.hostVeth) ? undefined : ovsByName.get(i.hostVeth);
          if (!cur) {
            cmds.push(
              ['--may-exist', 'add-port', bridge, i.hostVeth],
              ['set', 'Interface', i.hostVeth, ...extIds(i.ovsExternalIds)],
            );
            if (!actions.plumb.includes(i))
              changes.push(`plug ${i.hostVeth} into ${bridge} (iface-id ${i.lsp})`);
          } else if (Object.entries(i.ovsExternalIds).some(([k, v]) => cur.externalIds[k] !== v)) {
            cmds.push(['set', 'Interface', i.hostVeth, ...extIds(i.ovsExternalIds)]);
            changes.push(`restore external_ids of ${i.hostVeth} (iface-id ${i.lsp})`);
          }
        }
        await ovsBatch.add(cmds);
        log(`${node.name}: ${actions.summary.length ? 'converged' : 'unchanged'}`);
      }),
    ),
  );
  const settled = await Promise.allSettled([nbDone, linksReady, ...nodeWork]);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length) throw failures[0]!.reason;

  // ---- wait until every port is bound and its flows installed
  const ports = plan.nodes.flatMap((n) =>
    n.interfaces.map((i) => ({ node: n.name, iface: i.name, hostVeth: i.hostVeth, lsp: i.lsp })),
  );
  await waitForPorts(host, ovn, ports, opts.readyTimeoutMs ?? 60_000);

  // ---- only now re-point translations and remove what the plan no longer has: a VIP or a public address moves
  // to a backend that can already answer, and the old backend goes after that
  await ovn.transact(nbChanges.late);
  if (nbChanges.flushAddresses.length) {
    // Old translations would keep flowing through conntrack (a moved VIP, a rotated public address): once the
    // new flows are installed, drop the old entries, so a stream started before the move continues after it.
    const synced = await ovn.syncHypervisors(10);
    await purgeDatapathFlows();
    // An entry of a VIP that already leads to one of its current backends is current; everything else naming a
    // moved VIP or a removed public address is stale.
    const backends = new Map(
      plan.loadBalancers.map((lb) => [lb.vipIp, new Set(lb.backends.map((b) => b.ip))]),
    );
    const n = await flushAddresses(bridge, nbChanges.flushAddresses, (e) =>
      Boolean(e.orig.dst && e.reply.src && backends.get(e.orig.dst)?.has(e.reply.src)),
    );
    debug(
      `conntrack: flushed ${n} stale entries of ${nbChanges.flushAddresses.join(', ')} (synced ${synced})`,
    );
    changes.push(
      `flush conntrack of ${nbChanges.flushAddresses.join(', ')}${synced ? '' : ' (hypervisors did not confirm the new flows within 10 s)'}`,
    );
  }

  // ---- containers of nodes the plan no longer has
  const wanted = new Set(plan.nodes.map((n) => n.name));
  const removeLimit = pLimit(REMOVE_CONCURRENCY);
  await Promise.all(
    containers
      .filter((c) => !wanted.has(c.node))
      .map(async (c) => {
        await removeLimit(() => host.containers.remove(c.id));
        result.removed.push(c.node);
        changes.push(`remove container ${c.name}`);
      }),
  );

  // ---- OVS ports the plan no longer has, in one transaction
  const ovsCommands: string[][] = [];
  const planned = new Map(plan.nodes.flatMap((n) => n.interfaces.map((i) => [i.hostVeth, i] as const)));
  for (const o of ovsIfaces)
    if (!planned.has(o.name)) {
      ovsCommands.push(['--if-exists', 'del-port', o.name]);
      changes.push(`unplug ${o.name}`);
    }
  // Host-side veths of this lab that the plan no longer has (their container is gone or the iface was removed).
  const strayVeths = hostLinkList
    .filter((l) => l.alias === `labctl:${plan.lab}` && !planned.has(l.name))
    .map((l) => l.name);
  await host.ovs.transact(ovsCommands);
  if (strayVeths.length) {
    const still = new Set((await host.links.hostLinks('lv')).map((l) => l.name));
    await host.links.deleteHostLinks(strayVeths.filter((n) => still.has(n)));
  }
  return { changes, containers: result, durationMs: performance.now() - t0 };
}

async function createContainer(host: HostDriver, node: PlanNode): Promise<string> {
  try {
    return await host.containers.create(node);
  } catch (err) {
    const e = err as { statusCode?: number; message: string };
    if (e.statusCode === 404)
      throw new LabctlError('environment', `image ${node.image} of node ${node.name} is not on this host`, {
        hint: `labctl image build ${node.image}   (or give the node a build: context)`,
      });
    if (e.statusCode === 409)
      throw new LabctlError(
        'conflict',
        `a container named ${node.container} exists but is not labelled for this lab`,
        {
          hint: `docker rm -f ${node.container}   (if it is yours to remove)`,
        },
      );
    throw new LabctlError('environment', `creating container for node ${node.name} failed: ${e.message}`, {
      hint: 'labctl host check',
    });
  }
}

export function labBaseDir(file: string | undefined): string | undefined {
  return file ? dirname(file) : undefined;
}
