/**
 * The picture as text for other tools: Graphviz DOT (`dot -Tsvg`, or any DOT viewer) and a Mermaid flowchart
 * (renders in GitHub/GitLab markdown). Same elements, ids and health colours as the SVG; chassis become clusters /
 * subgraphs when the lab spans more than one.
 */
import { type ElementHealth, findingLine, type HealthMap } from './health.js';
import { chassisGroups, edgesOf, type Topology } from './model.js';
import { COLORS } from './render-svg.js';

type Status = keyof typeof COLORS;

function statusOf(h: HealthMap | undefined, id: string): Status {
  return h ? (h.elements.get(id)?.status ?? 'unchecked') : 'plain';
}

function causeOf(e: ElementHealth | undefined): string | undefined {
  if (!e || (e.status !== 'fail' && e.status !== 'warn')) return undefined;
  return e.findings[0]?.cause ?? e.findings[0]?.check;
}

function labelsOf(t: Topology, h?: HealthMap): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const cause = (id: string) => {
    const c = causeOf(h?.elements.get(id));
    return c ? [`✖ ${c}`] : [];
  };
  for (const n of t.nodes)
    out.set(n.id, [n.name, ...n.publicIps.map((p) => `public ${p.ip}`), ...cause(n.id)]);
  for (const s of t.switches) out.set(s.id, [s.network, s.subnet]);
  for (const r of t.routers)
    out.set(r.id, [
      r.name,
      r.chassis ? `gateway on ${r.chassis}` : 'router',
      ...r.nat.map((n) => `${n.type} ${n.external} ← ${n.logical}`),
      ...cause(r.id),
    ]);
  for (const v of t.vips) out.set(v.id, [`VIP ${v.name}`, `${v.vipIp}${v.service ? ` ${v.service}` : ''}`]);
  return out;
}

