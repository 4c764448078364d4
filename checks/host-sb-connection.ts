/** ovn-appctl -t ovn-controller connection-status answers "connected". */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostSbConnection = hostCheck(
  'host.sb-connection',
  'ovn-controller is connected to the southbound DB',
  ['sb-connection'],
  { fix: fixWithHostStart },
);
