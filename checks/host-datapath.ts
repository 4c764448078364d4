/** The integration bridge exists and its datapath_type is usable here: system needs the openvswitch kernel module (absent here → datapath-unsupported; use netdev). */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostDatapath = hostCheck(
  'host.datapath',
  'br-int exists with a datapath type this kernel supports',
  ['br-int'],
  { fix: fixWithHostStart },
);
