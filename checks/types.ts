/**
 * The doctor's contract: a Check has an id, a layer and a run function returning results with status, cause,
 * evidence and fix (design.md "Doctor report"). Checks never report a pass they did not measure: anything that
 * could not be run is status "error".
 */
import type { HostDriver } from '../src/drivers/host.js';
import type { OvnDriver } from '../src/drivers/ovn.js';
import type { Plan } from '../src/plan/types.js';

export type Layer = 'host' | 'wiring' | 'dataplane';
export const LAYERS: Layer[] = ['host', 'wiring', 'dataplane'];

export type Status = 'pass' | 'fail' | 'warn' | 'skip' | 'error';

/** Stable cause codes (design.md): add new ones, never rename. */
export const CAUSES = [
  'docker-unreachable',
  'ovsdb-down',
  'ovs-vswitchd-down',
  'ovn-northd-down',
  'ovn-controller-down',
  'sb-disconnected',
  'chassis-not-registered',
  'chassis-id-mismatch',
  'encap-missing',
  'datapath-unsupported',
  'container-not-running',
  'link-missing',
  'link-down',
  'iface-id-mismatch',
  'lsp-missing',
  'port-unbound',
  'address-mismatch',
  'checksum-offload',
  'mtu-mismatch',
  'acl-drop',
  'no-listener',
  'stale-conntrack',
  'unexpected-reachability',
  // added with the host layer and the wiring routes check (docs/host.md, docs/doctor.md)
  'ovn-nb-down',
  'ovn-sb-down',
  'bridge-missing',
  'tools-missing',
  'not-root',
  'route-missing',
  // added with the doctor's probe pacing (docs/probes.md "Pacing")
  'neigh-table-full',
  // added with link impairments (docs/impairments.md): an impaired interface's relay is not as planned
  'impair-mismatch',
] as const;
export type Cause = (typeof CAUSES)[number];

export interface CheckResult {
  /** check id, e.g. "dataplane.tcp" */
  id: string;
  layer: Layer;
  /** what was checked, e.g. "client→web tcp/80" or "web.eth1" */
  subject: string;
  status: Status;
  cause?: Cause;
  /** what was measured: the counter, the trace stage, the OVSDB value seen vs expected */
  evidence?: string;
  /** the exact command that fixes it */
  fix?: string;
  /** for a symptom: "<id> <subject>" of the root-cause result it follows from */
  followsFrom?: string;
  /** machine-readable measurements (probe outcome, latency, counters) */
  data?: Record<string, unknown>;
}

export interface CheckContext {
  plan: Plan;
  host: HostDriver;
  ovn: OvnDriver;
}

export interface Check<C extends CheckContext = CheckContext> {
  id: string;
  layer: Layer;
  title: string;
  run(ctx: C): Promise<CheckResult[]>;
  /** this check's time limit in this context, ms (default: the runner's, 120 s) */
  timeoutMs?(ctx: C): number;
  /** apply the safe fix for a failed result; returns a line saying what changed */
  fix?(ctx: C, result: CheckResult): Promise<string | undefined>;
}
