/** The OVN southbound database answers on the remote ovn-controller uses. */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvnSb = hostCheck('host.ovn-sb', 'OVN southbound DB answers', ['ovn-sb'], {
  fix: fixWithHostStart,
});
