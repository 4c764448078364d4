/**
 * Map the doctor's results onto the picture (pure, unit-tested): which node, interface, router link and VIP each
 * result is about, and so each element's worst result. Only the report's data is used — `data.node`/`data.iface`
 * of wiring results, `data.from`/`data.nodes`/`data.ip` of data-plane results, `followsFrom` — never its prose.
 *
 * - A wiring result is about its interface (`data.node` + `data.iface`) or its node (`data.node`); a node's colour
 *   is the worst of its own results and its interfaces'.
 * - A data-plane result is about its path: the source node and the interface it sends from (the plan's route to
 *   `data.ip`), the node(s) that answer `data.ip` (its owner, or the NAT/VIP translation's) and their interfaces,
 *   the router links on the shortest switch–router path between the two switches, and the VIP when `data.ip` is
 *   one. A passing probe across a router is what shows a router link healthy.
 * - A symptom (status skip, `followsFrom` set) is failed, with its root's cause, but only on the elements its root
 *   covers (a node covers its interfaces; a host-layer root covers everything): `client→web` following from
 *   `wiring.container web` marks web and its links, not client.
 * - Host-layer results and data-plane results about no node (the neighbour table) belong to the lab as a whole:
 *   they are listed apart (`lab`), as the picture's banner.
 */
import type { CheckResult } from '../doctor/types.js';
import type { Plan } from '../plan/types.js';
import { ownerOf, routeFor, translatedOwner } from '../probe/targets.js';
import { ifaceId, nodeId, routerLinkId, vipId } from './model.js';

/** What the picture shows per element. */
export type Health = 'pass' | 'warn' | 'fail' | 'unchecked';

export interface Finding {
  check: string;
  subject: string;
  /** the result's own status (a symptom is `skip`) */
  status: CheckResult['status'];
  /** the cause: the result's own, or for a symptom its root's */
  cause?: string;
  evidence?: string;
  fix?: string;
  /** "<id> <subject>" of the root cause a symptom follows from */
  followsFrom?: string;
}

export interface ElementHealth {
  status: Health;
  /** the findings that decide the colour, worst first (failures, then warnings, then passes) */
  findings: Finding[];
  /** how many results are about this element */
  results: number;
}

export interface HealthMap {
  lab: string;
  ok: boolean;
  /** per graph id (node:, iface:, rlink:, vip:, router:) */
  elements: Map<string, ElementHealth>;
  /** results about the lab as a whole (host layer, host-wide data-plane causes) that did not pass */
  labWide: Finding[];
  /** root causes: failing results that follow from nothing, in report order */
  roots: Finding[];
}

/** The doctor's `--json` report, as far as the picture needs it (docs/doctor.md). */
export interface ReportLike {
  lab: string;
  ok?: boolean;
  checks: CheckResult[];
}

const RANK: Record<Health, number> = { unchecked: 0, pass: 1, warn: 2, fail: 3 };
export const worst = (a: Health, b: Health): Health => (RANK[b] > RANK[a] ? b : a);

/** The colour a result gives: fail/error and symptoms fail; skip without a root says nothing. */
export function healthOfResult(r: Pick<CheckResult, 'status' | 'followsFrom'>): Health {
  switch (r.status) {
    case 'pass':
      return 'pass';
    case 'warn':
      return 'warn';
    case 'fail':
    case 'error':
      return 'fail';
    default:
      return r.followsFrom ? 'fail' : 'unchecked';
  }
}

