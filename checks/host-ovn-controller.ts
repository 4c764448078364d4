/** ovn-controller answers ovn-appctl version. */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvnController = hostCheck(
  'host.ovn-controller',
  'ovn-controller answers',
  ['ovn-controller'],
  { fix: fixWithHostStart },
);
