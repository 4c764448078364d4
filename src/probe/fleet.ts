/**
 * The fleet of probe agents of one data-plane run (docs/probes.md), one API over both ways of starting them
 * (launch.ts): ProbeFleet → one Endpoint per node.
 * - broker (default when perl is on the host; Debian's perl-base is Essential): nodes are split over a few broker
 *   processes (one per core, at most 4) so the probing itself runs on every core;
 * - local: one agent per node. Simple, but node start-up costs ~130 ms of CPU here, which is most of the time
 *   budget of a 50-node mesh on 2 cores.
 * If a broker cannot start, its nodes fall back to local agents, and the fleet says why (brokerFailures).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { which } from '../exec.js';
import { AgentError, type ProbeAgent } from './agent-process.js';
import {
  AGENT_CONCURRENCY,
  AGENT_GLOBAL_CONCURRENCY,
  type AgentOptions,
  startAgent,
  startBroker,
} from './launch.js';
import type { Hello, ListenerState, NodeState, ProbeResult, ProbeSpec } from './protocol.js';

/** What one node needs from the fleet. */
export interface NodeNeeds {
  node: string;
  /** PID of a process in the node's network namespace (the container's init) */
  pid: number;
  /** listeners the doctor serves in that node: want port, and how many ports above it to try when it is taken */
  listen?: { proto: 'tcp' | 'udp'; port: number; tries?: number }[];
  /** client sockets for TCP / UDP probes from this node (broker mode opens exactly these; one per probe) */
  tcp?: number;
  udp?: number;
  /** the same over IPv6 (AF_INET6 sockets) */
  tcp6?: number;
  udp6?: number;
  /** the node has IPv6: an ICMPv6 socket, and listeners on :: that answer both families */
  v6?: boolean;
}

/** A client socket's kind: protocol and family. */
export type SockKind = 'tcp' | 'udp' | 'tcp6' | 'udp6';

/** The kind of client socket a probe to `ip` takes (IPv6: an address with a colon). */
export function sockKind(proto: 'tcp' | 'udp', ip: string): SockKind {
  return ip.includes(':') ? `${proto}6` : proto;
}

interface Slot {
  agent: ProbeAgent;
  /** unused client sockets in that agent (broker); Infinity for a local agent */
  tcp: number;
  udp: number;
  tcp6: number;
  udp6: number;
  icmp: boolean;
  icmp6: boolean;
}

/** One node's view: its listeners, and probes from it. */
export class Endpoint {
  readonly slots: Slot[] = [];
  listeners: ListenerState[] = [];
  icmp: 'socket' | 'ping' = 'ping';
  icmp6: 'socket' | 'ping' = 'ping';
  errors: string[] = [];
  mode: 'local' | 'broker' = 'local';
  /** how many nodes' probes the agent of this node's first slot runs (a broker serves a group of nodes) */
  share = 1;

  constructor(
    readonly node: string,
    readonly pid: number,
  ) {}

  listener(proto: 'tcp' | 'udp', want: number): ListenerState | undefined {
    return this.listeners.find((l) => l.proto === proto && l.want === want);
  }

  /** Run a probe from this node. Never rejects. */
  probe(spec: ProbeSpec): Promise<ProbeResult> {
    const v6 = spec.ip.includes(':');
    const kind = spec.proto === 'icmp' ? undefined : sockKind(spec.proto, spec.ip);
    const slot =
      kind === undefined
        ? (this.slots.find((s) => (v6 ? s.icmp6 : s.icmp) && s.agent.alive) ??
          this.slots.find((s) => s.agent.alive))
        : this.slots.find((s) => s.agent.alive && s[kind] > 0);
    if (!slot)
      return Promise.resolve({
        outcome: 'error',
        ms: 0,
        code: 'ENOSOCK',
        detail: `no ${kind ?? spec.proto} socket left for ${this.node}`,
      });
    if (kind !== undefined) slot[kind] -= 1;
    return slot.agent.probe(spec, this.mode === 'broker' ? this.node : undefined);
  }

  async counters(): Promise<Record<string, number> | undefined> {
    for (const s of this.slots) {
      if (!s.agent.alive) continue;
      const c = await s.agent.counters(this.mode === 'broker' ? this.node : undefined);
      if (c) return c;
    }
    return undefined;
  }

  /** TCP / UDP probes this node can still start. */
  capacity(proto: SockKind): number {
    return this.slots.filter((s) => s.agent.alive).reduce((n, s) => n + s[proto], 0);
  }
}

