/**
 * Every port a node declares in `listen` answers: probed as a service (the node's own software must answer, not the
 * doctor's listener) from one other node that can reach it, unless an expect entry already covers it. A TCP RST
 * or ICMP port-unreachable is `no-listener`.
 */
import { dataplaneFix } from '../src/probe/fix.js';
import { dataplaneResults, dataplaneTimeoutMs } from '../src/probe/session.js';
import type { Check } from './types.js';

export const dataplaneService: Check = {
  id: 'dataplane.service',
  layer: 'dataplane',
  title: 'declared listen ports answer',
  run: (ctx) => dataplaneResults(ctx, 'dataplane.service'),
  timeoutMs: dataplaneTimeoutMs,
  fix: (ctx, result) => dataplaneFix(ctx, result),
};
