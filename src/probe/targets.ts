/**
 * What the data-plane checks probe, computed from the plan alone (pure, synchronous; unit-tested):
 * - always, the baseline: every ordered pair of nodes that share a routed domain (the same switch, or switches
 *   joined by routers), ICMP, UDP and TCP each, against listeners the doctor starts itself — so both directions are
 *   covered — each expected to pass or to be blocked as the lab's policies say (src/plan/policy-verdict.ts);
 * - on top of it, every `expect` entry (ports, addresses, VIPs, blocked flows): it adds intents, never removes any;
 * - every declared `listen` port no passing entry covers, as a service probe from one node the policies let reach it.
 * Each target carries the logical path (ports, MACs, next hop) the explanation needs for ovn-trace.
 */
import { contains, ipToInt, parseCidr } from '../lab/ipv4.js';
import { PolicyVerdicts } from '../plan/policy-verdict.js';
import type { Plan, PlanInterface, PlanNode } from '../plan/types.js';

export type Proto = 'tcp' | 'udp' | 'icmp';
export type DataplaneCheckId = 'dataplane.icmp' | 'dataplane.udp' | 'dataplane.tcp' | 'dataplane.service';

/** The doctor's own listeners for the mesh: this port, or one of the next DOCTOR_PORT_TRIES if it is taken. */
export const DOCTOR_PORT = 47000;
export const DOCTOR_PORT_TRIES = 9;
/**
 * The ICMP identifier of the doctor's ping sockets (bound to it when free): with the listener ports above, what
 * makes the doctor's own probe traffic recognisable in conntrack (src/probe/conntrack.ts).
 */
export const DOCTOR_ICMP_ID = 47000;

/** One side of a logical path, for ovn-trace. */
export interface PathEnd {
  node: string;
  iface: string;
  lsp: string;
  switch: string;
  mac: string;
  ip: string;
  mtu: number;
  /** L2 destination of packets leaving this end towards the other: the peer's MAC, or the router port's */
  ethDst?: string;
  /** the next hop is a router (the packet crosses a logical router) */
  routed: boolean;
}

export interface Target {
  /** unique within a run */
  key: string;
  check: DataplaneCheckId;
  kind: 'mesh' | 'expect' | 'service';
  from: string;
  /** as written in the lab: a node name or an IPv4 address */
  to: string;
  /** the lab node that owns dstIp, if any */
  toNode?: string;
  /** the router port that owns dstIp, if any */
  toRouterPort?: string;
  dstIp: string;
  proto: Proto;
  /** tcp/udp port; undefined for ICMP and for the mesh (the doctor's port on the target, known once it listens) */
  port?: number;
  /**
   * Who must answer: 'doctor' (the doctor's listener echoes a token), 'node' (the node's own software; the port is
   * declared in `listen`), 'kernel' (ICMP echo), 'none' (an address no listener of ours can serve).
   */
  answer: 'doctor' | 'node' | 'kernel' | 'none';
  expect: 'pass' | 'blocked';
  /** index of the lab's expect entry */
  expectIndex?: number;
  /** mesh and service: the policy (index in plan.policies) whose verdict `expect` is; absent when none matched */
  policy?: number;
  /** mesh: the source address the target's switch sees (differs from fwd.ip after SNAT on a gateway router) */
  srcAddr?: string;
  /** forward path (src → dst) and, when dst is a node, the reverse path its replies take */
  fwd?: PathEnd;
  rev?: PathEnd;
  /** why it is not probed (status skip) */
  skip?: string;
  /** the port the answering listener binds when it differs from `port` (a load balancer's backend port) */
  listenPort?: number;
  /** further nodes that must listen too (every backend of a load-balancer VIP: any of them may answer) */
  alsoListen?: string[];
  /** how dstIp reaches toNode when it is not the node's own address */
  via?: 'nat' | 'vip';
}

export function subjectOf(t: Pick<Target, 'from' | 'to' | 'proto' | 'port' | 'kind'>): string {
  return `${t.from}→${t.to} ${t.proto}${t.port !== undefined && t.kind !== 'mesh' ? `/${t.port}` : ''}`;
}

const CHECK_OF_PROTO: Record<Proto, DataplaneCheckId> = {
  icmp: 'dataplane.icmp',
  udp: 'dataplane.udp',
  tcp: 'dataplane.tcp',
};

