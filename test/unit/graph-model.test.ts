/**
 * labctl graph's model, layout and renderers, from the plans of the repository's labs (no daemons): every node,
 * switch, router, VIP and NAT address is in the model and in every output format; chassis grouping follows the
 * plan's data; the layout's boxes and labels do not overlap; the SVG and HTML are well-formed XML/markup.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { formatOf } from '../../src/cli/graph.js';
import { layoutTopology } from '../../src/graph/layout.js';
import { chassisGroups, edgesOf, topologyOf } from '../../src/graph/model.js';
import { renderHtml } from '../../src/graph/render-html.js';
import { renderSvg } from '../../src/graph/render-svg.js';
import { renderDot, renderMermaid } from '../../src/graph/render-text.js';
import type { Plan } from '../../src/plan/types.js';
import { planOf } from './graph-fixtures.js';

const LABS = [
  'lab.yml',
  'examples/address-change/lab.yml',
  'examples/mtd/lab.yml',
  'examples/ovn-vpc/lab.yml',
  'examples/service-migration/lab.yml',
  'examples/service-migration/migrated.yml',
  'examples/tcp-migration/lab.yml',
  'examples/tcp-migration/moved.yml',
  // multi-homed node, four switches, two routers, a router-less network
  'test/fixtures/valid/three-tier.yml',
];

/** Every text content of an SVG document, in document order. */
function svgTexts(svg: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (k === 'text')
          for (const t of [x].flat()) out.push(String((t as { '#text'?: unknown })['#text'] ?? t));
        else walk(x);
      }
  };
  walk(new XMLParser({ ignoreAttributes: false }).parse(svg));
  return out;
}

describe('topologyOf', () => {
  it('has the default lab: nodes with interfaces, switches with subnets, the router with its addresses', () => {
    const t = topologyOf(planOf('lab.yml'));
    expect(t.lab).toBe('two-vpcs');
    expect(t.chassis).toEqual(['local']);
    expect(t.nodes.map((n) => n.name)).toEqual(['web', 'db', 'client']);
    expect(t.nodes[0]!.interfaces).toEqual([
      expect.objectContaining({ id: 'iface:web.eth1', network: 'vpc-a', ip: '10.0.1.10', prefix: 24 }),
    ]);
    expect(t.nodes[0]!.listen).toEqual(['tcp/80']);
    expect(t.switches.map((s) => [s.network, s.subnet])).toEqual([
      ['vpc-a', '10.0.1.0/24'],
      ['vpc-b', '10.0.2.0/24'],
    ]);
    expect(t.routers).toEqual([
      expect.objectContaining({
        id: 'router:edge',
        links: [
          expect.objectContaining({ id: 'rlink:edge.vpc-a', address: '10.0.1.1/24' }),
          expect.objectContaining({ id: 'rlink:edge.vpc-b', address: '10.0.2.1/24' }),
        ],
      }),
    ]);
    expect(edgesOf(t).map((e) => `${e.kind} ${e.from} ${e.to}`)).toEqual([
      'iface node:web switch:vpc-a',
      'iface node:db switch:vpc-a',
      'iface node:client switch:vpc-b',
      'router-link router:edge switch:vpc-a',
      'router-link router:edge switch:vpc-b',
    ]);
  });

  it('gives each node its NAT public address and names the gateway router chassis', () => {
    const t = topologyOf(planOf('examples/mtd/lab.yml'));
    expect(t.nodes.map((n) => n.publicIps.map((p) => p.ip))).toEqual([
      ['100.64.0.11'],
      ['100.64.0.12'],
      ['100.64.0.13'],
      ['100.64.0.14'],
      ['100.64.0.15'],
      ['100.64.0.16'],
    ]);
    expect(t.routers[0]).toMatchObject({ name: 'gw', chassis: 'local', nat: [] });
  });

  it('draws a VIP attached to its router or switch with a dashed line to each backend', () => {
    const t = topologyOf(planOf('examples/tcp-migration/lab.yml'));
    expect(t.vips).toEqual([
      expect.objectContaining({ id: 'vip:service', vipIp: '10.40.9.80', service: 'tcp/80' }),
      expect.objectContaining({ id: 'vip:echo', vipIp: '10.40.9.80', service: 'tcp/7000' }),
    ]);
    const e = edgesOf(t).filter((x) => x.kind.startsWith('vip'));
    expect(e.map((x) => `${x.kind} ${x.from} ${x.to}`)).toEqual([
      expect.stringMatching(/^vip-attach (router:r|switch:lan) vip:service$/),
      'vip-backend vip:service node:server1',
      expect.stringMatching(/^vip-attach (router:r|switch:lan) vip:echo$/),
      'vip-backend vip:echo node:server1',
    ]);
  });

  it('groups nodes and gateway routers by chassis only when the plan places them on more than one', () => {
    const plan = planOf('examples/mtd/lab.yml');
    expect(chassisGroups(topologyOf(plan))).toBeUndefined();
    // a multi-chassis plan (as the multi-chassis work will compile it): the grouping follows the data
    const multi: Plan = {
      ...plan,
      hosts: [{ name: 'local' }, { name: 'c2' }],
      nodes: plan.nodes.map((n, k) => ({ ...n, host: k < 3 ? 'local' : 'c2' })),
      routers: plan.routers.map((r) => ({ ...r, chassis: 'c2' })),
    };
    const t = topologyOf(multi);
    expect(t.chassis).toEqual(['local', 'c2']);
    expect(chassisGroups(t)).toEqual(
      new Map([
        ['local', ['node:h1', 'node:h2', 'node:h3']],
        ['c2', ['node:h4', 'node:h5', 'node:h6', 'router:gw']],
      ]),
    );
    expect(renderDot(t)).toContain('label="chassis c2"');
    expect(renderMermaid(t)).toContain('subgraph chassis_1["chassis c2"]');
  });
});