/** Soft limit on open files of this process (children inherit it; node raises it to the hard limit at start). */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    // not Linux?
  }
  return 1024;
}

/** Split nodes into k groups of about equal socket counts (greedy, largest first). */
function balance(nodes: NodeNeeds[], k: number): NodeNeeds[][] {
  const groups: { load: number; nodes: NodeNeeds[] }[] = Array.from({ length: k }, () => ({
    load: 0,
    nodes: [],
  }));
  const weight = (n: NodeNeeds) =>
    4 + ((n.tcp ?? 0) + (n.tcp6 ?? 0)) * 2 + (n.udp ?? 0) + (n.udp6 ?? 0) + (n.listen?.length ?? 0);
  for (const n of [...nodes].sort((a, b) => weight(b) - weight(a))) {
    const g = groups.reduce((a, b) => (b.load < a.load ? b : a));
    g.nodes.push(n);
    g.load += weight(n);
  }
  return groups.map((g) => g.nodes).filter((g) => g.length);
}

/** A broker that could not start: for which nodes, why, and what its nodes got instead. */
export interface BrokerFailure {
  nodes: string[];
  error: string;
  fallback: 'local' | 'none';
}

export class ProbeFleet {
  readonly endpoints = new Map<string, Endpoint>();
  readonly failed = new Map<string, AgentError>();
  readonly agents: ProbeAgent[] = [];
  /** brokers that could not start (their nodes fell back to local agents, or failed), and why */
  readonly brokerFailures: BrokerFailure[] = [];
  /** how the agents were started: 'broker', 'local', or 'mixed' after a broker fell back */
  mode: 'broker' | 'local' | 'mixed' = 'local';

  private constructor(private readonly opts: AgentOptions) {}

  /** Start agents for all nodes in parallel; a node whose agent cannot start lands in `failed`. */
  static async start(nodes: NodeNeeds[], opts: AgentOptions = {}): Promise<ProbeFleet> {
    const fleet = new ProbeFleet(opts);
    const want = opts.mode ?? 'auto';
    const perl = which('perl');
    if (want === 'broker' && !perl) throw new Error('broker mode needs perl on the host');
    if (want !== 'local' && perl && nodes.length) {
      fleet.mode = 'broker';
      const fellBack = await fleet.startBrokers(nodes, true);
      if (fellBack.length) {
        fleet.mode = 'mixed';
        await fleet.startLocal(fellBack);
      }
    } else {
      fleet.mode = 'local';
      await fleet.startLocal(nodes);
    }
    return fleet;
  }

  /**
   * Make sure each node can start at least `tcp`/`udp` more probes (broker mode opens a client-only broker for the
   * shortfall; local agents make sockets on demand). Returns nodes that could not get them.
   */
  async ensureCapacity(needs: ({ node: string } & Partial<Record<SockKind, number>>)[]): Promise<string[]> {
    const short: NodeNeeds[] = [];
    for (const n of needs) {
      const ep = this.endpoints.get(n.node);
      if (!ep) continue;
      const tcp = Math.max(0, (n.tcp ?? 0) - ep.capacity('tcp'));
      const udp = Math.max(0, (n.udp ?? 0) - ep.capacity('udp'));
      const tcp6 = Math.max(0, (n.tcp6 ?? 0) - ep.capacity('tcp6'));
      const udp6 = Math.max(0, (n.udp6 ?? 0) - ep.capacity('udp6'));
      if (tcp || udp || tcp6 || udp6)
        short.push({
          node: n.node,
          pid: ep.pid,
          tcp,
          udp,
          ...(tcp6 ? { tcp6 } : {}),
          ...(udp6 ? { udp6 } : {}),
        });
    }
    if (!short.length) return [];
    const failed = await this.startBrokers(short, false);
    return failed.map((n) => n.node);
  }