export function checkOf(proto: Proto, kind: Target['kind']): DataplaneCheckId {
  if (kind === 'service') return 'dataplane.service';
  return CHECK_OF_PROTO[proto];
}

// ---------------------------------------------------------------- topology

/** Switch name → routed-domain id: switches joined by a router share a domain (union-find). */
export function routedDomains(plan: Plan): Map<string, number> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    for (let i = 0; i < 10_000 && parent.get(r) !== r; i++) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  for (const s of plan.switches) parent.set(s.name, s.name);
  const switchOfNet = new Map(plan.switches.map((s) => [s.network, s.name]));
  for (const r of plan.routers) {
    const sws = r.ports.map((p) => switchOfNet.get(p.network)).filter((x): x is string => !!x);
    for (const s of sws.slice(1)) parent.set(find(s), find(sws[0]!));
  }
  const ids = new Map<string, number>();
  const out = new Map<string, number>();
  for (const s of plan.switches) {
    const root = find(s.name);
    if (!ids.has(root)) ids.set(root, ids.size);
    out.set(s.name, ids.get(root)!);
  }
  return out;
}

/** An interface with an IPv4 address (an IPv6-only one has none; this file probes IPv4). */
export type V4Interface = PlanInterface & { ip: string; prefix: number };
const hasV4 = (i: PlanInterface): i is V4Interface => i.ip !== undefined && i.prefix !== undefined;

function subnetOf(i: V4Interface): { base: number; prefix: number } {
  const p = parseCidr(`${i.ip}/${i.prefix}`);
  if (!p.ok) throw new Error(`bad address ${i.ip}/${i.prefix}`);
  return p.cidr;
}

/** How `node` sends to `ip`: the interface (connected subnet first, then the longest matching route) and next hop. */
export function routeFor(node: PlanNode, ip: string): { iface: V4Interface; via?: string } | undefined {
  const dst = ipToInt(ip);
  const v4 = node.interfaces.filter(hasV4);
  for (const i of v4) if (contains(subnetOf(i), dst)) return { iface: i };
  let best: { iface: V4Interface; via: string; prefix: number } | undefined;
  for (const r of node.routes) {
    if (r.family === 6) continue;
    const prefix = r.dst === 'default' ? 0 : Number(r.dst.split('/')[1] ?? 32);
    const p = r.dst === 'default' ? undefined : parseCidr(r.dst);
    if (p && !(p.ok && contains(p.cidr, dst))) continue;
    const iface = v4.find((i) => i.name === r.dev);
    if (!iface) continue;
    if (!best || prefix > best.prefix) best = { iface, via: r.via, prefix };
  }
  return best ? { iface: best.iface, via: best.via } : undefined;
}

interface Owner {
  node?: PlanNode;
  iface?: PlanInterface;
  routerPort?: { name: string; mac: string; network: string; router: string };
}

/** Which lab object owns an address: a node's interface or a router port. */
export function ownerOf(plan: Plan, ip: string): Owner | undefined {
  for (const n of plan.nodes) for (const i of n.interfaces) if (i.ip === ip) return { node: n, iface: i };
  for (const r of plan.routers)
    for (const p of r.ports)
      for (const net of p.networks)
        if (net.split('/')[0] === ip)
          return { routerPort: { name: p.name, mac: p.mac, network: p.network, router: r.router } };
  return undefined;
}

/**
 * Who answers an address that no node or router port owns, through OVN's translations: a public (NAT) address
 * leads to its internal node; a load-balancer VIP to its backends (for a VIP with a port, only that port).
 */
