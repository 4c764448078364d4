/** Data-plane targets behind OVN translations: public (NAT) addresses and load-balancer VIPs. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLabFile } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { expectTargets, listenersFor, translatedOwner } from '../../src/probe/targets.js';

const EX = join(import.meta.dirname, '..', '..', 'examples');
const plan = (name: string, file = 'lab.yml') => compilePlan(loadLabFile(join(EX, name, file)));

describe('targets behind NAT and load balancers', () => {
  it('a public dnat_and_snat address leads to its internal node', () => {
    const p = plan('mtd');
    expect(translatedOwner(p, '100.64.0.12', 'tcp', 8080)).toMatchObject({
      via: 'nat',
      nodes: [{ name: 'h2' }],
      port: 8080,
    });
    expect(translatedOwner(p, '100.64.0.99', 'tcp', 8080)).toBeUndefined();
    const t = expectTargets(p);
    const h1h2 = t.find((x) => x.from === 'h1' && x.to === '100.64.0.12')!;
    expect(h1h2).toMatchObject({
      toNode: 'h2',
      via: 'nat',
      answer: 'node',
      dstIp: '100.64.0.12',
      port: 8080,
    });
    expect(h1h2.skip).toBeUndefined();
    const blocked = t.find((x) => x.from === 'h4' && x.to === '100.64.0.11')!;
    expect(blocked).toMatchObject({ toNode: 'h1', expect: 'blocked' });
  });

  it('an IP-only VIP answers ICMP and any port through its backend', () => {
    const p = plan('service-migration');
    expect(translatedOwner(p, '10.30.9.100', 'icmp', undefined)).toMatchObject({
      via: 'vip',
      nodes: [{ name: 'svc-a' }],
    });
    const tcp = expectTargets(p).find((x) => x.proto === 'tcp')!;
    expect(tcp).toMatchObject({ toNode: 'svc-a', via: 'vip', answer: 'node', port: 8080 });
  });

  it('a VIP with a port matches only that port and protocol, and listeners go on every backend', () => {
    const p = plan('tcp-migration');
    expect(translatedOwner(p, '10.40.9.80', 'tcp', 80)).toMatchObject({
      nodes: [{ name: 'server1' }],
      port: 80,
    });
    expect(translatedOwner(p, '10.40.9.80', 'tcp', 81)).toBeUndefined();
    expect(translatedOwner(p, '10.40.9.80', 'udp', 80)).toBeUndefined();
    // Two backends without a declared service: the doctor listens on both, at the backend port.
    p.loadBalancers[0]!.backends = [
      { node: 'client', ip: '10.40.0.10', port: 9000 },
      { node: 'server2', ip: '10.40.0.22', port: 9000 },
    ];
    p.expect = [{ from: 'server1', to: '10.40.9.80', proto: 'tcp', port: 80, result: 'pass' }];
    const [t] = expectTargets(p);
    expect(t).toMatchObject({
      toNode: 'client',
      alsoListen: ['server2'],
      listenPort: 9000,
      answer: 'doctor',
      port: 80,
    });
    const l = listenersFor([t!]);
    expect(l.get('client')).toEqual([{ proto: 'tcp', port: 9000, tries: 0 }]);
    expect(l.get('server2')).toEqual([{ proto: 'tcp', port: 9000, tries: 0 }]);
  });
});
