/**
 * diffLab on (plan, observed) fixtures: what `up` (and `up --dry-run`) would change in a running lab. The observed
 * side is a lab converged to the first plan (test/helpers/observed.ts), then edited the way a user or a crash
 * would leave it.
 */
import { describe, expect, it } from 'vitest';
import type { Change, ChangeSet } from '../../src/apply/changes.js';
import { diffLab } from '../../src/apply/diff.js';
import { linkActions } from '../../src/apply/execute.js';
import { priorFromNb } from '../../src/apply/observe.js';
import { parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { convergedObserved } from '../helpers/observed.js';

const BASE = `
name: dl
networks:
  blue: { subnet: 10.61.1.0/24 }
  red: { subnet: 10.61.2.0/24 }
routers:
  edge: { links: [blue, red] }
nodes:
  b1: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }
  b2: { interfaces: [blue] }
  c1: { interfaces: [red] }
policies:
  - { deny: { from: c1, to: b1, proto: tcp, port: 22 } }
`;

const planOf = (text: string, prior?: Plan) =>
  compilePlan(parseLab(text), prior ? { prior: priorFromNb(convergedObserved(prior).nb) } : {});
const lines = (s: ChangeSet) => s.changes.map((c) => `${c.op} ${c.summary}`);
const ofKind = <K extends Change['kind']>(s: ChangeSet, kind: K) =>
  s.changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === kind);
const ip = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)!.interfaces[0]!.ip;

