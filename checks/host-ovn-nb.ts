/** The OVN northbound database answers (not checked for a remote central without an NB address). */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvnNb = hostCheck('host.ovn-nb', 'OVN northbound DB answers', ['ovn-nb'], {
  fix: fixWithHostStart,
});
