/** What the data-plane checks probe, from the plan alone: mesh, expect, service targets, paths and listeners. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import {
  expectTargets,
  listenersFor,
  meshTargets,
  planTargets,
  routedDomains,
  routeFor,
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
