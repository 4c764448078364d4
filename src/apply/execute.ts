/**
 * executeChanges: the only code of `up` with effects. It carries out a change set (diffLab's) through the driver of
 * each change's host, in a safe order, and reports each change as it is done:
 *   1. OVN NB `release` + `structure` (one transaction), concurrently with each host's containers and links
 *   2. per host: new containers' veths prepared up front (one ip batch, one OVS transaction), then per node the
 *      container (create/recreate/start), its links and its OVS ports (batched across nodes)
 *   3. wait until every planned port is bound (ovn-installed)
 *   4. OVN NB `late` (one transaction): NAT and load balancers re-pointed, then removals; stale conntrack flushed
 *   5. per host: containers, OVS ports and veths the plan no longer has
 * A failing OVS/OVN/ip command surfaces as a LabctlError naming what failed and what to run.
 */
import pLimit from 'p-limit';
import { flushAddresses, purgeDatapathFlows } from '../drivers/conntrack.js';
import type { HostDriver } from '../drivers/host.js';
import { extIds } from '../drivers/ovsdb-json.js';
import { LabctlError } from '../errors.js';
import { CommandError } from '../exec.js';
import { ovsPortOf, type Plan, type PlanInterface, type PlanNode } from '../plan/types.js';
import { createBatcher } from './batcher.js';
import type {
  Change,
  ChangeSet,
  ConntrackFlushChange,
  ContainerChange,
  DhcpLeaseChange,
  ImpairChange,
  LinkPlumbChange,
  NbChange,
  OvsPortChange,
} from './changes.js';
import { formatChange } from './changes.js';
import { runDhcpLeases } from './dhcp-exec.js';
import { REMOVE_CONCURRENCY } from './down.js';
import { setImpair, unwireImpair, wireImpair } from './impair-exec.js';
import { applyNodeLinks, disableOffloads, type LinkActions, vethCreateLines } from './node-links.js';
import type { Drivers, Observed } from './observe.js';
import { waitForPorts } from './wait.js';

/** Containers created and started at once by up (Docker itself parallelises; see docs/bench.md). */
export const DEFAULT_UP_CONCURRENCY = 16;
/** Nodes whose links are plumbed at once. */
const LINK_CONCURRENCY = 8;

export interface ExecuteOptions {
  /** directory build contexts are relative to (the lab file's) */
  baseDir?: string;
  readyTimeoutMs?: number;
  /** containers created/started at once (default DEFAULT_UP_CONCURRENCY) */
  concurrency?: number;
  /** progress lines (listr2 task output) */
  log?: (line: string) => void;
  /** each change, as soon as it is done */
  onChange?: (change: Change) => void;
  ensureImage?: (
    image: string,
    build: PlanNode['build'],
    baseDir: string | undefined,
    log: (l: string) => void,
  ) => Promise<void>;
  /** the lab file, for the fix hints of errors */
  labFile?: string;
}

