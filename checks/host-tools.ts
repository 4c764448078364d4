/** Programs the doctor and apply run: a missing one makes every check that needs it error. */
import { hostCheck } from './host-rows.js';

export const hostTools = hostCheck(
  'host.tools',
  'required tools (ip, ethtool, nsenter, ovs-vsctl, ovn-*ctl, …)',
  ['tools'],
);
