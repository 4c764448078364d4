/** A Chassis row named like this host's system-id exists with an Encap of the configured type and IP, and no other chassis holds that encap. */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostChassis = hostCheck(
  'host.chassis',
  'this chassis is registered in SB with its encap',
  ['chassis.registered'],
  { fix: fixWithHostStart },
);