describe('diffLab', () => {
  const base = planOf(BASE);

  it('finds nothing to change in a lab that runs as planned', () => {
    expect(diffLab(base, convergedObserved(base)).changes).toEqual([]);
  });

  it('a node inserted above another: only the new node changes, the other keeps its allocated address', () => {
    const text = BASE.replace(
      '  b2: { interfaces: [blue] }',
      '  b3: { interfaces: [blue] }\n  b2: { interfaces: [blue] }',
    );
    // Without the running lab's addresses, b3 would take b2's address (the defect this fixes).
    expect(ip(planOf(text), 'b3')).toBe(ip(base, 'b2'));
    const next = planOf(text, base);
    expect(ip(next, 'b2')).toBe(ip(base, 'b2'));
    expect(ip(next, 'b3')).not.toBe(ip(base, 'b2'));
    const set = diffLab(next, convergedObserved(base));
    expect(lines(set)).toEqual([
      `+ add port dl.b3.eth1 (${next.nodes.find((n) => n.name === 'b3')!.interfaces[0]!.mac} ${ip(next, 'b3')})`,
      '+ create container labctl.dl.b3',
      expect.stringMatching(/^\+ plumb b3\.eth1 10\.61\.1\.\d+\/24 /),
    ]);
    expect(new Set(set.changes.map((c) => ('node' in c ? c.node : undefined)))).toEqual(
      new Set([undefined, 'b3']),
    );
  });

  it('reordering nodes changes nothing', () => {
    const text = BASE.replace(
      '  b1: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }\n  b2: { interfaces: [blue] }\n  c1: { interfaces: [red] }',
      '  c1: { interfaces: [red] }\n  b2: { interfaces: [blue] }\n  b1: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }',
    );
    expect(text).not.toBe(BASE);
    expect(diffLab(planOf(text, base), convergedObserved(base)).changes).toEqual([]);
  });

  it('a removed node goes: container, OVS port, veth, NB port (after the new ports are ready)', () => {
    const next = planOf(BASE.replace('  b2: { interfaces: [blue] }\n', ''), base);
    const set = diffLab(next, convergedObserved(base));
    const b2 = base.nodes.find((n) => n.name === 'b2')!;
    expect(lines(set)).toEqual([
      '- remove container labctl.dl.b2',
      `- unplug ${b2.interfaces[0]!.hostVeth} from br-int`,
      `- delete veth ${b2.interfaces[0]!.hostVeth}`,
      '- remove port dl.b2.eth1',
      // connections of the address that went are dead
      `- flush conntrack of ${b2.interfaces[0]!.ip}`,
    ]);
    expect(ofKind(set, 'nb')[0]!.phase).toBe('late');
  });

  it('an explicit address taking a removed node’s address frees it first (release phase)', () => {
    const text = BASE.replace('  b2: { interfaces: [blue] }\n', '').replace(
      '  c1: { interfaces: [red] }',
      `  c1: { interfaces: [red] }\n  b4: { interfaces: [{ network: blue, ip: ${ip(base, 'b2')} }] }`,
    );
    const set = diffLab(planOf(text, base), convergedObserved(base));
    const nb = ofKind(set, 'nb');
    expect(nb.map((c) => [c.phase, c.summary])).toEqual([
      ['release', `remove port dl.b2.eth1 (frees ${ip(base, 'b2')})`],
      ['structure', expect.stringMatching(/^add port dl\.b4\.eth1 /)],
    ]);
    // one transaction runs release before structure: the lsp-del comes before the lsp-set-addresses
    const cmds = nb.flatMap((c) => c.commands.map((x) => (x[0] === '--if-exists' ? x[1] : x[0])));
    expect(cmds.indexOf('lsp-del')).toBeLessThan(cmds.indexOf('lsp-set-addresses'));
  });

  it('a changed address: the NB port, the ACLs naming it, the container and the routes the flush takes; nothing else', () => {
    const next = planOf(
      BASE.replace('c1: { interfaces: [red] }', 'c1: { interfaces: [{ network: red, ip: 10.61.2.40 }] }'),
      base,
    );
    const set = diffLab(next, convergedObserved(base));
    expect(lines(set)).toEqual([
      `~ readdress port dl.c1.eth1: ${ip(base, 'c1')} → 10.61.2.40`,
      '- remove ACL dl-p0 on dl.blue',
      expect.stringMatching(
        /^\+ add ACL dl-p0 on dl\.blue: drop outport == "dl\.b1\.eth1" && ip4\.src == 10\.61\.2\.40 /,
      ),
      `~ readdress c1.eth1: ${ip(base, 'c1')}/24 → 10.61.2.40/24`,
      '~ route c1: default via 10.61.2.1 dev eth1',
      `- flush conntrack of ${ip(base, 'c1')}`,
    ]);
    expect(ofKind(set, 'link-set').flatMap((c) => c.lines)).toEqual([
      `addr del ${ip(base, 'c1')}/24 dev eth1`,
      'addr add 10.61.2.40/24 dev eth1',
      'route replace default via 10.61.2.1 dev eth1',
    ]);
  });

  it('two nodes swapping addresses: generic sets, no duplicate check to trip over', () => {
    const text = BASE.replace(
      'b1: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }',
      `b1: { interfaces: [{ network: blue, ip: ${ip(base, 'b2')} }] }`,
    ).replace('b2: { interfaces: [blue] }', 'b2: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }');
    const set = diffLab(planOf(text, base), convergedObserved(base));
    const readdress = ofKind(set, 'nb').filter((c) => c.summary.startsWith('readdress port'));
    expect(readdress).toHaveLength(2);
    for (const c of readdress) expect(c.commands[0]!.slice(0, 2)).toEqual(['set', 'Logical_Switch_Port']);
  });

  it('a changed image recreates the container with fresh links in the same port names', () => {
    const next = planOf(
      BASE.replace('c1: { interfaces: [red] }', 'c1: { interfaces: [red], image: other/img }'),
      base,
    );
    const set = diffLab(next, convergedObserved(base));
    expect(lines(set)).toEqual([
      '~ recreate container labctl.dl.c1 (image, command, environment or hostname changed)',
      expect.stringMatching(/^\+ plumb c1\.eth1 /),
    ]);
    const [p] = ofKind(set, 'link-plumb');
    expect(p).toMatchObject({ fresh: true, staleHost: true, staleOvs: true, staleInside: false });
    expect(ofKind(set, 'container')[0]!.id).toBe('id-c1');
  });

  it('a stopped container is started and its links plumbed again', () => {
    const seen = convergedObserved(base);
    const host = seen.hosts.local!;
    host.containers = host.containers.map((c) =>
      c.node === 'c1' ? { ...c, running: false, state: 'exited' } : c,
    );
    delete host.nodes.c1;
    const c1 = base.nodes.find((n) => n.name === 'c1')!;
    host.hostLinks = host.hostLinks.filter((l) => l.name !== c1.interfaces[0]!.hostVeth);
    expect(lines(diffLab(base, seen))).toEqual([
      '~ start container labctl.dl.c1 (exited)',
      expect.stringMatching(/^\+ plumb c1\.eth1 /),
    ]);
  });

  it('links of a running node: broken pair, MAC, admin state, host end and a lost route', () => {
    const seen = convergedObserved(base);
    const host = seen.hosts.local!;
    const b1 = base.nodes.find((n) => n.name === 'b1')!;
    const b2 = base.nodes.find((n) => n.name === 'b2')!;
    // b2's host end is gone (the pair broke): re-plumbed, its stale OVS port removed first
    host.hostLinks = host.hostLinks.filter((l) => l.name !== b2.interfaces[0]!.hostVeth);
    // b1: wrong MAC, down inside, host end down, default route gone
    const ns = host.nodes.b1!.ns;
    ns.links = ns.links.map((l) => (l.name === 'eth1' ? { ...l, mac: '0a:00:00:00:00:01', up: false } : l));
    ns.routes = ns.routes.filter((r) => r.dst !== 'default');
    host.hostLinks = host.hostLinks.map((l) =>
      l.name === b1.interfaces[0]!.hostVeth ? { ...l, up: false } : l,
    );
    const set = diffLab(base, seen);
    expect(lines(set)).toEqual([
      `~ set b1.eth1 MAC ${b1.interfaces[0]!.mac} MTU 1500 (was 0a:00:00:00:00:01 MTU 1500)`,
      '~ set b1.eth1 up',
      `~ set host end ${b1.interfaces[0]!.hostVeth} of b1.eth1 up`,
      '+ route b1: default via 10.61.1.1 dev eth1',
      expect.stringMatching(/^~ plumb b2\.eth1 .* \(the pair is broken\)$/),
    ]);
    expect(ofKind(set, 'link-plumb')[0]).toMatchObject({
      fresh: false,
      staleHost: false,
      staleInside: true,
      staleOvs: true,
    });
  });

  it('an OVS port that lost its iface-id is relabelled; a missing one plugged', () => {
    const seen = convergedObserved(base);
    const host = seen.hosts.local!;
    const [b1, b2] = ['b1', 'b2'].map((n) => base.nodes.find((x) => x.name === n)!.interfaces[0]!.hostVeth);
    host.ovs = host.ovs
      .filter((o) => o.name !== b2)
      .map((o) => (o.name === b1 ? { ...o, externalIds: { ...o.externalIds, 'iface-id': 'wrong' } } : o));
    expect(lines(diffLab(base, seen))).toEqual([
      `~ restore external_ids of ${b1} (iface-id dl.b1.eth1)`,
      `+ plug b2.eth1 (${b2}) into br-int (iface-id dl.b2.eth1)`,
    ]);
  });
});