export function translatedOwner(
  plan: Plan,
  ip: string,
  proto: Proto,
  port: number | undefined,
): { via: 'nat' | 'vip'; nodes: PlanNode[]; port?: number } | undefined {
  for (const r of plan.routers)
    for (const n of r.nat)
      if (n.external === ip && n.node && n.type !== 'snat') {
        const node = plan.nodes.find((x) => x.name === n.node);
        if (node) return { via: 'nat', nodes: [node], ...(port !== undefined ? { port } : {}) };
      }
  for (const lb of plan.loadBalancers) {
    if (lb.vipIp !== ip) continue;
    if (lb.port !== undefined && (proto === 'icmp' || lb.port !== port || lb.protocol !== proto)) continue;
    const nodes = lb.backends.map((b) =>
      plan.nodes.find((n) => n.name === b.node || n.interfaces.some((i) => i.ip === b.ip)),
    );
    if (nodes.some((n) => !n)) return undefined;
    const backendPort = lb.backends[0]?.port ?? port;
    return {
      via: 'vip',
      nodes: nodes as PlanNode[],
      ...(backendPort !== undefined ? { port: backendPort } : {}),
    };
  }
  return undefined;
}

/** The MAC a packet from `iface` to `ip` (next hop `via`, if routed) is addressed to on the wire. */
function l2Dst(plan: Plan, iface: PlanInterface, ip: string, via?: string): string | undefined {
  const hop = via ?? ip;
  const owner = ownerOf(plan, hop);
  if (owner?.iface && owner.iface.switch === iface.switch) return owner.iface.mac;
  if (owner?.routerPort && owner.routerPort.network === iface.network) return owner.routerPort.mac;
  return undefined;
}

/**
 * Path ends and node lookups of one target list. A 50-node mesh asks for the same (node, address) path 6 times
 * (3 protocols, forward and reverse); computing it once — and sharing the one PathEnd object, which nothing
 * changes — is most of why building its 7350 targets allocates ~16 MB instead of ~64 MB (address parsing).
 */
class PathCache {
  private readonly ends = new Map<string, PathEnd | null>();
  private readonly nodes: Map<string, PlanNode>;

  constructor(readonly plan: Plan) {
    this.nodes = new Map(plan.nodes.map((n) => [n.name, n]));
  }

  node(name: string): PlanNode | undefined {
    return this.nodes.get(name);
  }

  pathEnd(node: PlanNode, ip: string): PathEnd | undefined {
    const key = `${node.name}\0${ip}`;
    let end = this.ends.get(key);
    if (end === undefined) {
      end = pathEnd(this.plan, node, ip) ?? null;
      this.ends.set(key, end);
    }
    return end ?? undefined;
  }
}

function pathEnd(plan: Plan, node: PlanNode, ip: string): PathEnd | undefined {
  const r = routeFor(node, ip);
  if (!r) return undefined;
  const ethDst = l2Dst(plan, r.iface, ip, r.via);
  return {
    node: node.name,
    iface: r.iface.name,
    lsp: r.iface.lsp,
    switch: r.iface.switch,
    mac: r.iface.mac,
    ip: r.iface.ip,
    mtu: r.iface.mtu,
    ...(ethDst ? { ethDst } : {}),
    routed: r.via !== undefined,
  };
}

/** The address of `dst` that `src` should use: one on a switch they share, else one in a routed domain they share. */
export function pickAddress(
  plan: Plan,
  src: PlanNode,
  dst: PlanNode,
  domains = routedDomains(plan),
): V4Interface | undefined {
  const srcV4 = src.interfaces.filter(hasV4);
  const dstV4 = dst.interfaces.filter(hasV4);
  const srcSwitches = new Set(srcV4.map((i) => i.switch));
  const same = dstV4.find((i) => srcSwitches.has(i.switch));
  if (same) return same;
  const srcDomains = new Set(srcV4.map((i) => domains.get(i.switch)));
  return dstV4.find((i) => srcDomains.has(domains.get(i.switch)) && routeFor(src, i.ip));
}

function fill(paths: PathCache, t: Omit<Target, 'key' | 'check'> & { key?: string }): Target {
  const src = paths.node(t.from);
  // Object.assign, not { ...t, key, check }: V8 gives every spread clone that later gains a property (fwd, rev,
  // skip below) a hidden class of its own — 7350 maps and descriptor arrays (~4 MB) for a 50-node mesh.
  const target = Object.assign({}, t) as Target;
  target.key = t.key ?? '';
  target.check = checkOf(t.proto, t.kind);
  if (src && !target.skip) {
    const fwd = paths.pathEnd(src, t.dstIp);
    if (fwd) target.fwd = fwd;
    else target.skip = `${t.from} has no route to ${t.dstIp}`;
    const dstNode = t.toNode ? paths.node(t.toNode) : undefined;
    if (dstNode && fwd) {
      const rev = paths.pathEnd(dstNode, fwd.ip);
      if (rev) {
        // the reply leaves through the interface that owns dstIp when that one routes back; pathEnd picked by route
        target.rev = rev;
      }
    }
  }
  // joined, not a template: one flat string instead of a tree of ~10 concatenation nodes per target
  if (!target.key)
    target.key = [target.check, t.kind, `${t.from}>${t.to}`, `${t.proto}/${t.port ?? ''}`, t.expect].join(
      ':',
    );
  return target;
}

