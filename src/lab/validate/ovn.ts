/** ovn: the control plane the lab uses (embedded by default). */
import { isIPv4 } from '../ipv4.js';
import type { LabOvn } from '../types.js';
import type { ValidateContext } from './context.js';

/** One or more comma-separated OVSDB remotes: unix:/path, tcp:host:port or ssl:host:port. */
const REMOTE_RE =
  /^(unix:\/[^\s]+|(tcp|ssl):[A-Za-z0-9.-]+:\d{1,5})(,(unix:\/[^\s]+|(tcp|ssl):[A-Za-z0-9.-]+:\d{1,5}))*$/;
/** OVS bridge names are interface names: at most 15 characters. */
const BRIDGE_RE = /^[a-z][a-z0-9-]{0,14}$/;

export function validateOvn({ doc, add }: ValidateContext): LabOvn {
  const ovn = doc.ovn;
  if (!isIPv4(ovn.encap.ip))
    add(
      ['ovn', 'encap', 'ip'],
      `encap ip "${ovn.encap.ip}" is not an IPv4 address`,
      'the address other chassis reach this one on, e.g. 127.0.0.1 for one host',
    );
  for (const key of ['remote', 'nb'] as const) {
    const v = ovn[key];
    if (v !== undefined && !REMOTE_RE.test(v))
      add(
        ['ovn', key],
        `ovn ${key} "${v}" is not an OVSDB remote`,
        'e.g. unix:/var/run/ovn/ovnsb_db.sock or tcp:192.0.2.10:6642',
      );
  }
  if (ovn.nb !== undefined && ovn.remote === undefined)
    add(
      ['ovn', 'nb'],
      'ovn.nb needs ovn.remote (the southbound DB of the same central)',
      'add remote: tcp:HOST:6642',
    );
  if (!BRIDGE_RE.test(ovn.bridge))
    add(['ovn', 'bridge'], `bridge "${ovn.bridge}" is not a valid bridge name`, 'usually br-int');
  return { ...ovn, encap: { ...ovn.encap } };
}
