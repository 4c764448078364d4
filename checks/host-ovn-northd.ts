/** ovn-northd answers ovn-appctl version (embedded central only). */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvnNorthd = hostCheck('host.ovn-northd', 'ovn-northd answers', ['ovn-northd'], {
  fix: fixWithHostStart,
});