// ---------------------------------------------------------------- target lists

/**
 * The source address a packet from `node` to `ip` carries when it is delivered: its interface address, or — when
 * the first router on the way is a gateway router with a NAT rule for that address (dnat_and_snat, or snat of a
 * CIDR holding it) — the rule's public address, as OVN's gateway routers SNAT whatever they route.
 */
export function seenSource(plan: Plan, node: PlanNode, ip: string): string | undefined {
  const r = routeFor(node, ip);
  if (!r) return undefined;
  const src = r.iface.ip;
  if (!r.via) return src;
  const hop = ownerOf(plan, r.via)?.routerPort;
  const router = hop && plan.routers.find((x) => x.router === hop.router);
  if (!router?.chassis || !router.nat.length) return src;
  const n = ipToInt(src);
  let best: { external: string; prefix: number } | undefined;
  for (const nat of router.nat) {
    if (nat.type === 'dnat') continue;
    const c = parseCidr(nat.logical.includes('/') ? nat.logical : `${nat.logical}/32`);
    if (!c.ok || !contains(c.cidr, n)) continue;
    if (!best || c.cidr.prefix > best.prefix) best = { external: nat.external, prefix: c.cidr.prefix };
  }
  return best?.external ?? src;
}

/**
 * Every ordered pair of nodes that share a routed domain, ICMP, UDP and TCP each, expected to pass or to be blocked
 * as the policies decide for the flow the source starts (TCP/UDP at the doctor's listener port).
 */
export function meshTargets(plan: Plan, verdicts = PolicyVerdicts.of(plan)): Target[] {
  const domains = routedDomains(plan);
  const paths = new PathCache(plan);
  const out: Target[] = [];
  for (const a of plan.nodes)
    for (const b of plan.nodes) {
      if (a === b) continue;
      const addr = pickAddress(plan, a, b, domains);
      if (!addr) continue;
      const srcAddr = verdicts.empty ? undefined : seenSource(plan, a, addr.ip);
      for (const proto of ['icmp', 'udp', 'tcp'] as const) {
        const v = srcAddr
          ? verdicts.verdict({
              srcIp: srcAddr,
              dstNode: b.name,
              dstIp: addr.ip,
              proto,
              ...(proto === 'icmp' ? {} : { port: DOCTOR_PORT }),
            })
          : undefined;
        out.push(
          fill(paths, {
            kind: 'mesh',
            from: a.name,
            to: b.name,
            toNode: b.name,
            dstIp: addr.ip,
            proto,
            answer: proto === 'icmp' ? 'kernel' : 'doctor',
            expect: v?.result ?? 'pass',
            ...(v?.policy ? { policy: v.policy.index } : {}),
            ...(srcAddr ? { srcAddr } : {}),
          }),
        );
      }
    }
  return out;
}

/**
 * A mesh target's verdict at the port its listener actually got (the doctor's port may have been taken and a
 * fallback used): the same target when nothing changes, else a copy with the new expectation.
 */
export function meshAtPort(target: Target, port: number, verdicts: PolicyVerdicts): Target {
  if (target.kind !== 'mesh' || target.proto === 'icmp' || port === DOCTOR_PORT || !target.srcAddr)
    return target;
  const v = verdicts.verdict({
    srcIp: target.srcAddr,
    dstIp: target.dstIp,
    proto: target.proto,
    port,
    ...(target.toNode ? { dstNode: target.toNode } : {}),
  });
  if (v.result === target.expect && v.policy?.index === target.policy) return target;
  const copy: Target = Object.assign({}, target, { expect: v.result });
  if (v.policy) copy.policy = v.policy.index;
  else delete copy.policy;
  return copy;
}

