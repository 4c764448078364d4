/**
 * Facts: everything the doctor reads from the host, read once per doctor run and shared by every check.
 * Each fact is a memoized promise, so checks running concurrently never repeat a read, and the whole run costs
 * a handful of process spawns: one ovs-vsctl (every Interface, Port, Bridge and the Open_vSwitch row), one NB
 * read, one SB read, one `ip link` on the host, one Docker list, and per node one nsenter for links/addresses/
 * routes plus one ethtool per interface (bounded concurrency).
 *
 * A fact that cannot be read rejects with a FactError naming its source; checks turn that into an "error"
 * result carrying `data.unavailable = <source>`, which the runner attributes to the lower-layer root cause that
 * explains it (ovsdb down → every OVS-based result follows from it).
 */
import pLimit from 'p-limit';
import type { ContainerInfo } from '../src/drivers/containers.js';
import type { HostLink, NsState } from '../src/drivers/links.js';
import type { NbLabState, PortBindingState } from '../src/drivers/ovn.js';
import { dumpOvsTables } from '../src/drivers/ovs-dump.js';
import { list, map, num, parseTables, str } from '../src/drivers/ovsdb-json.js';
import { expectationsFor, probeHost } from '../src/host/probe.js';
import type { HostReport } from '../src/host/report.js';
import type { PlanInterface, PlanNode } from '../src/plan/types.js';
import type { CheckContext } from './types.js';

/** Where a fact comes from; an unreadable source is named in error results (data.unavailable). */
export type FactSource = 'host' | 'docker' | 'ovs' | 'nb' | 'sb' | 'links' | 'netns' | 'ethtool';

export class FactError extends Error {
  constructor(
    readonly source: FactSource,
    message: string,
    /** node the fact was about, for per-node facts */
    readonly node?: string,
  ) {
    super(message);
    this.name = 'FactError';
  }
}

/** One OVS Interface row, whoever owns it (foreign rows matter: another interface may claim our iface-id). */
export interface OvsIfaceRow {
  uuid: string;
  name: string;
  type: string;
  externalIds: Record<string, string>;
  /** -1 when OVS could not add it to the datapath; undefined before vswitchd looked at it */
  ofport?: number;
  error: string;
  mtu?: number;
  adminState: string;
  linkState: string;
  /** the bridge whose port holds this interface */
  bridge?: string;
}

export interface OvsFacts {
  interfaces: OvsIfaceRow[];
  byName: Map<string, OvsIfaceRow>;
  /** iface-id → every interface carrying it */
  byIfaceId: Map<string, OvsIfaceRow[]>;
  bridges: { name: string; datapathType: string }[];
  /** Open_vSwitch external_ids (system-id, ovn-remote, …) */
  ovsExternalIds: Record<string, string>;
}

export interface Facts {
  /** the host report of src/host/probe.ts, evaluated against the plan's `ovn:` expectations */
  hostReport(): Promise<HostReport>;
  /** this lab's containers by node name (labelled labctl.lab=<lab>) */
  containers(): Promise<Map<string, ContainerInfo>>;
  /** PID of a node's running container; undefined when the container is missing or stopped */
  pid(node: string): Promise<number | undefined>;
  /** links, IPv4 addresses and routes inside a node's netns; rejects (source netns) when it cannot be read */
  nsState(node: string): Promise<NsState>;
  /** tx checksum offload on the container-side end of an interface (undefined: ethtool gave no answer) */
  txOffload(node: string, iface: string): Promise<boolean | undefined>;
  /** host-side links whose name starts with "lv" (our veth ends) */
  hostLinks(): Promise<Map<string, HostLink>>;
  /** every OVS Interface row, plus bridges and the Open_vSwitch row, in one read */
  ovs(): Promise<OvsFacts>;
  /** this lab's NB rows (by label) */
  nb(): Promise<NbLabState>;
  /** Port_Binding rows of every planned logical port, by logical port */
  bindings(): Promise<Map<string, PortBindingState>>;
  /** this host's chassis name (external_ids:system-id), from the OVS read */
  chassisName(): Promise<string | undefined>;
  /** number of process spawns and API calls made so far (for the benchmark and tests) */
  readonly reads: Record<string, number>;
}