export interface ApplyResult {
  /** every change as `up --dry-run` prints it, in the order it was done */
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

export async function executeChanges(
  plan: Plan,
  set: ChangeSet,
  observed: Observed,
  drivers: Drivers,
  opts: ExecuteOptions = {},
): Promise<ApplyResult> {
  const t0 = performance.now();
  const debug = process.env.LABCTL_DEBUG
    ? (m: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(3)}] ${m}\n`)
    : () => undefined;
  const log = (line: string) => {
    debug(line);
    opts.log?.(line);
  };
  const applied: string[] = [];
  const done = (c: Change) => {
    applied.push(formatChange(c));
    debug(formatChange(c));
    opts.onChange?.(c);
  };
  const upHint = `labctl doctor -f ${opts.labFile ?? 'lab.yml'}   (then labctl up --dry-run -f ${opts.labFile ?? 'lab.yml'} shows what is left to change)`;
  const nb = (phase: NbChange['phase'][]) =>
    set.changes.filter((c): c is NbChange => c.kind === 'nb' && phase.includes(c.phase));
  const transactNb = async (entries: NbChange[], what: string) => {
    if (!entries.length) return;
    await attempt(`OVN northbound transaction (${what}: ${entries.length} change(s))`, upHint, () =>
      drivers.central.transact(entries.flatMap((c) => c.commands)),
    );
    for (const c of entries) done(c);
  };

  // ---- images for containers that will be created
  const containerChanges = set.changes.filter((c): c is ContainerChange => c.kind === 'container');
  const nodeOf = new Map(plan.nodes.map((n) => [n.name, n]));
  if (opts.ensureImage) {
    const images = new Map<string, PlanNode>();
    for (const c of containerChanges) {
      const n = nodeOf.get(c.node);
      if (n && (c.action === 'create' || c.action === 'recreate') && !images.has(n.image))
        images.set(n.image, n);
    }
    for (const n of images.values()) await opts.ensureImage(n.image, n.build, opts.baseDir, log);
  }

  const result: ApplyResult['containers'] = {
    created: [],
    started: [],
    recreated: [],
    removed: [],
    kept: [],
  };
  const byNode = new Map(containerChanges.filter((c) => c.action !== 'remove').map((c) => [c.node, c]));
  for (const n of plan.nodes) if (!byNode.has(n.name)) result.kept.push(n.name);

  // ---- 1 + 2: NB structure concurrently with every host's containers and links
  const nbDone = transactNb(nb(['release', 'structure']), 'structure');
  const hostWork = plan.hosts.map((h) =>
    convergeHost(plan, h.name, set, observed, drivers.host(h.name), {
      concurrency: opts.concurrency ?? DEFAULT_UP_CONCURRENCY,
      done,
      debug,
      result,
      upHint,
    }),
  );
  const settled = await Promise.allSettled([nbDone, ...hostWork]);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;

  // ---- 3: every planned port bound and its flows installed
  for (const h of plan.hosts) {
    const ports = plan.nodes
      .filter((n) => n.host === h.name)
      .flatMap((n) =>
        n.interfaces.map((i) => ({ node: n.name, iface: i.name, hostVeth: ovsPortOf(i), lsp: i.lsp })),
      );
    await waitForPorts(drivers.host(h.name), drivers.central, ports, opts.readyTimeoutMs ?? 60_000);
  }

  // ---- 3b: ip: dhcp interfaces take their addresses from OVN, now that their ports are bound
  const leases = set.changes.filter((c): c is DhcpLeaseChange => c.kind === 'dhcp-lease');
  if (leases.length) {
    // a readdressed port: the hypervisors must answer from its new addresses before its client asks (bounded)
    if (nb(['release', 'structure']).length) await drivers.central.syncHypervisors(10);
    await runDhcpLeases(plan, leases, (h) => drivers.host(h), done, upHint);
  }

  // ---- 4: translations re-pointed and removals, now that the new backends answer; then stale conntrack
  await transactNb(nb(['late']), 'translations and removals');
  const flushes = set.changes.filter((c): c is ConntrackFlushChange => c.kind === 'conntrack-flush');
  if (flushes.length) {
    // Old translations would keep flowing through conntrack (a moved VIP, a rotated public address): once the
    // new flows are installed, drop the old entries, so a stream started before the move continues after it.
    const synced = await drivers.central.syncHypervisors(10);
    // An entry of a VIP that already leads to one of its current backends is current; everything else naming a
    // moved VIP or a removed public address is stale.
    const backends = new Map(
      plan.loadBalancers.map((lb) => [lb.vipIp, new Set(lb.backends.map((b) => b.ip))]),
    );
    for (const c of flushes) {
      // each host's own datapath: on a multi-chassis lab, the chassis's ovs-vswitchd (one flush change per chassis)
      const target = drivers.host(c.host).datapath;
      await purgeDatapathFlows(target);
      const n = await flushAddresses(
        plan.ovn.bridge,
        c.addresses,
        (e) => Boolean(e.orig.dst && e.reply.src && backends.get(e.orig.dst)?.has(e.reply.src)),
        10,
        target,
      );
      debug(
        `conntrack: flushed ${n} stale entries of ${c.addresses.join(', ')} on ${c.host} (synced ${synced})`,
      );
      done(
        synced
          ? c
          : { ...c, summary: `${c.summary} (hypervisors did not confirm the new flows within 10 s)` },
      );
    }
  }

  // ---- 5: what the plan no longer has
  for (const h of Object.keys(observed.hosts))
    await removeFromHost(h, set, drivers.host(h), plan.ovn.bridge, { done, result, upHint });
  return { changes: applied, containers: result, durationMs: performance.now() - t0 };
}

interface HostContext {
  concurrency: number;
  done: (c: Change) => void;
  debug: (m: string) => void;
  result: ApplyResult['containers'];
  upHint: string;
}

/** Containers, links and OVS ports of one host's nodes (removals come later, in removeFromHost). */
async function convergeHost(
  plan: Plan,
  hostName: string,
  set: ChangeSet,
  observed: Observed,
  host: HostDriver,
  ctx: HostContext,
): Promise<void> {
  const { done, debug, upHint } = ctx;
  const bridge = plan.ovn.bridge;
  const mine = set.changes.filter((c) => c.host === hostName);
  const nodes = new Map(plan.nodes.filter((n) => n.host === hostName).map((n) => [n.name, n]));
  const perNode = new Map<string, Change[]>();
  for (const c of mine)
    if (
      'node' in c &&
      c.node &&
      nodes.has(c.node) &&
      !(c.kind === 'container' && c.action === 'remove') &&
      c.kind !== 'dhcp-lease' // runs once the ports are bound (runDhcpLeases)
    ) {
      const list = perNode.get(c.node);
      if (list) list.push(c);
      else perNode.set(c.node, [c]);
    }
  const ifaceOf = (node: string, iface: string) => nodes.get(node)!.interfaces.find((i) => i.name === iface)!;

  // New containers (created, recreated, started) get all their veths at once, before Docker has finished with them:
  // one ip -batch creates every pair (container end with its final MAC/MTU and offload off), one OVS transaction
  // plugs every host end, so ovn-controller binds the ports while containers start. Per node only the move into
  // its netns and the in-namespace addresses remain.
  const freshPlumbs = mine.filter((c): c is LinkPlumbChange => c.kind === 'link-plumb' && c.fresh);
  const prepared = freshPlumbs.map((c) => ifaceOf(c.node, c.iface));
  const linksReady = (async () => {
    if (!prepared.length) return;
    // A port left under one of these names must leave OVS before its device is replaced, and vswitchd must have let
    // go of it (this transaction waits): in one transaction with the new add-port, vswitchd would match the new row
    // by name and keep its handle on the deleted device.
    const staleOvs = freshPlumbs.filter((c) => c.staleOvs).map((c) => ifaceOf(c.node, c.iface).hostVeth);
    if (staleOvs.length)
      await attempt('removing stale OVS ports', upHint, () =>
        host.ovs.transact(staleOvs.map((v) => ['--if-exists', 'del-port', bridge, v])),
      );
    // An old host end (a recreated container's, or one left by an interrupted up) takes its pair with it.
    const staleHost = freshPlumbs.filter((c) => c.staleHost).map((c) => ifaceOf(c.node, c.iface).hostVeth);
    if (staleHost.length)
      await attempt('deleting stale veths', upHint, () => host.links.deleteHostLinks(staleHost));
    await attempt('creating veth pairs (ip -batch)', upHint, () =>
      host.links.hostBatch(vethCreateLines(plan.lab, prepared)),
    );
    await Promise.all([
      attempt('switching tx checksum offload off', upHint, () => disableOffloads(host.links, prepared)),
      attempt(`plugging ${prepared.length} port(s) into ${bridge}`, upHint, () =>
        host.ovs.transact(plugCommands(bridge, prepared), { noWait: true }),
      ),
    ]);
  })();
  // Nobody may be waiting on it yet when it fails; the failure is collected with the node work below.
  linksReady.catch(() => undefined);

  const dockerLimit = pLimit(ctx.concurrency);
  const linkLimit = pLimit(LINK_CONCURRENCY);
  // --no-wait: readiness is proven per port by ovn-installed, not by vswitchd's reconfiguration.
  const ovsBatch = createBatcher<string[]>((cmds) =>
    attempt(`OVS transaction on ${bridge}`, upHint, () => host.ovs.transact(cmds, { noWait: true })),
  );
  // Moving container ends into their netns: one ip -batch for all nodes that got their container in the same tick.
  const moveBatch = createBatcher<string>(
    (lines) => attempt('moving veths into containers', upHint, () => host.links.hostBatch(lines)),
    { delayMs: 10 },
  );

  const work = [...perNode].map(([name, changes]) =>
    dockerLimit(async (): Promise<{ id?: string; pid?: number }> => {
      const node = nodes.get(name)!;
      const cc = changes.find((c): c is ContainerChange => c.kind === 'container');
      if (!cc) return { pid: observed.hosts[hostName]!.nodes[name]!.pid };
      let id = cc.id!;
      if (cc.action === 'start') {
        await attempt(`starting container ${node.container}`, upHint, () =>
          // 304: it runs already (it started between the observation and now); its namespace is new all the same
          host.containers.start(id).catch((err: { statusCode?: number }) => {
            if (err.statusCode !== 304) throw err;
          }),
        );
        ctx.result.started.push(name);
      } else {
        if (cc.action === 'recreate') {
          await attempt(`removing container ${node.container}`, upHint, () => host.containers.remove(id));
          ctx.result.recreated.push(name);
        } else ctx.result.created.push(name);
        id = await createContainer(host, node);
      }
      done(cc);
      return { id };
    }).then((c) =>
      linkLimit(async () => {
        const pid =
          c.pid ??
          (await attempt(`reading the pid of node ${name}'s container`, upHint, () =>
            host.containers.pid(c.id!),
          ));
        debug(`${name}: pid ${pid} ready for links`);
        const plumbs = changes.filter((c): c is LinkPlumbChange => c.kind === 'link-plumb');
        const fresh = plumbs.filter((c) => c.fresh);
        const actions = linkActions(nodes.get(name)!, changes);
        const impairs = changes.filter((c): c is ImpairChange => c.kind === 'impair');
        // A cleared impairment's relay and bridge end go before the host end is plugged back.
        for (const c of impairs.filter((x) => x.action === 'unwire'))
          await attempt(`clearing the impairment of ${name}.${c.iface}`, upHint, () =>
            unwireImpair(host, plan.lab, bridge, c),
          );
        const impairLinks = async () => {
          for (const c of impairs.filter((x) => x.action !== 'unwire'))
            await attempt(`impairing ${name}.${c.iface}`, upHint, async () => {
              if (c.action === 'set') setImpair(host, plan.lab, c);
              else await wireImpair(host, plan.lab, bridge, ifaceOf(name, c.iface!), c);
            });
        };
        if (fresh.length) {
          await linksReady;
          await attempt(`wiring the links of ${name}`, upHint, () =>
            applyNodeLinks(host.links, plan.lab, pid, actions, {
              prepared: true,
              move: (lines) => moveBatch.add(lines),
            }),
          );
          await impairLinks();
          for (const c of plumbs) done(c);
          for (const c of impairs) done(c);
          return;
        }
        // A link being re-plumbed must leave OVS first (waited), so the new device gets a fresh port.
        const staleOvs = plumbs.filter((c) => c.staleOvs).map((c) => ifaceOf(name, c.iface).hostVeth);
        if (staleOvs.length)
          await attempt('removing stale OVS ports', upHint, () =>
            host.ovs.transact(staleOvs.map((v) => ['--if-exists', 'del-port', bridge, v])),
          );
        await attempt(`wiring the links of ${name}`, upHint, () =>
          applyNodeLinks(host.links, plan.lab, pid, actions),
        );
        // Plug (or relabel) this node's ports now; the batch commits them together with other nodes'.
        const ovs = changes.filter((c): c is OvsPortChange => c.kind === 'ovs-port');
        const cmds = plugCommands(
          bridge,
          plumbs.map((c) => ifaceOf(name, c.iface)),
        );
        for (const c of ovs)
          if (c.action === 'plug')
            cmds.push(
              ['--may-exist', 'add-port', bridge, c.port],
              ['set', 'Interface', c.port, ...extIds(c.externalIds!)],
            );
          else if (c.action === 'relabel') cmds.push(['set', 'Interface', c.port, ...extIds(c.externalIds!)]);
        await ovsBatch.add(cmds);
        await impairLinks();
        for (const c of changes) if (c.kind !== 'container') done(c);
      }),
    ),
  );
  const settled = await Promise.allSettled([linksReady, ...work]);
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
}

