/**
 * The mapping of doctor results onto the picture (src/graph/health.ts), on real reports of `labctl doctor --json`
 * (test/fixtures/graph: the default lab healthy, with web's container stopped, with tx offload on inside db) and on
 * small hand-made results for the cases those do not show (a host root, a VIP, a NAT address, a missing root).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../checks/types.js';
import { elementsOfResult, healthOf, type ReportLike, routerPath } from '../../src/graph/health.js';
import { layoutTopology } from '../../src/graph/layout.js';
import { topologyOf } from '../../src/graph/model.js';
import { renderSvg, tooltip } from '../../src/graph/render-svg.js';
import { renderDot, renderMermaid } from '../../src/graph/render-text.js';
import { planOf, ROOT as root } from './graph-fixtures.js';

const report = (name: string): ReportLike =>
  JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'graph', `report-${name}.json`), 'utf8'));
const plan = planOf('test/fixtures/graph/gr-two-vpcs.yml');
const ALL = [
  'node:web',
  'node:db',
  'node:client',
  'iface:web.eth1',
  'iface:db.eth1',
  'iface:client.eth1',
  'rlink:edge.vpc-a',
  'rlink:edge.vpc-b',
  'router:edge',
];

const statuses = (h: ReturnType<typeof healthOf>) =>
  Object.fromEntries(ALL.map((id) => [id, h.elements.get(id)?.status]));

describe('healthOf on real doctor reports of the default lab', () => {
  it('healthy: every node, interface and router link passes', () => {
    const h = healthOf(plan, report('healthy'));
    expect(h.ok).toBe(true);
    expect(h.roots).toEqual([]);
    expect(h.labWide).toEqual([]);
    for (const id of ALL) expect(h.elements.get(id)?.status, id).toBe('pass');
  });

  it('web stopped: web and its link fail with container-not-running, the rest is healthy', () => {
    const h = healthOf(plan, report('web-stopped'));
    expect(h.ok).toBe(false);
    expect(h.roots.map((r) => `${r.check} ${r.subject} ${r.cause}`)).toEqual([
      'wiring.container web container-not-running',
    ]);
    expect(statuses(h)).toEqual({
      'node:web': 'fail',
      'iface:web.eth1': 'fail',
      'node:db': 'pass',
      'node:client': 'pass',
      'iface:db.eth1': 'pass',
      'iface:client.eth1': 'pass',
      'rlink:edge.vpc-a': 'pass',
      'rlink:edge.vpc-b': 'pass',
      'router:edge': 'pass',
    });
    const web = h.elements.get('node:web')!;
    expect(web.findings[0]).toMatchObject({ check: 'wiring.container', cause: 'container-not-running' });
    expect(web.findings[0]!.evidence).toMatch(/exited/);
    // the link's failures are symptoms that carry the root's cause and name it
    const link = h.elements.get('iface:web.eth1')!;
    expect(link.findings[0]).toMatchObject({
      cause: 'container-not-running',
      followsFrom: 'wiring.container web',
    });
    // client→web probes follow from web: they mark web's side only (client stays healthy, as asserted above)
    expect(link.findings.some((f) => f.check === 'dataplane.tcp' && f.subject === 'client→web tcp/80')).toBe(
      true,
    );
  });

  it('tx offload on in db: db.eth1 fails with checksum-offload, web and client stay healthy', () => {
    const h = healthOf(plan, report('db-offload'));
    expect(statuses(h)).toMatchObject({
      'node:db': 'fail',
      'iface:db.eth1': 'fail',
      'node:web': 'pass',
      'node:client': 'pass',
      'iface:web.eth1': 'pass',
      'iface:client.eth1': 'pass',
    });
    expect(h.elements.get('iface:db.eth1')!.findings[0]).toMatchObject({
      check: 'wiring.offload',
      cause: 'checksum-offload',
    });
  });

  it('the picture of a failure is valid SVG with the cause as a label, overlapping nothing', async () => {
    const h = healthOf(plan, report('web-stopped'));
    const t = topologyOf(plan);
    const layout = await layoutTopology(t, h.elements);
    const svg = renderSvg(t, layout, { health: h });
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toMatch(
      /<g class="el node fail" data-id="node:web" data-status="fail"><title>[^<]*container-not-running/,
    );
    expect(svg).toContain('<g class="el node pass" data-id="node:client"');
    expect(svg).toContain('✖ container-not-running');
    const boxes = layout.boxes.filter((b) => b.kind !== 'chassis');
    const labels = layout.lines.flatMap((l) => (l.label ? [l.label] : []));
    const over = (a: (typeof boxes)[number] | (typeof labels)[number], b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
    for (const l of labels)
      for (const b of [...boxes, ...labels.filter((x) => x !== l)]) expect(over(l, b)).toBe(false);
    expect(renderDot(t, h)).toMatch(/"node:web" \[[^\]]*fillcolor="#ffebee"/);
    expect(renderMermaid(t, h)).toContain('class node_web fail');
  });
});

const result = (r: Partial<CheckResult> & Pick<CheckResult, 'id' | 'subject' | 'status'>): CheckResult => ({
  layer: r.id.split('.')[0] as CheckResult['layer'],
  ...r,
});

describe('tooltip', () => {
  it('groups the results that follow from a root under it, with the root evidence and fix', () => {
    const h = healthOf(plan, report('web-stopped'));
    const tip = tooltip('interface web.eth1', h.elements.get('iface:web.eth1'), h.roots);
    const lines = tip.split('\n');
    expect(lines[0]).toBe('interface web.eth1: failed');
    expect(lines[1]).toMatch(
      /^✖ 18 results follow from wiring.container web \(container-not-running\): wiring.veth, wiring.address, .*, …$/,
    );
    expect(lines[2]).toBe('  evidence: container labctl.gr-two-vpcs.web is exited (expected running)');
    expect(lines[3]).toMatch(/^ {2}fix: docker start labctl.gr-two-vpcs.web/);
    expect(lines[4]).toBe('✔ 4 results passed');
    // the root's own element lists the root itself
    expect(tooltip('node web', h.elements.get('node:web'), h.roots)).toMatch(
      /^node web: failed\n✖ wiring.container web: container-not-running — container labctl.gr-two-vpcs.web is exited/,
    );
    expect(tooltip('router edge', h.elements.get('router:edge'), h.roots)).toMatch(
      /^router edge: healthy\n✔ \d+ results passed$/,
    );
  });
});

describe('elementsOfResult', () => {
  it('maps a probe across the router to both ends, their interfaces and both router links', () => {
    const r = result({
      id: 'dataplane.tcp',
      subject: 'client→web tcp/80',
      status: 'fail',
      data: { nodes: ['client', 'web'], from: 'client', to: 'web', ip: '10.0.1.10', proto: 'tcp', port: 80 },
    });
    expect(new Set(elementsOfResult(plan, r))).toEqual(
      new Set([
        'node:client',
        'iface:client.eth1',
        'node:web',
        'iface:web.eth1',
        'rlink:edge.vpc-a',
        'rlink:edge.vpc-b',
      ]),
    );
  });

  it('maps a probe within a switch to no router link', () => {
    const r = result({
      id: 'dataplane.icmp',
      subject: 'db→web icmp',
      status: 'pass',
      data: { nodes: ['db', 'web'], from: 'db', to: 'web', ip: '10.0.1.10', proto: 'icmp' },
    });
    expect(new Set(elementsOfResult(plan, r))).toEqual(
      new Set(['node:db', 'iface:db.eth1', 'node:web', 'iface:web.eth1']),
    );
  });

  it('maps a VIP probe to the VIP and its backend; a NAT probe to the node behind the public address', () => {
    const tcp = planOf('examples/tcp-migration/lab.yml');
    const vip = elementsOfResult(
      tcp,
      result({
        id: 'dataplane.tcp',
        subject: 'client→10.40.9.80 tcp/80',
        status: 'pass',
        data: {
          nodes: ['client', 'server1'],
          from: 'client',
          to: '10.40.9.80',
          ip: '10.40.9.80',
          proto: 'tcp',
          port: 80,
        },
      }),
    );
    expect(vip).toEqual(
      expect.arrayContaining(['vip:service', 'node:server1', 'iface:server1.eth1', 'node:client']),
    );
    const mtd = planOf('examples/mtd/lab.yml');
    const nat = elementsOfResult(
      mtd,
      result({
        id: 'dataplane.tcp',
        subject: 'h1→100.64.0.12 tcp/8080',
        status: 'pass',
        data: {
          nodes: ['h1', 'h2'],
          from: 'h1',
          to: '100.64.0.12',
          ip: '100.64.0.12',
          proto: 'tcp',
          port: 8080,
        },
      }),
    );
    expect(new Set(nat)).toEqual(
      new Set(['node:h1', 'iface:h1.eth1', 'node:h2', 'iface:h2.eth1', 'rlink:gw.priv']),
    );
  });

  it('puts host results and node-less data-plane results on the lab as a whole', () => {
    expect(
      elementsOfResult(
        plan,
        result({ id: 'host.ovn-controller', subject: 'ovn-controller', status: 'fail' }),
      ),
    ).toBe('lab');
    expect(
      elementsOfResult(
        plan,
        result({
          id: 'dataplane.icmp',
          subject: 'host neighbour table',
          status: 'fail',
          data: { nodes: [] },
        }),
      ),
    ).toBe('lab');
    // a wiring result about a node the plan does not have names nothing we draw
    expect(
      elementsOfResult(
        plan,
        result({ id: 'wiring.container', subject: 'ghost', status: 'fail', data: { node: 'ghost' } }),
      ),
    ).toEqual([]);
  });

  it('finds the router links on the shortest path between two networks', () => {
    expect(routerPath(plan, 'vpc-b', new Set(['vpc-a']))).toEqual(['rlink:edge.vpc-b', 'rlink:edge.vpc-a']);
    expect(routerPath(plan, 'vpc-a', new Set(['vpc-a']))).toEqual([]);
    expect(routerPath(plan, 'vpc-a', new Set(['nowhere']))).toEqual([]);
  });
});

describe('healthOf rules', () => {
  it('a host root fails every element its symptoms are about, and is listed for the lab as a whole', () => {
    const h = healthOf(plan, {
      lab: plan.lab,
      checks: [
        result({
          id: 'host.ovn-controller',
          subject: 'ovn-controller',
          status: 'fail',
          cause: 'ovn-controller-down',
          evidence: 'no pidfile',
        }),
        result({
          id: 'wiring.binding',
          subject: 'db.eth1',
          status: 'skip',
          followsFrom: 'host.ovn-controller ovn-controller',
          data: { node: 'db', iface: 'eth1', symptom: { status: 'fail', cause: 'port-unbound' } },
        }),
        result({ id: 'wiring.container', subject: 'web', status: 'pass', data: { node: 'web' } }),
      ],
    });
    expect(h.ok).toBe(false);
    expect(h.labWide.map((f) => f.cause)).toEqual(['ovn-controller-down']);
    expect(h.elements.get('iface:db.eth1')).toMatchObject({
      status: 'fail',
      findings: [{ cause: 'ovn-controller-down' }],
    });
    expect(h.elements.get('node:db')?.status).toBe('fail');
    expect(h.elements.get('node:web')?.status).toBe('pass');
    // nothing reported about client or the router: not checked, never "healthy"
    expect(h.elements.get('node:client')?.status).toBe('unchecked');
    expect(h.elements.get('rlink:edge.vpc-a')?.status).toBe('unchecked');
  });

  it('a warning colours amber; a skip without a root says nothing; a symptom whose root is absent marks its own elements', () => {
    const h = healthOf(plan, {
      lab: plan.lab,
      checks: [
        result({
          id: 'wiring.mtu',
          subject: 'web.eth1',
          status: 'warn',
          data: { node: 'web', iface: 'eth1' },
        }),
        result({ id: 'wiring.mtu', subject: 'db.eth1', status: 'skip', data: { node: 'db', iface: 'eth1' } }),
        result({
          id: 'wiring.lsp',
          subject: 'client.eth1',
          status: 'skip',
          followsFrom: 'wiring.gone client',
          data: { node: 'client', iface: 'eth1', symptom: { status: 'fail', cause: 'lsp-missing' } },
        }),
      ],
    });
    expect(h.elements.get('iface:web.eth1')?.status).toBe('warn');
    expect(h.elements.get('node:web')?.status).toBe('warn');
    expect(h.elements.get('iface:db.eth1')?.status).toBe('unchecked');
    expect(h.elements.get('iface:client.eth1')).toMatchObject({
      status: 'fail',
      findings: [{ cause: 'lsp-missing' }],
    });
  });
});
