/** system-id, ovn-remote, ovn-encap-type/ip and ovn-bridge-datapath-type are set on the Open_vSwitch row, and match the lab's ovn: block. */
import { fixWithHostStart, hostCheck } from './host-rows.js';

export const hostChassisKeys = hostCheck(
  'host.chassis-keys',
  'chassis keys on the Open_vSwitch row',
  ['chassis.system-id', 'chassis.ovn-remote', 'chassis.encap', 'chassis.datapath-type'],
  { fix: fixWithHostStart },
);