/** OVS ports of plumbed links; an impaired one's bridge end is plugged by its wire change instead. */
function plugCommands(bridge: string, ifaces: PlanInterface[]): string[][] {
  return ifaces
    .filter((i) => !i.impair)
    .flatMap((i) => [
      ['--may-exist', 'add-port', bridge, i.hostVeth],
      ['set', 'Interface', i.hostVeth, ...extIds(i.ovsExternalIds)],
    ]);
}

/** One node's link changes, regrouped into what applyNodeLinks runs (deletes, plumbing, ns lines, host ends). */
export function linkActions(node: PlanNode, changes: Change[]): LinkActions {
  const out: LinkActions = { plumb: [], deleteHost: [], nsLines: [], hostUp: [], summary: [] };
  const plumbed = new Set<string>();
  for (const c of changes) {
    if (c.kind === 'link-plumb') {
      const i = node.interfaces.find((x) => x.name === c.iface)!;
      out.plumb.push(i);
      plumbed.add(i.name);
      // A fresh link's stale host end went before its new pair was prepared (convergeHost): not again here.
      if (c.staleHost && !c.fresh) out.deleteHost.push(i.hostVeth);
      if (c.staleInside) out.nsLines.push(`link del ${i.name}`);
    } else if (c.kind === 'link-set') {
      out.nsLines.push(...c.lines);
      if (c.sysctls) out.sysctls = { ...out.sysctls, ...c.sysctls };
    } else if (c.kind === 'host-link-up') out.hostUp.push(c.hostVeth);
    else continue;
    out.summary.push(c.summary);
  }
  // A plumbed link comes with the routes through it (a DHCP link's come with its lease: it has no address yet).
  const dhcp = new Set(node.interfaces.filter((i) => i.dhcp).map((i) => i.name));
  const dhcp6 = new Set(node.interfaces.filter((i) => i.dhcp6).map((i) => i.name));
  for (const r of node.routes)
    if (plumbed.has(r.dev) && !(r.family === 6 ? dhcp6 : dhcp).has(r.dev))
      out.nsLines.push(`route replace ${r.dst} via ${r.via} dev ${r.dev}`);
  return out;
}

