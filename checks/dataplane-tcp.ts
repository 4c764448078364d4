/**
 * TCP for every expected pair: handshake, then the doctor's token must come back from its listener (a declared port: the node's own service must accept). RST is no-listener; silence is explained (checksum-offload, acl-drop).
 * Probes run from inside each node's network namespace through the doctor's own agents and listeners
 * (src/probe, docs/probes.md); one shared run serves every dataplane.* check of a doctor run.
 */
import { dataplaneFix } from '../src/probe/fix.js';
import { dataplaneResults, dataplaneTimeoutMs } from '../src/probe/session.js';
import type { Check } from './types.js';

export const dataplaneTcp: Check = {
  id: 'dataplane.tcp',
  layer: 'dataplane',
  title: 'TCP handshake and token echo',
  run: (ctx) => dataplaneResults(ctx, 'dataplane.tcp'),
  timeoutMs: dataplaneTimeoutMs,
  fix: (ctx, result) => dataplaneFix(ctx, result),
};