  /** Returns the nodes whose broker could not start. */
  private async startBrokers(nodes: NodeNeeds[], first: boolean): Promise<NodeNeeds[]> {
    const totalFds = nodes.reduce(
      (n, x) => n + (x.tcp ?? 0) + (x.udp ?? 0) + (x.tcp6 ?? 0) + (x.udp6 ?? 0) + (x.listen?.length ?? 0) + 2,
      0,
    );
    const perBroker = Math.max(256, openFileLimit() - 512);
    const cores = Math.min(4, Math.max(1, availableParallelism()));
    const k = Math.min(
      nodes.length,
      Math.max(
        Math.min(this.opts.brokers ?? cores, Math.ceil(nodes.length / 4)),
        Math.ceil(totalFds / perBroker),
      ),
    );
    const groups = balance(nodes, Math.max(1, k));
    const fellBack: NodeNeeds[] = [];
    await Promise.all(
      groups.map(async (group, gi) => {
        const label = `broker ${this.agents.length + gi + 1} (${group.map((n) => n.node).join(', ')})`;
        let agent: ProbeAgent;
        let hello: Hello;
        try {
          ({ agent, hello } = await startBroker(
            label,
            group.map(({ v6, ...n }) => ({
              ...n,
              icmp: first,
              ...(v6 ? { icmp6: first, dual: true } : {}),
            })),
            this.opts,
          ));
        } catch (e) {
          // not silently: the run reports why these nodes got local agents instead (session.ts)
          this.brokerFailures.push({
            nodes: group.map((n) => n.node),
            error: e instanceof AgentError ? e.message : `${label}: ${(e as Error).message}`,
            // the first start falls back to local agents; a re-probe broker's nodes keep the sockets they have
            fallback: first ? 'local' : 'none',
          });
          fellBack.push(...group);
          return;
        }
        this.agents.push(agent);
        const byNode = new Map(hello.nodes.map((n) => [n.node, n]));
        for (const n of group) {
          const st: NodeState | undefined = byNode.get(n.node);
          if (!st) {
            fellBack.push(n);
            continue;
          }
          const ep = this.endpoint(n.node, n.pid);
          ep.mode = 'broker';
          if (first) ep.share = group.length;
          ep.slots.push({
            agent,
            tcp: Math.max(0, st.tcp),
            udp: Math.max(0, st.udp),
            tcp6: Math.max(0, st.tcp6 ?? 0),
            udp6: Math.max(0, st.udp6 ?? 0),
            icmp: st.icmp === 'socket',
            icmp6: st.icmp6 === 'socket',
          });
          if (first) {
            ep.listeners = st.listeners;
            ep.icmp = st.icmp;
            ep.icmp6 = st.icmp6 ?? 'ping';
          }
          ep.errors.push(...st.errors);
        }
      }),
    );
    return fellBack;
  }

  private async startLocal(nodes: NodeNeeds[]): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        let agent: ProbeAgent;
        try {
          agent = await startAgent(n.node, n.pid, this.opts);
        } catch (e) {
          this.failed.set(n.node, e instanceof AgentError ? e : new AgentError(n.node, (e as Error).message));
          return;
        }
        this.agents.push(agent);
        const ep = this.endpoint(n.node, n.pid);
        ep.mode = 'local';
        ep.slots.unshift({
          agent,
          tcp: Number.POSITIVE_INFINITY,
          udp: Number.POSITIVE_INFINITY,
          tcp6: Number.POSITIVE_INFINITY,
          udp6: Number.POSITIVE_INFINITY,
          icmp: agent.hello?.nodes[0]?.icmp === 'socket',
          icmp6: agent.hello?.nodes[0]?.icmp6 === 'socket',
        });
        ep.icmp = agent.hello?.nodes[0]?.icmp ?? 'ping';
        ep.icmp6 = agent.hello?.nodes[0]?.icmp6 ?? 'ping';
        ep.listeners = await Promise.all(
          (n.listen ?? []).map((l) => agent.listen(l.proto, l.port, l.tries ?? 0, !!n.v6)),
        );
      }),
    );
  }

  /**
   * How many probes from `node` to keep in flight: a quarter more than its fair share of its agent's concurrency
   * (per node, and per process split over the nodes the process serves), so the agent always has work queued, but
   * no request waits seconds in the agent's queue holding its promise and protocol line.
   */
  window(node: string): number {
    const perNode = this.opts.concurrency ?? AGENT_CONCURRENCY;
    const perProcess = this.opts.globalConcurrency ?? AGENT_GLOBAL_CONCURRENCY;
    const share = Math.max(1, this.endpoints.get(node)?.share ?? 1);
    return Math.max(4, Math.ceil(1.25 * Math.min(perNode, perProcess / share)));
  }

  private endpoint(node: string, pid: number): Endpoint {
    let ep = this.endpoints.get(node);
    if (!ep) {
      ep = new Endpoint(node, pid);
      this.endpoints.set(node, ep);
    }
    return ep;
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}