/** Element ids a result is about; 'lab' for the lab as a whole; [] when it names nothing we draw. */
export function elementsOfResult(plan: Plan, r: CheckResult): string[] | 'lab' {
  if (r.layer === 'host') return 'lab';
  const d = r.data ?? {};
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const node = str(d.node);
  const iface = str(d.iface);
  const nodes = plan.nodes;
  const known = (n: string | undefined) => (n ? nodes.find((x) => x.name === n) : undefined);
  if (r.layer === 'wiring') {
    if (node && iface && known(node)?.interfaces.some((i) => i.name === iface)) return [ifaceId(node, iface)];
    if (node && known(node)) return [nodeId(node)];
    return [];
  }
  // dataplane
  const from = known(str(d.from));
  const listed = Array.isArray(d.nodes) ? d.nodes.map(String) : undefined;
  if (!from) {
    if (listed && listed.length === 0) return 'lab';
    return (listed ?? []).filter((n) => known(n)).map(nodeId);
  }
  const ids = new Set<string>([nodeId(from.name)]);
  const ip = str(d.ip);
  if (!ip) {
    for (const n of listed ?? []) if (known(n)) ids.add(nodeId(n));
    return [...ids];
  }
  const route = routeFor(from, ip);
  if (route) ids.add(ifaceId(from.name, route.iface.name));
  // who answers ip: its owner, or the nodes a NAT rule or a VIP translates it to
  const ends: { node: string; iface: string; network: string }[] = [];
  const owner = ownerOf(plan, ip);
  if (owner?.node && owner.iface)
    ends.push({ node: owner.node.name, iface: owner.iface.name, network: owner.iface.network });
  const proto = str(d.proto) as 'tcp' | 'udp' | 'icmp' | undefined;
  const port = typeof d.port === 'number' ? d.port : undefined;
  if (!owner && proto) {
    const tr = translatedOwner(plan, ip, proto, port);
    for (const n of tr?.nodes ?? []) {
      // the interface on the NAT router's networks / the backend address, else the first
      const lb = plan.loadBalancers.find((l) => l.vipIp === ip);
      const nat = plan.routers.flatMap((x) => x.nat).find((x) => x.external === ip && x.node === n.name);
      const i =
        n.interfaces.find((x) => x.ip === nat?.logical) ??
        n.interfaces.find((x) => lb?.backends.some((b) => b.ip === x.ip)) ??
        n.interfaces[0];
      if (i) ends.push({ node: n.name, iface: i.name, network: i.network });
    }
  }
  for (const lb of plan.loadBalancers) if (lb.vipIp === ip) ids.add(vipId(lb.name));
  for (const e of ends) {
    ids.add(nodeId(e.node));
    ids.add(ifaceId(e.node, e.iface));
  }
  // router links crossed: the shortest path from the source's switch to the answer's (or, for an address no node
  // owns, to the router that owns it / a switch whose subnet holds it)
  if (route) {
    // the first router on the way (a routed source, e.g. to a NAT address on its own switch)
    const hop = route.via ? ownerOf(plan, route.via)?.routerPort : undefined;
    if (hop) ids.add(routerLinkId(routerName(plan, hop.router), hop.network));
    const targets = new Set<string>(ends.map((e) => e.network));
    if (owner?.routerPort) targets.add(owner.routerPort.network);
    for (const l of routerPath(plan, route.iface.network, targets)) ids.add(l);
    if (owner?.routerPort && route.iface.network !== owner.routerPort.network)
      ids.add(routerLinkId(routerName(plan, owner.routerPort.router), owner.routerPort.network));
  }
  return [...ids];
}

function routerName(plan: Plan, ovnRouter: string): string {
  return plan.routers.find((r) => r.router === ovnRouter)?.name ?? ovnRouter;
}

/** Router-link ids on the shortest path (breadth first, bounded by the plan's size) from network `from` to any of `to`. */
export function routerPath(plan: Plan, from: string, to: ReadonlySet<string>): string[] {
  if (!to.size || to.has(from)) return [];
  const prev = new Map<string, { net: string; router: string }>();
  const seen = new Set([from]);
  let frontier = [from];
  for (let depth = 0; depth <= plan.routers.length && frontier.length; depth++) {
    const next: string[] = [];
    for (const net of frontier)
      for (const r of plan.routers) {
        if (!r.ports.some((p) => p.network === net)) continue;
        for (const p of r.ports) {
          if (seen.has(p.network)) continue;
          seen.add(p.network);
          prev.set(p.network, { net, router: r.name });
          if (to.has(p.network)) {
            const out: string[] = [];
            let at = p.network;
            for (let k = 0; k <= plan.routers.length && prev.has(at); k++) {
              const step = prev.get(at)!;
              out.push(routerLinkId(step.router, at), routerLinkId(step.router, step.net));
              at = step.net;
            }
            return out.reverse();
          }
          next.push(p.network);
        }
      }
    frontier = next;
  }
  return [];
}

