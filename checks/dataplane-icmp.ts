/**
 * ICMP echo for every expected pair (every pair of a routed domain without expect), then a don't-fragment ping of the source MTU − 28 bytes: small passes + big fails is mtu-mismatch.
 * Probes run from inside each node's network namespace through the doctor's own agents and listeners
 * (src/probe, docs/probes.md); one shared run serves every dataplane.* check of a doctor run.
 */
import { dataplaneFix } from '../src/probe/fix.js';
import { dataplaneResults, dataplaneTimeoutMs } from '../src/probe/session.js';
import type { Check } from './types.js';

export const dataplaneIcmp: Check = {
  id: 'dataplane.icmp',
  layer: 'dataplane',
  title: 'ICMP echo and path MTU',
  run: (ctx) => dataplaneResults(ctx, 'dataplane.icmp'),
  timeoutMs: dataplaneTimeoutMs,
  fix: (ctx, result) => dataplaneFix(ctx, result),
};
