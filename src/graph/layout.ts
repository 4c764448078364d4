/**
 * Place the picture's boxes and route its lines with elkjs (the Eclipse Layout Kernel compiled to JavaScript: no
 * system dependency, layered layout with orthogonal edge routing, edge labels and nested groups — docs/graph.md says
 * why it was chosen over graphviz). The boxes' sizes come from their text (estimated; no browser here), the result
 * is absolute coordinates for the SVG renderer.
 *
 * Lines are oriented away from the first switch (breadth first), so elk's layers read top-down like a network
 * diagram: a switch, the nodes and routers on it, the next switch behind a router, its nodes, …
 */
import type { ELK as ElkApi, ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';

type ElkCtor = new () => ElkApi;

import type { ElementHealth } from './health.js';
import { chassisGroups, edgesOf, type GraphEdge, type Topology } from './model.js';

export type BoxKind = 'node' | 'switch' | 'router' | 'vip' | 'chassis';

export interface TextLine {
  text: string;
  /** 'title' is bold and larger; 'cause' is a health label */
  style: 'title' | 'plain' | 'small' | 'cause';
}

export interface Box {
  id: string;
  kind: BoxKind;
  x: number;
  y: number;
  width: number;
  height: number;
  lines: TextLine[];
}

export interface Line {
  edge: GraphEdge;
  points: { x: number; y: number }[];
  label?: { x: number; y: number; width: number; height: number; lines: TextLine[] };
}

export interface Layout {
  width: number;
  height: number;
  boxes: Box[];
  lines: Line[];
}

export const FONT = { title: 14, plain: 12, small: 11, cause: 11 } as const;
export const LINE_HEIGHT = { title: 18, plain: 15, small: 14, cause: 14 } as const;
const PAD_X = 12;
const PAD_Y = 8;

/** Width of a line of text: DejaVu Sans / Verdana average advance (~0.6 em, bold ~0.68), rounded up for safety. */
export function textWidth(line: TextLine): number {
  const em = line.style === 'title' ? 0.68 : 0.62;
  return Math.ceil(line.text.length * FONT[line.style] * em);
}

function size(lines: TextLine[], minWidth = 0): { width: number; height: number } {
  const w = Math.max(minWidth, ...lines.map(textWidth)) + 2 * PAD_X;
  const h = lines.reduce((a, l) => a + LINE_HEIGHT[l.style], 0) + 2 * PAD_Y;
  return { width: Math.ceil(w), height: Math.ceil(h) };
}

/** The worst cause of an element, as a label line (and how many other causes its tooltip lists). */
function causeLine(h: ElementHealth | undefined): TextLine[] {
  if (!h || (h.status !== 'fail' && h.status !== 'warn')) return [];
  const bad = h.findings.filter((x) => x.status !== 'pass');
  const causes = [...new Set(bad.map((f) => f.cause ?? f.check))];
  const mark = h.status === 'fail' ? '✖' : '!';
  const more = causes.length - 1;
  return [
    {
      text: `${mark} ${causes[0] ?? h.status}${more > 0 ? ` (+${more} more)` : ''}`,
      style: 'cause',
    },
  ];
}

/** The text of every box and line label, given the health (or none). */
export function boxText(
  t: Topology,
  health?: Map<string, ElementHealth>,
): { boxes: Map<string, { kind: BoxKind; lines: TextLine[] }>; labels: Map<string, TextLine[]> } {
  const boxes = new Map<string, { kind: BoxKind; lines: TextLine[] }>();
  for (const n of t.nodes)
    boxes.set(n.id, {
      kind: 'node',
      lines: [
        { text: n.name, style: 'title' },
        ...n.publicIps.map((p) => ({ text: `public ${p.ip}`, style: 'small' as const })),
        ...(n.listen.length ? [{ text: `serves ${n.listen.join(' ')}`, style: 'small' as const }] : []),
        ...causeLine(health?.get(n.id)),
      ],
    });
  for (const s of t.switches)
    boxes.set(s.id, {
      kind: 'switch',
      lines: [
        { text: s.network, style: 'title' },
        { text: `${s.subnet}${s.mtu !== 1500 ? ` mtu ${s.mtu}` : ''}`, style: 'plain' },
      ],
    });
  for (const r of t.routers)
    boxes.set(r.id, {
      kind: 'router',
      lines: [
        { text: r.name, style: 'title' },
        { text: r.chassis ? `gateway router on ${r.chassis}` : 'router', style: 'small' },
        ...r.nat.map((n) => ({ text: `${n.type} ${n.external} ← ${n.logical}`, style: 'small' as const })),
        ...causeLine(health?.get(r.id)),
      ],
    });
  for (const v of t.vips)
    boxes.set(v.id, {
      kind: 'vip',
      lines: [
        { text: `VIP ${v.name}`, style: 'title' },
        { text: `${v.vipIp}${v.service ? ` ${v.service}` : ' (every port)'}`, style: 'plain' },
        ...causeLine(health?.get(v.id)),
      ],
    });
  const labels = new Map<string, TextLine[]>();
  for (const e of edgesOf(t)) {
    if (!e.label) continue;
    const lines: TextLine[] = [{ text: e.label, style: 'small' }];
    if (e.kind === 'iface' || e.kind === 'router-link') lines.push(...causeLine(health?.get(e.id)));
    labels.set(e.id, lines);
  }
  return { boxes, labels };
}

/** Orient lines away from the first switch, breadth first, so layers read top-down. */
export function orient(t: Topology, edges: GraphEdge[]): GraphEdge[] {
  const adj = new Map<string, string[]>();
  const link = (a: string, b: string) => {
    adj.set(a, [...(adj.get(a) ?? []), b]);
  };
  for (const e of edges) {
    link(e.from, e.to);
    link(e.to, e.from);
  }
  const order = new Map<string, number>();
  const starts = [...t.switches.map((s) => s.id), ...t.nodes.map((n) => n.id), ...t.routers.map((r) => r.id)];
  for (const start of starts) {
    if (order.has(start)) continue;
    order.set(start, order.size);
    const queue = [start];
    for (let k = 0; k < queue.length; k++)
      for (const next of adj.get(queue[k]!) ?? [])
        if (!order.has(next)) {
          order.set(next, order.size);
          queue.push(next);
        }
  }
  return edges.map((e) =>
    (order.get(e.from) ?? 0) <= (order.get(e.to) ?? 0) ? e : { ...e, from: e.to, to: e.from },
  );
}

/** Lay the topology out. */
export async function layoutTopology(t: Topology, health?: Map<string, ElementHealth>): Promise<Layout> {
  // a CommonJS module whose exports are the constructor and also carry it as `default`: take whichever is callable
  const mod = (await import('elkjs/lib/elk.bundled.js')) as unknown as { default: { default?: ElkCtor } };
  const ELK = (mod.default.default ?? mod.default) as ElkCtor;
  const elk = new ELK();
  const text = boxText(t, health);
  const edges = orient(t, edgesOf(t));
  const degree = new Map<string, number>();
  for (const e of edges) for (const v of [e.from, e.to]) degree.set(v, (degree.get(v) ?? 0) + 1);
  const elkNode = (id: string): ElkNode => {
    const b = text.boxes.get(id)!;
    // a switch is a wide bar: room for every line that meets it
    const min = b.kind === 'switch' ? Math.min(900, 70 * (degree.get(id) ?? 1)) : 0;
    return { id, ...size(b.lines, min) };
  };
  const groups = chassisGroups(t);
  const grouped = new Set([...(groups?.values() ?? [])].flat());
  const children: ElkNode[] = [];
  for (const [c, ids] of groups ?? [])
    children.push({
      id: `chassis:${c}`,
      labels: [
        { text: `chassis ${c}`, width: textWidth({ text: `chassis ${c}`, style: 'plain' }), height: 16 },
      ],
      layoutOptions: {
        'elk.padding': '[top=30,left=14,bottom=14,right=14]',
        'elk.nodeLabels.placement': 'INSIDE V_TOP H_LEFT',
      },
      children: ids.map(elkNode),
    });
  for (const id of text.boxes.keys()) if (!grouped.has(id)) children.push(elkNode(id));
  const elkEdges: ElkExtendedEdge[] = edges.map((e) => {
    const lines = text.labels.get(e.id);
    return {
      id: e.id,
      sources: [e.from],
      targets: [e.to],
      ...(lines
        ? {
            labels: [
              {
                id: `${e.id}#label`,
                text: lines.map((l) => l.text).join('\n'),
                ...size(lines),
              },
            ],
          }
        : {}),
    };
  });
  const input: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      'elk.layered.spacing.nodeNodeBetweenLayers': '46',
      'elk.spacing.nodeNode': '36',
      'elk.spacing.edgeNode': '18',
      'elk.spacing.edgeEdge': '14',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.edgeLabels.sideSelection': 'ALWAYS_DOWN',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.padding': '[top=12,left=12,bottom=12,right=12]',
    },
    children,
    edges: elkEdges,
  };
  const graph: ElkNode = await elk.layout(input);
  // absolute positions: children are relative to their parent, lines to their container
  const offset = new Map<string, { x: number; y: number }>([['root', { x: 0, y: 0 }]]);
  const boxes: Box[] = [];
  const walk = (n: ElkNode, ox: number, oy: number) => {
    for (const c of n.children ?? []) {
      const x = ox + (c.x ?? 0);
      const y = oy + (c.y ?? 0);
      offset.set(c.id, { x, y });
      const b = text.boxes.get(c.id);
      if (b)
        boxes.push({
          id: c.id,
          kind: b.kind,
          x,
          y,
          width: c.width ?? 0,
          height: c.height ?? 0,
          lines: b.lines,
        });
      else
        boxes.push({
          id: c.id,
          kind: 'chassis',
          x,
          y,
          width: c.width ?? 0,
          height: c.height ?? 0,
          lines: [{ text: c.labels?.[0]?.text ?? c.id, style: 'plain' }],
        });
      walk(c, x, y);
    }
  };
  walk(graph, 0, 0);
  const byId = new Map(edges.map((e) => [e.id, e]));
  const lines: Line[] = [];
  const collect = (n: ElkNode) => {
    for (const e of n.edges ?? []) {
      const container = (e as { container?: string }).container ?? n.id;
      const o = offset.get(container) ?? { x: 0, y: 0 };
      const s = e.sections?.[0];
      if (!s) continue;
      const points = [s.startPoint, ...(s.bendPoints ?? []), s.endPoint].map((p) => ({
        x: p.x + o.x,
        y: p.y + o.y,
      }));
      const l = e.labels?.[0];
      const edge = byId.get(e.id)!;
      const labelLines = text.labels.get(e.id);
      lines.push({
        edge,
        points,
        ...(l && labelLines
          ? {
              label: {
                x: (l.x ?? 0) + o.x,
                y: (l.y ?? 0) + o.y,
                width: l.width ?? 0,
                height: l.height ?? 0,
                lines: labelLines,
              },
            }
          : {}),
      });
    }
    for (const c of n.children ?? []) collect(c);
  };
  collect(graph);
  centreLabels(lines, boxes);
  return { width: Math.ceil(graph.width ?? 0), height: Math.ceil(graph.height ?? 0), boxes, lines };
}

interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}
const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Move each label onto its line where it then overlaps no box and no other label; else leave it where elk put it.
 * Pass after pass (at most one per label), since a label may only fit once its neighbour has moved.
 */
function centreLabels(lines: Line[], boxes: Box[]): void {
  const solid = boxes.filter((b) => b.kind !== 'chassis');
  const labelled = lines.filter((l) => l.label);
  for (let pass = 0; pass <= labelled.length; pass++) {
    let moved = 0;
    for (const l of labelled) {
      const label = l.label!;
      const x = onLine(l.points, label.x, label.y, label.width, label.height);
      if (x === label.x) continue;
      const there = { ...label, x };
      const others = labelled.filter((o) => o !== l).map((o) => o.label!);
      if (solid.some((b) => overlap(there, b)) || others.some((o) => overlap(there, o))) continue;
      label.x = x;
      moved++;
    }
    if (!moved) break;
  }
}

/**
 * elk places a label beside its line (in the room it reserved); the label reads better centred on the line, so
 * move it sideways onto the vertical segment that passes its middle, when there is one.
 */
export function onLine(
  points: { x: number; y: number }[],
  x: number,
  y: number,
  w: number,
  h: number,
): number {
  const mid = y + h / 2;
  for (let k = 0; k + 1 < points.length; k++) {
    const a = points[k]!;
    const b = points[k + 1]!;
    if (Math.abs(a.x - b.x) < 0.5 && Math.min(a.y, b.y) <= mid && mid <= Math.max(a.y, b.y))
      return a.x - w / 2;
  }
  return x;
}
