/** What the data-plane checks probe, from the plan alone: mesh, expect, service targets, paths and listeners. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { PolicyVerdicts } from '../../src/plan/policy-verdict.js';
import type { Plan } from '../../src/plan/types.js';
import {
  DOCTOR_PORT,
  expectTargets,
  listenersFor,
  meshAtPort,
  meshTargets,
  planTargets,
  routedDomains,
  routeFor,
  seenSource,
  serviceTargets,
  subjectOf,
} from '../../src/probe/targets.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
function plan(text: string): Plan {
  const { lab, diagnostics } = checkLab(text, 'test.yml');
  if (!lab) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return compilePlan(lab);
}
const fixture = (name: string) =>
  plan(readFileSync(join(root, 'test', 'fixtures', 'valid', `${name}.yml`), 'utf8'));
const withoutExpect = (text: string) => text.replace(/^expect:[\s\S]*?(?=^\S|(?![\s\S]))/m, '');

const TWO_VPCS = readFileSync(join(root, 'test', 'fixtures', 'valid', 'two-vpcs.yml'), 'utf8');

describe('mesh (no expect)', () => {
  const p = plan(withoutExpect(TWO_VPCS));
  const mesh = meshTargets(p);

  it('probes every ordered pair of a routed domain with ICMP, UDP and TCP', () => {
    expect(p.expect).toEqual([]);
    const names = p.nodes.map((n) => n.name);
    for (const a of names)
      for (const b of names) {
        if (a === b) continue;
        const protos = mesh
          .filter((t) => t.from === a && t.to === b)
          .map((t) => t.proto)
          .sort();
        expect(protos, `${a}→${b}`).toEqual(['icmp', 'tcp', 'udp']);
      }
    expect(mesh).toHaveLength(names.length * (names.length - 1) * 3);
    expect(mesh.every((t) => t.expect === 'pass' && !t.skip)).toBe(true);
    expect(
      mesh.filter((t) => t.proto !== 'icmp').every((t) => t.answer === 'doctor' && t.port === undefined),
    ).toBe(true);
    expect(mesh.filter((t) => t.proto === 'icmp').every((t) => t.answer === 'kernel')).toBe(true);
  });

  it('knows the logical path: same switch → the peer MAC, routed → the router port MAC, both ways', () => {
    const web = p.nodes.find((n) => n.name === 'web')!;
    const db = p.nodes.find((n) => n.name === 'db')!;
    const client = p.nodes.find((n) => n.name === 'client')!;
    const r = p.routers[0]!;
    const lrpA = r.ports.find((x) => x.network === 'vpc-a')!;
    const lrpB = r.ports.find((x) => x.network === 'vpc-b')!;

    const local = mesh.find((t) => t.from === 'web' && t.to === 'db' && t.proto === 'tcp')!;
    expect(local.fwd).toMatchObject({
      lsp: web.interfaces[0]!.lsp,
      ethDst: db.interfaces[0]!.mac,
      routed: false,
      switch: web.interfaces[0]!.switch,
    });
    expect(local.rev).toMatchObject({ lsp: db.interfaces[0]!.lsp, ethDst: web.interfaces[0]!.mac });

    const routed = mesh.find((t) => t.from === 'client' && t.to === 'web' && t.proto === 'udp')!;
    expect(routed.dstIp).toBe('10.0.1.10');
    expect(routed.fwd).toMatchObject({
      lsp: client.interfaces[0]!.lsp,
      ip: client.interfaces[0]!.ip,
      ethDst: lrpB.mac,
      routed: true,
    });
    expect(routed.rev).toMatchObject({ lsp: web.interfaces[0]!.lsp, ethDst: lrpA.mac, routed: true });
    expect(subjectOf(routed)).toBe('client→web udp');
  });

  it('probes each declared listen port once as a service, from a node on the same switch first', () => {
    const svc = serviceTargets(p, mesh);
    expect(svc).toHaveLength(1);
    expect(svc[0]).toMatchObject({
      check: 'dataplane.service',
      from: 'db',
      to: 'web',
      proto: 'tcp',
      port: 80,
      answer: 'node',
    });
    expect(subjectOf(svc[0]!)).toBe('db→web tcp/80');
  });

  it('starts the doctor listener on the mesh port of every target node, and nothing for services', () => {
    const l = listenersFor(planTargets(p));
    expect([...l.keys()].sort()).toEqual(['client', 'db', 'web']);
    expect(l.get('web')).toEqual([
      { proto: 'udp', port: 47000, tries: 9 },
      { proto: 'tcp', port: 47000, tries: 9 },
    ]);
  });

  it('does not pair nodes of networks no router joins', () => {
    const q = plan(`name: apart
networks:
  a: { subnet: 10.1.0.0/24 }
  b: { subnet: 10.2.0.0/24 }
nodes:
  x: { interfaces: [a] }
  y: { interfaces: [a] }
  z: { interfaces: [b] }
`);
    const pairs = new Set(meshTargets(q).map((t) => `${t.from}>${t.to}`));
    expect([...pairs].sort()).toEqual(['x>y', 'y>x']);
    expect(routedDomains(q).get('apart.a')).not.toBe(routedDomains(q).get('apart.b'));
  });
});

describe('expect entries', () => {
  const p = fixture('two-vpcs');
  const ts = expectTargets(p);

  it('probes exactly the entries, a declared port by the node itself, others by the doctor', () => {
    expect(ts.map((t) => [subjectOf(t), t.check, t.answer, t.expect])).toEqual(
      p.expect.map((e) => {
        const subject = `${e.from}→${e.to} ${e.proto}${e.port !== undefined ? `/${e.port}` : ''}`;
        const declared = p.nodes
          .find((n) => n.name === e.to)
          ?.listen.some((l) => l.proto === e.proto && l.port === e.port);
        return [
          subject,
          `dataplane.${e.proto}`,
          e.proto === 'icmp' ? 'kernel' : declared ? 'node' : 'doctor',
          e.result,
        ];
      }),
    );
    const blocked = ts.find((t) => t.expect === 'blocked')!;
    expect(blocked).toMatchObject({ proto: 'tcp', port: 22, answer: 'doctor' });
  });

  it('covers a declared port through its passing entry: no extra service probe', () => {
    const all = planTargets(p);
    const covered = all.filter((t) => t.toNode === 'web' && t.proto === 'tcp' && t.port === 80);
    expect(covered).toHaveLength(1);
    expect(covered[0]!.kind).toBe('expect');
  });

  it('listens where the doctor must answer: blocked ports too, so "blocked" never means "nothing listens"', () => {
    const l = listenersFor(ts);
    const flat = [...l].flatMap(([n, ls]) => ls.map((x) => `${n} ${x.proto}/${x.port}`)).sort();
    for (const t of ts.filter((x) => x.answer === 'doctor'))
      expect(flat).toContain(`${t.toNode} ${t.proto}/${t.port}`);
    expect(flat.some((x) => x.endsWith('tcp/80'))).toBe(false);
  });

  it('targets a router address, skips an address outside the lab, and probes listen ports nobody expects', () => {
    const q = fixture('three-tier');
    const all = planTargets(q);
    const router = all.find((t) => t.kind === 'expect' && t.to === '10.10.2.253')!;
    expect(router).toMatchObject({ proto: 'icmp', answer: 'kernel' });
    expect(router.toRouterPort).toBeDefined();
    expect(router.skip).toBeUndefined();
    // a route exists from jump (front) to the core router's app address through edge
    expect(routeFor(q.nodes.find((n) => n.name === 'jump')!, '10.10.2.253')).toBeDefined();
    const services = all.filter((t) => t.kind === 'service');
    const declared = q.nodes.flatMap((n) => n.listen.map((l) => `${n.name} ${l.proto}/${l.port}`));
    const expectedPass = q.expect
      .filter((e) => e.result === 'pass')
      .map((e) => `${e.to} ${e.proto}/${e.port}`);
    expect(services.map((t) => `${t.to} ${t.proto}/${t.port}`).sort()).toEqual(
      declared.filter((d) => !expectedPass.includes(d)).sort(),
    );
    // never from a node whose entry says it is blocked
    const dbSvc = services.find((t) => t.to === 'db');
    if (dbSvc) expect(dbSvc.from).not.toBe('lb');

    const outside = plan(`${withoutExpect(TWO_VPCS)}expect:
  - { from: client, to: 192.0.2.7, proto: icmp }
`);
    const t = expectTargets(outside)[0]!;
    expect(t.skip).toMatch(/not an address of this lab/);
  });
});

const POLICIES = `name: pol
networks:
  inside: { subnet: 10.86.1.0/24 }
  ext: { subnet: 10.86.2.0/24 }
routers:
  edge: { links: [inside, ext] }
nodes:
  web: { interfaces: [inside], listen: [tcp/80] }
  db: { interfaces: [inside] }
  out: { interfaces: [ext] }
policies:
  - { deny: { from: ext, to: inside } }
  - { deny: { from: web, to: db, proto: icmp } }
`;

describe('the mesh follows the policies', () => {
  const p = plan(POLICIES);
  const mesh = meshTargets(p);
  const row = (t: (typeof mesh)[number]) =>
    `${t.from}>${t.to} ${t.proto} ${t.expect}${t.policy !== undefined ? ` p${t.policy}` : ''}`;

  it('every ordered pair, each protocol, blocked where a deny decides the flow its source starts', () => {
    expect(mesh).toHaveLength(3 * 2 * 3);
    expect(mesh.map(row)).toEqual([
      'web>db icmp blocked p1',
      'web>db udp pass',
      'web>db tcp pass',
      'web>out icmp pass',
      'web>out udp pass',
      'web>out tcp pass',
      'db>web icmp pass',
      'db>web udp pass',
      'db>web tcp pass',
      'db>out icmp pass',
      'db>out udp pass',
      'db>out tcp pass',
      'out>web icmp blocked p0',
      'out>web udp blocked p0',
      'out>web tcp blocked p0',
      'out>db icmp blocked p0',
      'out>db udp blocked p0',
      'out>db tcp blocked p0',
    ]);
    // blocked TCP/UDP still go to the doctor's listener: "blocked" is only accepted while it listens
    const l = listenersFor(mesh);
    expect(l.get('web')).toEqual([
      { proto: 'udp', port: DOCTOR_PORT, tries: 9 },
      { proto: 'tcp', port: DOCTOR_PORT, tries: 9 },
    ]);
  });

  it('a service is probed from a node the policies let in, never from a blocked one', () => {
    const svc = serviceTargets(p, mesh);
    expect(svc.map((t) => `${t.from}>${t.to} ${t.proto}/${t.port} ${t.expect}`)).toEqual([
      'db>web tcp/80 pass',
    ]);
    const onlyOut = plan(
      POLICIES.replace('  db: { interfaces: [inside] }\n', '').replace(/ {2}- \{ deny: \{ from: web.*\n/, ''),
    );
    const none = serviceTargets(onlyOut, meshTargets(onlyOut));
    expect(none).toHaveLength(1);
    expect(none[0]!.skip).toMatch(/policies block every one/);
  });

  it('a fallback listener port is judged by the policies at that port', () => {
    const q = plan(`${POLICIES}  - { deny: { from: db, to: web, proto: tcp, port: 47001 } }\n`);
    const t = meshTargets(q).find((x) => x.from === 'db' && x.to === 'web' && x.proto === 'tcp')!;
    const v = PolicyVerdicts.of(q);
    expect(t.expect).toBe('pass');
    expect(meshAtPort(t, DOCTOR_PORT, v)).toBe(t);
    expect(meshAtPort(t, 47002, v)).toBe(t);
    expect(meshAtPort(t, 47001, v)).toMatchObject({ expect: 'blocked', policy: 2 });
    expect(t.expect).toBe('pass'); // a copy, the target itself is unchanged
  });

  it('the source address is the public one across a gateway router that SNATs it', () => {
    const q = plan(`name: gw
networks:
  priv: { subnet: 10.20.0.0/24 }
  dmz: { subnet: 10.21.0.0/24 }
routers:
  gw:
    links: [priv, dmz]
    chassis: local
    nat:
      - { type: dnat_and_snat, external: 100.64.0.14, internal: h4 }
nodes:
  h4: { interfaces: [{ network: priv, ip: 10.20.0.14 }] }
  h5: { interfaces: [{ network: priv, ip: 10.20.0.15 }] }
  d: { interfaces: [{ network: dmz, ip: 10.21.0.5 }] }
policies:
  - { deny: { from: priv, to: d } }
`);
    const node = (n: string) => q.nodes.find((x) => x.name === n)!;
    expect(seenSource(q, node('h4'), '10.21.0.5')).toBe('100.64.0.14');
    expect(seenSource(q, node('h4'), '10.20.0.15')).toBe('10.20.0.14');
    expect(seenSource(q, node('h5'), '10.21.0.5')).toBe('10.20.0.15');
    const m = meshTargets(q);
    const to = (from: string) => m.filter((t) => t.from === from && t.to === 'd').map((t) => t.expect);
    // h4 reaches d as 100.64.0.14, outside `priv`: the deny does not match it; h5 is not translated
    expect(to('h4')).toEqual(['pass', 'pass', 'pass']);
    expect(to('h5')).toEqual(['blocked', 'blocked', 'blocked']);
  });
});

describe('expect adds to the baseline, never shrinks it', () => {
  const p = fixture('two-vpcs');
  const all = planTargets(p);

  it('every pair keeps ICMP, UDP and TCP; the entries come on top', () => {
    const names = p.nodes.map((n) => n.name);
    for (const a of names)
      for (const b of names) {
        if (a === b) continue;
        const protos = all
          .filter((t) => (t.kind === 'mesh' || t.kind === 'expect') && t.from === a && t.toNode === b)
          .map((t) => t.proto);
        expect(new Set(protos), `${a}→${b}`).toEqual(new Set(['icmp', 'udp', 'tcp']));
      }
    const entries = all.filter((t) => t.kind === 'expect');
    expect(entries).toHaveLength(p.expect.length);
    expect(entries.map((t) => t.expectIndex)).toEqual(p.expect.map((_, i) => i));
  });

  it('an entry that repeats a mesh ICMP probe replaces it (same packets), a TCP/UDP entry does not', () => {
    const icmp = all.filter((t) => t.from === 'client' && t.toNode === 'web' && t.proto === 'icmp');
    expect(icmp.map((t) => t.kind)).toEqual(['expect']);
    const tcp = all.filter((t) => t.from === 'client' && t.toNode === 'web' && t.proto === 'tcp');
    expect(tcp.map((t) => `${t.kind} ${t.port ?? 'doctor'} ${t.expect}`).sort()).toEqual([
      'expect 22 blocked',
      'expect 80 pass',
      'mesh doctor pass',
    ]);
    expect(all.filter((t) => t.kind === 'mesh')).toHaveLength(3 * 2 * 3 - 1);
  });
});
