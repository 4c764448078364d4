/**
 * The probe agent's wire protocol: newline-delimited JSON over the agent's stdin (requests) and stdout (responses).
 * Every request carries a numeric id; exactly one response with the same id answers it, in any order. This file is
 * types and constants only; the agent imports nothing at run time, so it starts fast and needs nothing but node.
 *
 * The agent runs in one of two modes (docs/probes.md):
 * - local: started inside one node's network namespace (`nsenter -t PID -n node agent.js`); it makes its own sockets
 *   and starts listeners on request ("listen").
 * - broker: started at the end of a chain of tiny per-netns steps (nsenter + perl) that each opened the sockets one
 *   node needs inside that node's namespace and passed them on by exec; LABCTL_MANIFEST says which fd is what. One
 *   node process then serves the probes of many nodes; "node" in a request says which node's sockets to use.
 *
 * Requests                                                Responses
 *   {id, op:"hello"}                                       {id, ok:true, hello:{pid, mode, node, nodes:[...]}}
 *   {id, op:"listen", proto:"tcp"|"udp", port, tries?, dual?}  {id, ok:true, port} | {id, ok:false, code:"EADDRINUSE", error}
 *     (dual: one AF_INET6 socket on :: that answers IPv4 and IPv6)
 *   {id, op:"unlisten", proto, port}                       {id, ok:true}
 *   {id, op:"probe", node?, probe:{proto, ip, port?, ...}} {id, ok:true, result:{outcome, ms, ...}}
 *   {id, op:"counters", node?}                             {id, ok:true, counters:{TcpInCsumErrors: n, ...}}
 *   {id, op:"stop"}                                        {id, ok:true}, then the agent exits
 * A request the agent cannot parse or run answers {id, ok:false, error} (id -1 when the line was not JSON).
 * The agent exits when its stdin closes, on "stop", and when its lifetime limit passes.
 */

export type Proto = 'tcp' | 'udp' | 'icmp';

/**
 * What one probe saw.
 * - pass: a response came back (TCP: connected and, when a token was sent, the token came back; UDP: the token came
 *   back; ICMP: an echo reply carrying the token came back).
 * - refused: TCP RST (nothing listens) or, on a connected UDP socket, ICMP port-unreachable.
 * - timeout: nothing came back within the time limit (dropped somewhere).
 * - unreachable: an ICMP host/network unreachable error, or no route.
 * - mismatch: something answered, but not with the doctor's token (another program answered, or the data was cut).
 * - error: the probe could not run (bad argument, out of sockets, ping missing, ...): never a network verdict.
 */
export type Outcome = 'pass' | 'refused' | 'timeout' | 'unreachable' | 'mismatch' | 'error';

export interface ProbeSpec {
  proto: Proto;
  /** an IPv4 or IPv6 address: the family of the probe (ICMPv6, AF_INET6 sockets) follows from it */
  ip: string;
  /** tcp/udp destination port */
  port?: number;
  /** total time allowed for the probe, ms (clamped to 50..10000) */
  timeoutMs: number;
  /** TCP: sent after connecting and must come back; without it TCP passes on connect. UDP/ICMP: the payload. */
  token?: string;
  /** ICMP payload size in bytes (default 56, like ping); with df the packet must not be fragmented */
  size?: number;
  df?: boolean;
  /**
   * ICMP: send from an ICMP socket of its own (a `ping` process) instead of the node's shared one. For an address
   * OVN translates (a VIP): its conntrack entry, after DNAT, has the same reply tuple as a direct ping of the
   * backend from the same ICMP identifier, so one of the two would fail to commit and be dropped.
   */
  ownSocket?: boolean;
}

export interface ProbeResult {
  outcome: Outcome;
  /** time until the verdict (for pass: the round trip of the response), ms */
  ms: number;
  /** how far a TCP probe got: 'connect' (handshake) or 'token' (data exchange) */
  stage?: 'connect' | 'token';
  /** errno code behind refused/unreachable/error, or "ping exit 1" */
  code?: string;
  /** what answered, e.g. "10.0.1.10:80" or the ICMP error's sender */
  from?: string;
  detail?: string;
  /** datagrams/echo requests sent (UDP and ICMP retransmit within the time limit) */
  sent?: number;
}

export interface ListenerState {
  proto: 'tcp' | 'udp';
  /** the port asked for */
  want: number;
  /** the port bound (want, or a later one when want was taken and tries allowed it) */
  port?: number;
  /** errno name when no port could be bound, e.g. EADDRINUSE */
  code?: string;
}

export interface NodeState {
  node: string;
  /** the container's init PID (broker mode), or this agent's own PID (local mode) */
  pid: number;
  /** 'socket': ICMP through a datagram ICMP socket of that netns; 'ping': a ping process per ICMP probe */
  icmp: 'socket' | 'ping';
  /** the same for ICMPv6 (absent from agents that predate it) */
  icmp6?: 'socket' | 'ping';
  listeners: ListenerState[];
  /** client sockets still unused (broker mode; local mode makes sockets on demand and reports -1) */
  tcp: number;
  udp: number;
  /** AF_INET6 client sockets still unused */
  tcp6?: number;
  udp6?: number;
  /** why a socket the manifest asked for is missing, e.g. "tcp: EMFILE" */
  errors: string[];
}

export interface Hello {
  pid: number;
  mode: 'local' | 'broker';
  node: string;
  nodes: NodeState[];
}

export type Request =
  | { id: number; op: 'hello' }
  | { id: number; op: 'listen'; proto: 'tcp' | 'udp'; port: number; tries?: number; dual?: boolean }
  | { id: number; op: 'unlisten'; proto: 'tcp' | 'udp'; port: number }
  | { id: number; op: 'probe'; node?: string; probe: ProbeSpec }
  | { id: number; op: 'counters'; node?: string }
  | { id: number; op: 'stop' };

export type Response =
  | {
      id: number;
      ok: true;
      hello?: Hello;
      port?: number;
      result?: ProbeResult;
      counters?: Record<string, number>;
    }
  | { id: number; ok: false; error: string; code?: string };

/** The inherited datagram ICMP socket of a local-mode agent. */
export const ICMP_FD_ENV = 'LABCTL_ICMP_FD';
/** Its ICMPv6 twin. */
export const ICMP6_FD_ENV = 'LABCTL_ICMP6_FD';
/** Broker mode: which inherited fd belongs to which node (format in agent.ts parseManifest). */
export const MANIFEST_ENV = 'LABCTL_MANIFEST';
/** The agent's hard lifetime limit in ms: it exits after that whatever happens. */
export const LIFETIME_ENV = 'LABCTL_AGENT_LIFETIME_MS';
/** How many probes one node's sockets run at once. */
export const CONCURRENCY_ENV = 'LABCTL_AGENT_CONCURRENCY';
/** How many probes one agent process runs at once, over all its nodes. */
export const GLOBAL_CONCURRENCY_ENV = 'LABCTL_AGENT_GLOBAL_CONCURRENCY';