/** Is `ip` inside one of the lab's subnets? */
function inLab(plan: Plan, ip: string): boolean {
  const n = ipToInt(ip);
  return plan.switches.some((s) => {
    const p = s.subnet ? parseCidr(s.subnet) : undefined;
    return !!p?.ok && contains(p.cidr, n);
  });
}

export function expectTargets(plan: Plan): Target[] {
  const domains = routedDomains(plan);
  const paths = new PathCache(plan);
  return plan.expect.map((e, i) => {
    const src = plan.nodes.find((n) => n.name === e.from);
    const base = {
      kind: 'expect' as const,
      from: e.from,
      to: e.to,
      proto: e.proto,
      expect: e.result,
      expectIndex: i,
      ...(e.port !== undefined ? { port: e.port } : {}),
    };
    const key = `expect:${i}`;
    if (!src)
      return fill(paths, {
        ...base,
        key,
        dstIp: e.to,
        answer: 'none',
        skip: `${e.from} is not a node of this lab`,
      });
    const dstNode = plan.nodes.find((n) => n.name === e.to);
    let dstIp: string;
    let toNode: PlanNode | undefined = dstNode;
    let toRouterPort: string | undefined;
    if (dstNode) {
      const addr = pickAddress(plan, src, dstNode, domains);
      if (!addr)
        return fill(paths, {
          ...base,
          key,
          toNode: dstNode.name,
          dstIp: dstNode.interfaces[0]?.ip ?? '',
          answer: 'none',
          skip: `${e.from} and ${e.to} share no network or router`,
        });
      dstIp = addr.ip;
    } else {
      dstIp = e.to;
      // an IPv6 target: this IPv4 path model cannot place it (the IPv6 data plane probes it; docs/ipv6.md)
      if (e.to.includes(':'))
        return fill(paths, { ...base, key, dstIp, answer: 'none', skip: `${e.to} is an IPv6 address` });
      const owner = ownerOf(plan, e.to);
      toNode = owner?.node;
      toRouterPort = owner?.routerPort?.name;
      const translated = owner ? undefined : translatedOwner(plan, e.to, e.proto, e.port);
      if (translated) {
        // A public address or a VIP: the probe goes to the address, the node(s) behind it answer.
        const [first, ...rest] = translated.nodes;
        const listenPort = translated.port;
        const declared = translated.nodes.every((n) =>
          n.listen.some((l) => l.proto === e.proto && l.port === listenPort),
        );
        return fill(paths, {
          ...base,
          key,
          dstIp,
          toNode: first!.name,
          via: translated.via,
          answer: e.proto === 'icmp' ? 'kernel' : declared ? 'node' : 'doctor',
          ...(listenPort !== undefined && listenPort !== e.port ? { listenPort } : {}),
          ...(rest.length ? { alsoListen: rest.map((n) => n.name) } : {}),
        });
      }
      if (!owner && !inLab(plan, e.to))
        return fill(paths, {
          ...base,
          key,
          dstIp,
          answer: 'none',
          skip: `${e.to} is not an address of this lab: the doctor sends traffic only inside the lab`,
        });
    }
    let answer: Target['answer'];
    if (e.proto === 'icmp') answer = 'kernel';
    else if (!toNode) answer = 'none';
    else answer = toNode.listen.some((l) => l.proto === e.proto && l.port === e.port) ? 'node' : 'doctor';
    return fill(paths, {
      ...base,
      key,
      dstIp,
      answer,
      ...(toNode ? { toNode: toNode.name } : {}),
      ...(toRouterPort ? { toRouterPort } : {}),
    });
  });
}

/**
 * Every declared `listen` port no passing expect entry covers: probed from one node that can reach it — one the
 * policies let start that connection and no expect entry says is blocked.
 */