/** The ids a root result covers: a node covers its interfaces; anything else covers itself. */
function coverOf(plan: Plan, ids: string[]): Set<string> {
  const out = new Set(ids);
  for (const id of ids)
    if (id.startsWith('node:')) {
      const n = plan.nodes.find((x) => nodeId(x.name) === id);
      for (const i of n?.interfaces ?? []) out.add(ifaceId(n!.name, i.name));
    }
  return out;
}

function findingOf(r: CheckResult, root?: CheckResult): Finding {
  const symptom = r.data?.symptom as { cause?: string } | undefined;
  const cause = r.cause ?? root?.cause ?? symptom?.cause;
  return {
    check: r.id,
    subject: r.subject,
    status: r.status,
    ...(cause ? { cause } : {}),
    ...(r.evidence ? { evidence: r.evidence } : {}),
    ...(r.fix ? { fix: r.fix } : root?.fix ? { fix: root.fix } : {}),
    ...(r.followsFrom ? { followsFrom: r.followsFrom } : {}),
  };
}

/**
 * Each element's worst result. Elements no result is about stay `unchecked`. Routers take the worst of their
 * links, nodes the worst of their own results and their interfaces'.
 */
export function healthOf(plan: Plan, report: ReportLike): HealthMap {
  const byKey = new Map(report.checks.map((r) => [`${r.id} ${r.subject}`, r]));
  const marks = new Map<string, { health: Health; finding: Finding }[]>();
  const lab: Finding[] = [];
  const roots: Finding[] = [];
  const mark = (id: string, health: Health, finding: Finding) => {
    const list = marks.get(id) ?? [];
    list.push({ health, finding });
    marks.set(id, list);
  };
  for (const r of report.checks) {
    const h = healthOfResult(r);
    if (h === 'fail' && !r.followsFrom) roots.push(findingOf(r));
    if (h === 'unchecked') continue;
    const ids = elementsOfResult(plan, r);
    const root = r.followsFrom ? byKey.get(r.followsFrom) : undefined;
    const finding = findingOf(r, root);
    if (ids === 'lab') {
      if (h !== 'pass') lab.push(finding);
      continue;
    }
    let on = ids;
    if (r.followsFrom && root) {
      const rootIds = elementsOfResult(plan, root);
      // a host or lab-wide root covers everything; else only what the root is about
      if (rootIds !== 'lab') {
        const cover = coverOf(plan, rootIds);
        on = ids.filter((id) => cover.has(id));
      }
    }
    for (const id of on) mark(id, h, finding);
  }
  const elements = new Map<string, ElementHealth>();
  const summarize = (id: string, extra: { health: Health; finding: Finding }[] = []) => {
    const list = [...(marks.get(id) ?? []), ...extra];
    let status: Health = 'unchecked';
    for (const m of list) status = worst(status, m.health);
    const findings = [...list]
      .sort((a, b) => RANK[b.health] - RANK[a.health])
      .map((m) => m.finding)
      .filter((f, k, all) => all.findIndex((g) => g.check === f.check && g.subject === f.subject) === k);
    elements.set(id, { status, findings, results: findings.length });
  };
  for (const n of plan.nodes) {
    for (const i of n.interfaces) summarize(ifaceId(n.name, i.name));
    summarize(
      nodeId(n.name),
      n.interfaces.flatMap((i) => marks.get(ifaceId(n.name, i.name)) ?? []),
    );
  }
  for (const r of plan.routers) {
    const links = r.ports.map((p) => routerLinkId(r.name, p.network));
    for (const l of links) summarize(l);
    summarize(
      `router:${r.name}`,
      links.flatMap((l) => marks.get(l) ?? []),
    );
  }
  for (const lb of plan.loadBalancers) summarize(vipId(lb.name));
  return { lab: report.lab, ok: report.ok ?? roots.length === 0, elements, labWide: lab, roots };
}

/** One line for a finding: "✖ wiring.container web: container-not-running — evidence". */
export function findingLine(f: Finding): string {
  const mark = f.status === 'pass' ? '✔' : f.status === 'warn' ? '!' : '✖';
  const follows = f.followsFrom ? ` (follows from ${f.followsFrom})` : '';
  return `${mark} ${f.check} ${f.subject}${f.cause ? `: ${f.cause}` : ''}${follows}${f.evidence ? ` — ${f.evidence}` : ''}`;
}
