/**
 * No stale conntrack: on the userspace datapath, entries in the lab's conntrack zones that name an address inside
 * the lab's subnets which the plan no longer gives anyone (left behind by a readdress or a moved VIP) are
 * `stale-conntrack`; the fix flushes them.
 */
import { conntrackResults } from '../src/probe/conntrack.js';
import { dataplaneFix } from '../src/probe/fix.js';
import type { Check } from './types.js';

export const dataplaneConntrack: Check = {
  id: 'dataplane.conntrack',
  layer: 'dataplane',
  title: 'no stale conntrack entries',
  run: (ctx) => conntrackResults(ctx),
  fix: (ctx, result) => dataplaneFix(ctx, result),
};
