/** The local OVS database answers (ovs-vsctl list Open_vSwitch, Bridge). */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostOvsdb = hostCheck('host.ovsdb', 'ovsdb-server answers', ['ovsdb-server'], {
  fix: fixWithHostStart,
});
