/**
 * Every row the doctor looks at in the local OVS database, in one ovs-vsctl spawn: all Interfaces, Ports and
 * Bridges and the Open_vSwitch row, unfiltered. Not the OvsDriver's reads, which filter by label or iface-id: the
 * doctor must see foreign rows too (an interface claiming our iface-id, our veth relabelled by hand) and the
 * bridge of each. The caller parses the answer (four tables, in that order) and judges a failure.
 */
import { type RunResult, run } from '../exec.js';

export async function dumpOvsTables(timeoutS: number): Promise<RunResult> {
  return run(
    'ovs-vsctl',
    [
      `--timeout=${timeoutS}`,
      '--format=json',
      '--data=json',
      '--',
      '--columns=_uuid,name,type,external_ids,ofport,error,mtu,admin_state,link_state',
      'list',
      'Interface',
      '--',
      '--columns=_uuid,name,interfaces',
      'list',
      'Port',
      '--',
      '--columns=name,ports,datapath_type',
      'list',
      'Bridge',
      '--',
      '--columns=external_ids',
      'list',
      'Open_vSwitch',
    ],
    { reject: false, timeoutMs: (timeoutS + 2) * 1000 },
  );
}