/** Containers, OVS ports and veths of one host that the plan no longer has. */
async function removeFromHost(
  hostName: string,
  set: ChangeSet,
  host: HostDriver,
  bridge: string,
  ctx: Pick<HostContext, 'done' | 'result' | 'upHint'>,
): Promise<void> {
  const mine = set.changes.filter((c) => c.host === hostName);
  const removeLimit = pLimit(REMOVE_CONCURRENCY);
  await Promise.all(
    mine
      .filter((c): c is ContainerChange => c.kind === 'container' && c.action === 'remove')
      .map((c) =>
        removeLimit(async () => {
          await attempt(`removing container of node ${c.node}`, ctx.upHint, () =>
            host.containers.remove(c.id!),
          );
          ctx.result.removed.push(c.node);
          ctx.done(c);
        }),
      ),
  );
  // Relays of interfaces that are gone (the relay itself exits when its device goes; its pidfile stays).
  for (const c of mine.filter((x): x is ImpairChange => x.kind === 'impair' && !x.node)) {
    await attempt(`stopping the impairment relay of ${c.hostVeth}`, ctx.upHint, () =>
      unwireImpair(host, set.lab, bridge, c),
    );
    ctx.done(c);
  }
  const unplug = mine.filter((c): c is OvsPortChange => c.kind === 'ovs-port' && c.action === 'unplug');
  if (unplug.length) {
    await attempt('removing OVS ports', ctx.upHint, () =>
      host.ovs.transact(unplug.map((c) => ['--if-exists', 'del-port', c.port])),
    );
    for (const c of unplug) ctx.done(c);
  }
  const veths = mine.filter((c) => c.kind === 'veth-delete');
  if (veths.length) {
    // Most went with their container's namespace just now; delete the ones still there.
    const still = new Set((await host.links.hostLinks('lv')).map((l) => l.name));
    const names = veths.map((c) => c.name).filter((n) => still.has(n));
    await attempt('deleting veths', ctx.upHint, () => host.links.deleteHostLinks(names));
    for (const c of veths) ctx.done(c);
  }
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

/**
 * Run one effectful step; a failing command becomes a LabctlError that says which step failed, with the program's
 * own message, and what to run. LabctlErrors pass through unchanged.
 */
async function attempt<T>(what: string, hint: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabctlError) throw err;
    const msg = err instanceof CommandError ? err.message : (err as Error).message;
    throw new LabctlError('environment', `${what} failed: ${msg}`, { hint, cause: err });
  }
}