const dq = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Graphviz DOT. */
export function renderDot(t: Topology, h?: HealthMap): string {
  const labels = labelsOf(t, h);
  const out: string[] = [
    `graph ${dq(`lab ${t.lab}`)} {`,
    `  graph [rankdir=TB, fontname="DejaVu Sans", label=${dq(`lab ${t.lab}`)}, labelloc=t];`,
    '  node [fontname="DejaVu Sans", fontsize=11];',
    '  edge [fontname="DejaVu Sans", fontsize=9];',
  ];
  const tip = (id: string) => {
    const e = h?.elements.get(id);
    if (!e || e.status === 'unchecked') return '';
    const lines = e.findings
      .filter((f) => f.status !== 'pass')
      .slice(0, 8)
      .map(findingLine);
    return lines.length ? `, tooltip=${dq(lines.join('\n'))}` : '';
  };
  const nodeLine = (id: string) => {
    const st = statusOf(h, id);
    const c = COLORS[st];
    const lab = dq((labels.get(id) ?? [id]).join('\n'));
    if (id.startsWith('switch:'))
      return `  ${dq(id)} [shape=box, style="filled,rounded", fillcolor="#1565c0", fontcolor="white", label=${lab}];`;
    if (id.startsWith('router:'))
      return `  ${dq(id)} [shape=box, style="filled,rounded", fillcolor="#ede7f6", color="${h ? c.stroke : '#5e35b1'}", penwidth=2, label=${lab}${tip(id)}];`;
    if (id.startsWith('vip:'))
      return `  ${dq(id)} [shape=box, style="filled,dashed,rounded", fillcolor="#e0f7fa", color="#00838f", label=${lab}${tip(id)}];`;
    return `  ${dq(id)} [shape=box, style="filled,rounded", fillcolor="${c.fill}", color="${c.stroke}", penwidth=2, label=${lab}${tip(id)}];`;
  };
  const groups = chassisGroups(t);
  const grouped = new Set([...(groups?.values() ?? [])].flat());
  let k = 0;
  for (const [c, ids] of groups ?? []) {
    out.push(
      `  subgraph ${dq(`cluster_${k++}`)} {`,
      `    label=${dq(`chassis ${c}`)}; style=dashed; color="#90a4ae";`,
    );
    for (const id of ids) out.push(`  ${nodeLine(id)}`);
    out.push('  }');
  }
  for (const id of labels.keys()) if (!grouped.has(id)) out.push(nodeLine(id));
  for (const e of edgesOf(t)) {
    const health = e.kind === 'iface' || e.kind === 'router-link';
    const st = health ? statusOf(h, e.id) : 'plain';
    const cause = health ? causeOf(h?.elements.get(e.id)) : undefined;
    const label = [e.label, cause ? `✖ ${cause}` : undefined].filter(Boolean).join('\n');
    const style = e.kind.startsWith('vip')
      ? ', style=dashed, color="#00838f"'
      : `, color="${COLORS[st].stroke}"`;
    out.push(
      `  ${dq(e.from)} -- ${dq(e.to)} [id=${dq(e.id)}${label ? `, label=${dq(label)}` : ''}${style}${st === 'fail' ? ', penwidth=3' : ''}${health ? tip(e.id) : ''}];`,
    );
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** Mermaid ids: names are [a-z0-9-] and kinds are prefixed, so this is one-to-one. */
const mid = (id: string) => id.replace(/[^A-Za-z0-9]/g, '_');
const mtext = (s: string) => s.replace(/"/g, '#quot;');

/** A Mermaid flowchart. */
export function renderMermaid(t: Topology, h?: HealthMap): string {
  const labels = labelsOf(t, h);
  const out: string[] = ['flowchart TB'];
  const shape = (id: string) => {
    const lab = `"${mtext((labels.get(id) ?? [id]).join('<br/>'))}"`;
    if (id.startsWith('switch:')) return `${mid(id)}[${lab}]`;
    if (id.startsWith('router:')) return `${mid(id)}([${lab}])`;
    if (id.startsWith('vip:')) return `${mid(id)}[/${lab}/]`;
    return `${mid(id)}(${lab})`;
  };
  const groups = chassisGroups(t);
  const grouped = new Set([...(groups?.values() ?? [])].flat());
  let k = 0;
  for (const [c, ids] of groups ?? []) {
    out.push(`  subgraph chassis_${k++}["chassis ${mtext(c)}"]`);
    for (const id of ids) out.push(`    ${shape(id)}`);
    out.push('  end');
  }
  for (const id of labels.keys()) if (!grouped.has(id)) out.push(`  ${shape(id)}`);
  const edges = edgesOf(t);
  const linkStyles: string[] = [];
  edges.forEach((e, i) => {
    const health = e.kind === 'iface' || e.kind === 'router-link';
    const cause = health ? causeOf(h?.elements.get(e.id)) : undefined;
    const label = [e.label, cause ? `✖ ${cause}` : undefined].filter(Boolean).join(' ');
    const arrow = e.kind.startsWith('vip') ? '-.-' : '---';
    out.push(`  ${mid(e.from)} ${arrow}${label ? `|"${mtext(label)}"|` : ''} ${mid(e.to)}`);
    if (h && health) {
      const st = statusOf(h, e.id);
      linkStyles.push(`  linkStyle ${i} stroke:${COLORS[st].stroke},stroke-width:${st === 'fail' ? 3 : 2}px`);
    }
  });
  out.push('  classDef switch fill:#1565c0,color:#fff,stroke:#0d47a1');
  out.push('  classDef router fill:#ede7f6,stroke:#5e35b1');
  out.push('  classDef vip fill:#e0f7fa,stroke:#00838f,stroke-dasharray:5 3');
  for (const st of ['pass', 'warn', 'fail', 'unchecked'] as const)
    out.push(`  classDef ${st} fill:${COLORS[st].fill},stroke:${COLORS[st].stroke},stroke-width:2px`);
  const cls = (ids: string[], name: string) => {
    if (ids.length) out.push(`  class ${ids.map(mid).join(',')} ${name}`);
  };
  cls(
    t.switches.map((s) => s.id),
    'switch',
  );
  cls(
    t.vips.map((v) => v.id),
    'vip',
  );
  if (h) {
    for (const st of ['pass', 'warn', 'fail', 'unchecked'] as const)
      cls(
        [...t.nodes.map((n) => n.id), ...t.routers.map((r) => r.id)].filter((id) => statusOf(h, id) === st),
        st,
      );
  } else
    cls(
      t.routers.map((r) => r.id),
      'router',
    );
  out.push(...linkStyles);
  return `${out.join('\n')}\n`;
}