export function serviceTargets(plan: Plan, covered: Target[], verdicts = PolicyVerdicts.of(plan)): Target[] {
  const domains = routedDomains(plan);
  const paths = new PathCache(plan);
  const out: Target[] = [];
  for (const t of plan.nodes)
    for (const l of t.listen) {
      const isCovered = covered.some(
        (c) =>
          c.toNode === t.name && c.proto === l.proto && c.port === l.port && c.expect === 'pass' && !c.skip,
      );
      if (isCovered) continue;
      const blocked = new Set(
        plan.expect
          .filter(
            (e) =>
              e.to === t.name &&
              e.result === 'blocked' &&
              (e.proto === l.proto || e.proto === 'icmp') &&
              (e.port === undefined || e.port === l.port),
          )
          .map((e) => e.from),
      );
      const friends = new Set(
        plan.expect.filter((e) => e.to === t.name && e.result === 'pass').map((e) => e.from),
      );
      const tSwitches = new Set(t.interfaces.map((i) => i.switch));
      const allowed = (s: PlanNode) => {
        const addr = pickAddress(plan, s, t, domains);
        if (!addr) return false;
        if (verdicts.empty) return true;
        const srcIp = seenSource(plan, s, addr.ip);
        return (
          !!srcIp &&
          verdicts.verdict({ srcIp, dstNode: t.name, dstIp: addr.ip, proto: l.proto, port: l.port })
            .result === 'pass'
        );
      };
      const candidates = plan.nodes
        .filter((s) => s !== t && !blocked.has(s.name) && allowed(s))
        .map((s, order) => ({
          s,
          order,
          rank: (friends.has(s.name) ? 0 : 2) + (s.interfaces.some((i) => tSwitches.has(i.switch)) ? 0 : 1),
        }))
        .sort((a, b) => a.rank - b.rank || a.order - b.order);
      const src = candidates[0]?.s;
      const base = {
        kind: 'service' as const,
        to: t.name,
        toNode: t.name,
        proto: l.proto,
        port: l.port,
        answer: 'node' as const,
        expect: 'pass' as const,
      };
      if (!src) {
        out.push(
          fill(paths, {
            ...base,
            from: t.name,
            dstIp: t.interfaces[0]?.ip ?? '',
            skip: `no other node can reach ${t.name} to probe ${l.proto}/${l.port}${verdicts.empty ? '' : ' (or the policies block every one that could)'}`,
          }),
        );
        continue;
      }
      out.push(fill(paths, { ...base, from: src.name, dstIp: pickAddress(plan, src, t, domains)!.ip }));
    }
  return out;
}

/**
 * Everything a doctor run probes, in a stable order: the mesh (the baseline, with the policies' verdicts), the
 * expect entries on top, then the services. A mesh ICMP probe that an expect entry repeats exactly (same source,
 * address and expectation) is left out: it would send the same packets twice. (Mesh TCP/UDP go to the doctor's
 * port, which an entry never names.)
 */
export function planTargets(plan: Plan): Target[] {
  const verdicts = PolicyVerdicts.of(plan);
  const mesh = meshTargets(plan, verdicts);
  const expected = expectTargets(plan);
  const repeated = new Set(
    expected
      .filter((t) => t.proto === 'icmp' && !t.skip && !t.via)
      .map((t) => `${t.from}>${t.dstIp}>${t.expect}`),
  );
  const main = [
    ...(repeated.size
      ? mesh.filter((t) => t.proto !== 'icmp' || !repeated.has(`${t.from}>${t.dstIp}>${t.expect}`))
      : mesh),
    ...expected,
  ];
  return [...main, ...serviceTargets(plan, main, verdicts)];
}

/** Listeners the doctor must start, per node: the mesh port (with fallbacks) and expected ports nobody declares. */
export function listenersFor(
  targets: Target[],
): Map<string, { proto: 'tcp' | 'udp'; port: number; tries: number }[]> {
  const out = new Map<string, { proto: 'tcp' | 'udp'; port: number; tries: number }[]>();
  const add = (node: string, proto: 'tcp' | 'udp', port: number, tries: number) => {
    const list = out.get(node) ?? [];
    if (!list.some((l) => l.proto === proto && l.port === port)) list.push({ proto, port, tries });
    out.set(node, list);
  };
  for (const t of targets) {
    if (t.skip || t.answer !== 'doctor' || !t.toNode || t.proto === 'icmp') continue;
    if (t.kind === 'mesh') add(t.toNode, t.proto, DOCTOR_PORT, DOCTOR_PORT_TRIES);
    else if (t.port !== undefined)
      for (const n of [t.toNode, ...(t.alsoListen ?? [])]) add(n, t.proto, t.listenPort ?? t.port, 0);
  }
  return out;
}