export interface FactsOptions {
  /** bound on concurrent per-node reads (nsenter/ethtool/docker inspect); default 16 (spawns mostly wait) */
  concurrency?: number;
  /** probeHost replacement (unit tests) */
  probe?: () => Promise<HostReport>;
}

const OVS_TIMEOUT_S = 5;

/** Parse one `ovs-vsctl --format=json list Interface -- list Port -- list Bridge -- list Open_vSwitch` answer. */
export function parseOvsDump(stdout: string): OvsFacts {
  const [ifRows = [], portRows = [], brRows = [], ovsRows = []] = parseTables(stdout);
  const ifaceBridge = new Map<string, string>(); // interface uuid → bridge name
  const portIfaces = new Map(portRows.map((p) => [str(p, '_uuid'), list(p, 'interfaces')]));
  for (const b of brRows)
    for (const p of list(b, 'ports'))
      for (const i of portIfaces.get(p) ?? []) ifaceBridge.set(i, str(b, 'name'));
  const interfaces: OvsIfaceRow[] = ifRows.map((r) => {
    const row: OvsIfaceRow = {
      uuid: str(r, '_uuid'),
      name: str(r, 'name'),
      type: str(r, 'type'),
      externalIds: map(r, 'external_ids'),
      error: str(r, 'error'),
      adminState: str(r, 'admin_state'),
      linkState: str(r, 'link_state'),
    };
    const ofport = num(r, 'ofport');
    if (ofport !== undefined) row.ofport = ofport;
    const mtu = num(r, 'mtu');
    if (mtu !== undefined) row.mtu = mtu;
    const bridge = ifaceBridge.get(row.uuid);
    if (bridge) row.bridge = bridge;
    return row;
  });
  const byIfaceId = new Map<string, OvsIfaceRow[]>();
  for (const i of interfaces) {
    const id = i.externalIds['iface-id'];
    if (id) byIfaceId.set(id, [...(byIfaceId.get(id) ?? []), i]);
  }
  return {
    interfaces,
    byName: new Map(interfaces.map((i) => [i.name, i])),
    byIfaceId,
    bridges: brRows.map((b) => ({ name: str(b, 'name'), datapathType: str(b, 'datapath_type') })),
    ovsExternalIds: ovsRows[0] ? map(ovsRows[0], 'external_ids') : {},
  };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

function keyed<T>(fn: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (key) => {
    let p = cache.get(key);
    if (!p) {
      p = fn(key);
      cache.set(key, p);
    }
    return p;
  };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/** Facts for one doctor run of ctx.plan. Nothing is read until a check asks. */
export function createFacts(ctx: CheckContext, opts: FactsOptions = {}): Facts {
  const { plan, host, ovn } = ctx;
  const limit = pLimit(opts.concurrency ?? 16);
  const reads: Record<string, number> = {};
  const count = (what: string) => {
    reads[what] = (reads[what] ?? 0) + 1;
  };
  const nodeByName = new Map<string, PlanNode>(plan.nodes.map((n) => [n.name, n]));
  const ifaceOf = (node: string, iface: string): PlanInterface | undefined =>
    nodeByName.get(node)?.interfaces.find((i) => i.name === iface);

  let settledReport: HostReport | undefined;
  const hostReport = once(async () => {
    count('host-probe');
    try {
      settledReport = await (opts.probe ? opts.probe() : probeHost(expectationsFor(plan.ovn)));
      return settledReport;
    } catch (err) {
      throw new FactError('host', `host probe failed: ${message(err)}`);
    }
  });
  // When the host layer already found a database down, do not wait for its client's timeout again.
  const knownDown = (source: FactSource, row: string) => {
    const r = settledReport?.checks.find((c) => c.id === row);
    if (r?.required && !r.ok) throw new FactError(source, `not read: ${r.title} is down (${r.detail})`);
  };

  const containers = once(async () => {
    knownDown('docker', 'dockerd');
    count('docker-list');
    try {
      const rows = await host.containers.list(plan.lab);
      return new Map(rows.map((c) => [c.node, c]));
    } catch (err) {
      throw new FactError('docker', `cannot list containers: ${message(err)}`);
    }
  });

  const pid = keyed(async (node) => {
    const c = (await containers()).get(node);
    if (!c?.running) return undefined;
    count('docker-inspect');
    try {
      return await limit(() => host.containers.pid(c.id));
    } catch {
      return undefined; // stopped between list and inspect
    }
  });

  const nsState = keyed(async (node) => {
    const p = await pid(node);
    if (p === undefined) throw new FactError('netns', `container of node ${node} is not running`, node);
    count('nsenter-ip');
    try {
      return await limit(() => host.links.nsState(p));
    } catch (err) {
      throw new FactError('netns', `cannot read the netns of ${node} (pid ${p}): ${message(err)}`, node);
    }
  });

  const txOffload = (node: string, iface: string) => txOffloadKeyed(`${node}\0${iface}`);
  const txOffloadKeyed = keyed(async (key) => {
    const [node = '', iface = ''] = key.split('\0');
    if (!ifaceOf(node, iface)) throw new Error(`no planned interface ${node}.${iface}`);
    const p = await pid(node);
    if (p === undefined) throw new FactError('netns', `container of node ${node} is not running`, node);
    count('nsenter-ethtool');
    try {
      return await limit(() => host.links.txOffload(iface, p));
    } catch (err) {
      throw new FactError('ethtool', `ethtool -k ${iface} in ${node} failed: ${message(err)}`, node);
    }
  });

  const hostLinks = once(async () => {
    count('ip-link');
    try {
      // a multi-chassis lab's host ends are in its chassis's namespaces: every chassis with nodes is read
      const drivers = ctx.hostOf
        ? [...new Set(plan.nodes.map((n) => n.host))].map((h) => ctx.hostOf!(h))
        : [host];
      const all = await Promise.all(drivers.map((d) => d.links.hostLinks('lv')));
      return new Map(all.flat().map((l) => [l.name, l]));
    } catch (err) {
      throw new FactError('links', `cannot list host links: ${message(err)}`);
    }
  });

  // One spawn for all of OVS, every row (see dumpOvsTables).
  const ovs = once(async () => {
    knownDown('ovs', 'ovsdb-server');
    count('ovs-vsctl');
    const r = await dumpOvsTables(OVS_TIMEOUT_S).catch((err: unknown) => {
      throw new FactError('ovs', `ovs-vsctl failed: ${message(err)}`);
    });
    if (r.exitCode !== 0 || r.timedOut)
      throw new FactError(
        'ovs',
        `ovs-vsctl: ${r.timedOut ? 'no answer' : r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`}`,
      );
    return parseOvsDump(r.stdout);
  });

  const nb = once(async () => {
    knownDown('nb', 'ovn-nb');
    count('ovn-nbctl');
    try {
      return await ovn.readLab(plan.lab);
    } catch (err) {
      throw new FactError('nb', `cannot read the OVN northbound DB: ${message(err)}`);
    }
  });

  const bindings = once(async () => {
    knownDown('sb', 'ovn-sb');
    count('ovn-sbctl');
    const lsps = plan.nodes.flatMap((n) => n.interfaces.map((i) => i.lsp));
    try {
      return new Map((await ovn.bindings(lsps)).map((b) => [b.logicalPort, b]));
    } catch (err) {
      throw new FactError('sb', `cannot read the OVN southbound DB: ${message(err)}`);
    }
  });

  const chassisName = once(async () => {
    const o = await ovs();
    return o.ovsExternalIds['system-id'] || undefined;
  });

  return {
    hostReport,
    containers,
    pid,
    nsState,
    txOffload,
    hostLinks,
    ovs,
    nb,
    bindings,
    chassisName,
    reads,
  };
}
