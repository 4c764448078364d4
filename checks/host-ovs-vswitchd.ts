/** ovs-vswitchd answers ovs-appctl version. */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvsVswitchd = hostCheck('host.ovs-vswitchd', 'ovs-vswitchd answers', ['ovs-vswitchd'], {
  fix: fixWithHostStart,
});
