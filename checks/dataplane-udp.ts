/**
 * UDP for every expected pair: the doctor's token must come back from its echo responder (or the node's own service for a declared port). Silence with ICMP passing and InCsumErrors rising is checksum-offload; an ACL's drop is acl-drop.
 * Probes run from inside each node's network namespace through the doctor's own agents and listeners
 * (src/probe, docs/probes.md); one shared run serves every dataplane.* check of a doctor run.
 */
import { dataplaneFix } from '../src/probe/fix.js';
import { dataplaneResults, dataplaneTimeoutMs } from '../src/probe/session.js';
import type { Check } from './types.js';

export const dataplaneUdp: Check = {
  id: 'dataplane.udp',
  layer: 'dataplane',
  title: 'UDP echo',
  run: (ctx) => dataplaneResults(ctx, 'dataplane.udp'),
  timeoutMs: dataplaneTimeoutMs,
  fix: (ctx, result) => dataplaneFix(ctx, result),
};
