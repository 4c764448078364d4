/**
 * The doctor's contract: a Check has an id, a layer and a run function returning results with status, cause,
 * evidence and fix (design.md "Doctor report"). Checks never report a pass they did not measure: anything that
 * could not be run is status "error". This lives in src/ so that what produces results (src/probe, src/host) and
 * the checks that gather them (checks/) both depend on it, and not on each other.
 */
import type { HostDriver } from '../drivers/host.js';
import type { OvnDriver } from '../drivers/ovn.js';
import type { Plan } from '../plan/types.js';
import type { Cause } from './causes.js';

export type { Cause } from './causes.js';
export { CAUSES } from './causes.js';

export type Layer = 'host' | 'wiring' | 'dataplane';
export const LAYERS: Layer[] = ['host', 'wiring', 'dataplane'];

export type Status = 'pass' | 'fail' | 'warn' | 'skip' | 'error';

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
  /**
   * multi-chassis labs: the driver of a plan host (a chassis: its netns's links, its own OVS), so checks read and
   * fix a node's host side where it is; absent: every node is on `host`
   */
  hostOf?: (host: string) => HostDriver;
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
