/** expect: the intents doctor probes, from a node to a node or an address. */
import { isIPv4 } from '../ipv4.js';
import { normalize6 } from '../ipv6.js';
import type { LabExpect } from '../types.js';
import type { ValidateContext } from './context.js';
import { didYouMean } from './suggest.js';

export function validateExpect({ doc, add, nodeNames }: ValidateContext): LabExpect[] {
  return doc.expect.map((e, i) => {
    const p = ['expect', i];
    if (!(e.from in doc.nodes))
      add([...p, 'from'], `expect from unknown node "${e.from}"`, didYouMean(e.from, nodeNames, 'nodes'));
    else if (doc.nodes[e.from]!.interfaces.length === 0)
      add([...p, 'from'], `node ${e.from} has no interfaces to probe from`, 'attach it to a network');
    if (!(e.to in doc.nodes) && !isIPv4(e.to) && normalize6(e.to) === undefined)
      add(
        [...p, 'to'],
        `expect to "${e.to}": not a node or an IP address`,
        didYouMean(e.to, nodeNames, 'nodes'),
      );
    if (e.from === e.to) add([...p, 'to'], `expect from ${e.from} to itself`, 'probe another node');
    if (e.proto === 'icmp' && e.port !== undefined)
      add([...p, 'port'], 'icmp has no port', 'remove port, or use proto tcp or udp');
    if (e.proto !== 'icmp' && e.port === undefined)
      add(p, `expect ${e.proto} needs a port`, `add port: 80 (for example)`);
    const to = e.to in doc.nodes ? e.to : (normalize6(e.to) ?? e.to);
    return { from: e.from, to, proto: e.proto, port: e.port, result: e.result };
  });
}