describe('diffLab: translations', () => {
  const LB = `
name: sm
networks:
  front: { subnet: 10.30.0.0/24 }
  back: { subnet: 10.30.1.0/24 }
routers:
  r: { links: [front, back] }
nodes:
  client: { interfaces: [{ network: front, ip: 10.30.0.10 }] }
  svc-a: { interfaces: [{ network: back, ip: 10.30.1.21 }] }
  svc-b: { interfaces: [{ network: back, ip: 10.30.1.22 }] }
load_balancers:
  svc: { vip: 10.30.9.100, backends: [svc-a] }
`;
  it('a VIP moved to another backend: the load balancer is replaced late, and the VIP’s conntrack flushed', () => {
    const base = planOf(LB);
    const next = planOf(LB.replace('backends: [svc-a]', 'backends: [svc-b]'), base);
    const set = diffLab(next, convergedObserved(base));
    expect(lines(set)).toEqual([
      '~ update load balancer sm.svc: 10.30.9.100 → 10.30.1.22',
      '- flush conntrack of 10.30.9.100',
    ]);
    expect(ofKind(set, 'nb')[0]!.phase).toBe('late');
  });

  const NAT = `
name: mt
networks:
  priv: { subnet: 10.20.0.0/24 }
routers:
  gw:
    links: [priv]
    chassis: local
    nat:
      - { type: dnat_and_snat, external: 100.64.0.11, internal: h1 }
nodes:
  h1: { interfaces: [{ network: priv, ip: 10.20.0.11 }] }
`;
  it('a rotated public address: old NAT removed and new added late, the old address flushed', () => {
    const base = planOf(NAT);
    const next = planOf(NAT.replace('100.64.0.11', '100.64.0.51'), base);
    const set = diffLab(next, convergedObserved(base));
    expect(lines(set)).toEqual([
      '- remove NAT dnat_and_snat 100.64.0.11 ↔ 10.20.0.11 on mt.gw',
      '+ add NAT dnat_and_snat 100.64.0.51 ↔ 10.20.0.11 on mt.gw',
      '- flush conntrack of 100.64.0.11',
    ]);
    expect(ofKind(set, 'nb').every((c) => c.phase === 'late')).toBe(true);
  });

  it('a gateway router is bound to the chassis of its host; an unchanged binding is no change', () => {
    const base = planOf(NAT);
    const seen = convergedObserved(base);
    expect(diffLab(base, seen).changes).toEqual([]);
    seen.nb.routers[0]!.options = {};
    expect(lines(diffLab(base, seen))).toEqual(['+ bind router mt.gw to chassis chassis-1']);
  });
});

describe('linkActions (what the executor runs for one node)', () => {
  const plan = planOf(BASE);
  const c1 = plan.nodes.find((n) => n.name === 'c1')!;
  const seen = convergedObserved(plan);

  it('a recreated node: its stale host end went before the new pair was made, so it is not deleted again', () => {
    const next = planOf(
      BASE.replace('c1: { interfaces: [red] }', 'c1: { interfaces: [red], image: other/img }'),
    );
    const node = next.nodes.find((n) => n.name === 'c1')!;
    const a = linkActions(node, diffLab(next, seen).changes);
    expect(a.plumb.map((i) => i.name)).toEqual(['eth1']);
    expect(a.deleteHost).toEqual([]);
    expect(a.nsLines).toEqual(['route replace default via 10.61.2.1 dev eth1']);
  });

  it('a broken pair of a running node: the stale host end and the device inside go first', () => {
    const host = structuredClone(seen);
    host.hosts.local!.hostLinks = host.hosts.local!.hostLinks.map((l) =>
      l.name === c1.interfaces[0]!.hostVeth ? { ...l, peerNetnsId: undefined } : l,
    );
    const a = linkActions(c1, diffLab(plan, host).changes);
    expect(a.deleteHost).toEqual([c1.interfaces[0]!.hostVeth]);
    expect(a.nsLines).toEqual(['link del eth1', 'route replace default via 10.61.2.1 dev eth1']);
  });
});