describe('renderers', () => {
  it.each(LABS)('%s: every output names every node, switch and router', async (file) => {
    const plan = planOf(file);
    const t = topologyOf(plan);
    const layout = await layoutTopology(t);
    const svg = renderSvg(t, layout);
    expect(XMLValidator.validate(svg)).toBe(true);
    const texts = svgTexts(svg);
    const names = [
      ...plan.nodes.map((n) => n.name),
      ...plan.switches.map((s) => s.network),
      ...plan.routers.map((r) => r.name),
      ...plan.loadBalancers.map((l) => `VIP ${l.name}`),
      ...plan.routers.flatMap((r) => r.nat.filter((n) => n.node).map((n) => `public ${n.external}`)),
    ];
    for (const name of names) expect(texts).toContain(name);
    const dot = renderDot(t);
    const mermaid = renderMermaid(t);
    for (const n of plan.nodes) {
      expect(dot).toContain(`"node:${n.name}"`);
      expect(mermaid).toContain(`node_${n.name.replace(/-/g, '_')}(`);
    }
    for (const s of plan.switches) expect(dot).toContain(`${s.network}\\n${s.subnet}`);
    const html = renderHtml(svg, { title: `lab ${plan.lab}` });
    expect(html).toContain("default-src 'none'");
    expect(html).not.toMatch(/\b(src|href)=["']?https?:/);
    expect(html).toContain(svg.trim());
  });

  it.each(LABS)('%s: boxes do not overlap each other, labels overlap no box', async (file) => {
    const t = topologyOf(planOf(file));
    const layout = await layoutTopology(t);
    const boxes = layout.boxes.filter((b) => b.kind !== 'chassis');
    const over = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width - 0.5 &&
      b.x < a.x + a.width - 0.5 &&
      a.y < b.y + b.height - 0.5 &&
      b.y < a.y + a.height - 0.5;
    for (const [i, a] of boxes.entries())
      for (const b of boxes.slice(i + 1)) expect(over(a, b), `${a.id} overlaps ${b.id}`).toBe(false);
    const labels = layout.lines.flatMap((l) => (l.label ? [{ id: l.edge.id, ...l.label }] : []));
    expect(labels.length).toBe(edgesOf(t).filter((e) => e.label).length);
    for (const l of labels)
      for (const b of boxes) expect(over(l, b), `label ${l.id} overlaps ${b.id}`).toBe(false);
    for (const [i, a] of labels.entries())
      for (const b of labels.slice(i + 1)) expect(over(a, b), `label ${a.id} overlaps ${b.id}`).toBe(false);
    // every line starts and ends on the boxes it joins
    for (const l of layout.lines) expect(l.points.length).toBeGreaterThanOrEqual(2);
  });

  it('escapes names in every format', () => {
    const plan = planOf('lab.yml');
    // names are [a-z0-9-] in a valid lab; the renderers must still not break on what a report's evidence holds
    const t = topologyOf({ ...plan, lab: 'a<b>&"c' });
    expect(XMLValidator.validate(renderSvg(t, { width: 10, height: 10, boxes: [], lines: [] }))).toBe(true);
    expect(renderDot(t)).toContain('"lab a<b>&\\"c"');
  });
});

describe('formatOf', () => {
  it('takes --format, else the -o extension, else svg', () => {
    expect(formatOf({})).toBe('svg');
    expect(formatOf({ output: 'x.html' })).toBe('html');
    expect(formatOf({ output: 'x.mmd' })).toBe('mermaid');
    expect(formatOf({ output: 'x.gv' })).toBe('dot');
    expect(formatOf({ format: 'dot', output: 'x.html' })).toBe('dot');
    expect(() => formatOf({ format: 'png' })).toThrow(/unknown --format png/);
  });
});
