/**
 * The data of one data-plane run (docs/probes.md "A run"): what session.ts measures and hands to the explanation
 * (evidence.ts gathers, verdict.ts decides, results.ts builds the check results). Types only.
 */

import type { CheckContext, CheckResult } from '../doctor/types.js';
import type { DropSnapshot, NeighTable } from '../drivers/datapath-drops.js';
import type { NbLabState } from '../drivers/ovn.js';
import type { Plan } from '../plan/types.js';
import type { BrokerFailure } from './fleet.js';
import type { PacerStats } from './pace.js';
import type { ListenerState, ProbeResult } from './protocol.js';
import type { DataplaneCheckId, Target } from './targets.js';

/** What a context may offer beyond the contract: the doctor runner's memoized facts (checks/facts.ts). */
export interface MaybeFacts {
  facts?: {
    pid(node: string): Promise<number | undefined>;
    txOffload(node: string, iface: string): Promise<boolean | undefined>;
    nsState(node: string): Promise<{ links: { name: string; mtu: number }[] }>;
    /** the lab's NB rows */
    nb?(): Promise<NbLabState>;
  };
  labFile?: string;
  /** --fix only: converge the whole lab to its plan (what `labctl up` does), once per fix pass */
  converge?: () => Promise<string[]>;
}
export type DataplaneContext = CheckContext & MaybeFacts;

export interface ProbeRecord {
  target: Target;
  subject: string;
  /** the tcp/udp port probed (mesh: the doctor's listener port on the target) */
  port?: number;
  /** who had to answer (a doctor listener that found its port taken turns into 'node': something else serves it) */
  answer: Target['answer'];
  /** the doctor's listener on the target, when it had one */
  listener?: ListenerState;
  /** final verdict */
  result?: ProbeResult;
  /** first attempt, when the probe was retried */
  first?: ProbeResult;
  attempts: number;
  /** ICMP: the don't-fragment ping of (source MTU − 28; IPv6: − 48) bytes after a small ping passed */
  big?: ProbeResult;
  /** TCP/UDP failures: an ICMP echo over the same path, for contrast */
  icmp?: ProbeResult;
  /** why it did not run at all (status error or skip) */
  notRun?: { status: 'error' | 'skip'; why: string };
}

export interface NodeCounters {
  before?: Record<string, number>;
  after?: Record<string, number>;
}

export interface DataplaneRun {
  plan: Plan;
  records: ProbeRecord[];
  counters: Map<string, NodeCounters>;
  pids: Map<string, number>;
  mode: string;
  icmp: Map<string, 'socket' | 'ping'>;
  /** nodes with IPv6: how their ICMPv6 probes ran */
  icmp6?: Map<string, 'socket' | 'ping'>;
  timings: Record<string, number>;
  results: Map<DataplaneCheckId, CheckResult[]>;
  /** how the probes were paced (pace.ts) */
  pacing: Pacing;
  /** the datapath's and the host's drop counters before the first probe and after the re-probes */
  drops?: { before: DropSnapshot; after: DropSnapshot; neigh?: NeighTable };
  /** brokers that could not start, and why (their nodes got local agents, or none) */
  brokerFailures?: BrokerFailure[];
  /** the host's neighbour table could not hold the pairs of this run at once */
  neighShort?: { table: NeighTable; pairs: number; room: number; present: number; unprobed?: number };
}

export interface Pacing {
  first?: PacerStats;
  reprobe?: PacerStats & { count: number };
  /** ms the run waited for room in the host's neighbour table */
  neighWaitMs?: number;
  /** new pairs allowed per 7 s by the neighbour table's room (null: no bound) */
  neighPairsPerWindow?: number | null;
}
