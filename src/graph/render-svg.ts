/**
 * The picture as SVG: a heading, the laid-out topology, a legend and — with health — the root causes with their
 * evidence and fix. Every element is a `<g class="el KIND STATUS" data-id="GRAPH ID">` with a `<title>` (the
 * browser's tooltip: each finding with its cause and evidence), so the HTML page and tests can find it by id.
 */
import { type ElementHealth, type Finding, findingLine, type HealthMap } from './health.js';
import { type Box, FONT, type Layout, LINE_HEIGHT, type TextLine } from './layout.js';
import type { Topology } from './model.js';

export const COLORS = {
  pass: { stroke: '#2e7d32', fill: '#e8f5e9', text: '#1b5e20' },
  warn: { stroke: '#e65100', fill: '#fff3e0', text: '#bf360c' },
  fail: { stroke: '#c62828', fill: '#ffebee', text: '#b71c1c' },
  unchecked: { stroke: '#9e9e9e', fill: '#fafafa', text: '#616161' },
  plain: { stroke: '#455a64', fill: '#ffffff', text: '#263238' },
} as const;
const SWITCH = { fill: '#1565c0', text: '#ffffff' };
const ROUTER = { fill: '#ede7f6', stroke: '#5e35b1' };
const VIP = { fill: '#e0f7fa', stroke: '#00838f' };
export const FONT_FAMILY = "'DejaVu Sans', Verdana, 'Segoe UI', Arial, sans-serif";

export function xml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

const TITLES: Record<string, string> = {
  node: 'node',
  switch: 'switch',
  router: 'router',
  vip: 'load-balancer VIP',
  iface: 'interface',
  'router-link': 'router port',
};

/**
 * The tooltip of an element: what it is, its own root causes (cause, evidence, fix), then the results that follow
 * from a root cause grouped under it, its warnings, and how many results passed.
 */
export function tooltip(what: string, h: ElementHealth | undefined, roots: readonly Finding[] = []): string {
  if (!h) return what;
  if (h.status === 'unchecked') return `${what}\nnot checked by the doctor`;
  const state = h.status === 'fail' ? 'failed' : h.status === 'warn' ? 'warning' : 'healthy';
  const lines: string[] = [];
  const own = h.findings.filter((f) => (f.status === 'fail' || f.status === 'error') && !f.followsFrom);
  for (const f of own.slice(0, 6)) {
    lines.push(findingLine(f));
    if (f.fix) lines.push(`  fix: ${f.fix}`);
  }
  const groups = new Map<string, Finding[]>();
  for (const f of h.findings)
    if (f.followsFrom) groups.set(f.followsFrom, [...(groups.get(f.followsFrom) ?? []), f]);
  for (const [root, list] of groups) {
    const r = roots.find((x) => `${x.check} ${x.subject}` === root);
    const subjects = list.map((f) => (f.check.startsWith('dataplane.') ? f.subject : f.check));
    lines.push(
      `✖ ${list.length} result${list.length === 1 ? '' : 's'} follow${list.length === 1 ? 's' : ''} from ${root}${list[0]?.cause ? ` (${list[0].cause})` : ''}: ${subjects.slice(0, 6).join(', ')}${subjects.length > 6 ? ', …' : ''}`,
    );
    if (r?.evidence) lines.push(`  evidence: ${r.evidence}`);
    if (r?.fix) lines.push(`  fix: ${r.fix}`);
  }
  const warns = h.findings.filter((f) => f.status === 'warn');
  for (const f of warns.slice(0, 4)) lines.push(findingLine(f));
  const passed = h.findings.filter((f) => f.status === 'pass').length;
  if (passed) lines.push(`✔ ${passed} result${passed === 1 ? '' : 's'} passed`);
  return `${what}: ${state}\n${lines.join('\n')}`;
}

function textBlock(lines: TextLine[], cx: number, top: number, color: string, causeColor: string): string {
  let y = top;
  return lines
    .map((l) => {
      y += LINE_HEIGHT[l.style];
      const weight = l.style === 'title' ? ' font-weight="bold"' : '';
      const fill = l.style === 'cause' ? causeColor : color;
      const extra = l.style === 'cause' ? ' font-weight="bold"' : '';
      return `<text x="${cx}" y="${y - 4}" font-size="${FONT[l.style]}"${weight}${extra} fill="${fill}" text-anchor="middle">${xml(l.text)}</text>`;
    })
    .join('');
}

export interface SvgOptions {
  health?: HealthMap;
  /** the heading's second line */
  subtitle?: string;
}

/** Wrap text at `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text;
  for (let k = 0; k < 200 && rest.length > width; k++) {
    let cut = rest.lastIndexOf(' ', width);
    if (cut < width / 2) cut = width;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  out.push(rest);
  return out;
}

function describe(t: Topology, id: string): string {
  const [kind, name] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  if (kind === 'node') {
    const n = t.nodes.find((x) => x.id === id);
    return `node ${name} (chassis ${n?.chassis ?? '?'})`;
  }
  if (kind === 'iface') {
    const i = t.nodes.flatMap((n) => n.interfaces).find((x) => x.id === id);
    return i ? `interface ${i.node}.${i.name} ${i.ip}/${i.prefix} ${i.mac} on ${i.network}` : name;
  }
  if (kind === 'rlink') {
    const l = t.routers.flatMap((r) => r.links).find((x) => x.id === id);
    return l ? `router port ${l.router} on ${l.network} ${l.address}` : name;
  }
  if (kind === 'switch') {
    const s = t.switches.find((x) => x.id === id);
    return `switch ${name} ${s?.subnet ?? ''}`;
  }
  if (kind === 'vip') {
    const v = t.vips.find((x) => x.id === id);
    return `load-balancer ${name} VIP ${v?.vip ?? ''} → ${v?.backends.map((b) => b.node ?? b.ip).join(', ') ?? ''}`;
  }
  return `${TITLES[kind] ?? kind} ${name}`;
}

function statusOf(opts: SvgOptions, id: string): keyof typeof COLORS {
  if (!opts.health) return 'plain';
  return opts.health.elements.get(id)?.status ?? 'unchecked';
}

function boxSvg(t: Topology, b: Box, opts: SvgOptions): string {
  const h = opts.health?.elements.get(b.id);
  const st = statusOf(opts, b.id);
  const title = `<title>${xml(opts.health ? tooltip(describe(t, b.id), h, opts.health.roots) : describe(t, b.id))}</title>`;
  const cx = b.x + b.width / 2;
  const top = b.y + 8;
  if (b.kind === 'chassis')
    return `<g class="el chassis" data-id="${xml(b.id)}"><rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="10" fill="#f7f9fb" stroke="#90a4ae" stroke-dasharray="6 4"/><text x="${b.x + 12}" y="${b.y + 20}" font-size="12" fill="#546e7a" font-weight="bold">${xml(b.lines[0]?.text ?? '')}</text></g>`;
  let shape: string;
  let color: string = COLORS.plain.text;
  let cause: string = COLORS[st].text;
  if (b.kind === 'switch') {
    shape = `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="4" fill="${SWITCH.fill}"/>`;
    color = SWITCH.text;
    cause = SWITCH.text;
  } else if (b.kind === 'router') {
    const stroke = opts.health ? COLORS[st].stroke : ROUTER.stroke;
    const fill = opts.health && st !== 'pass' && st !== 'unchecked' ? COLORS[st].fill : ROUTER.fill;
    shape = `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="${Math.min(18, b.height / 2)}" fill="${fill}" stroke="${stroke}" stroke-width="2"/>`;
  } else if (b.kind === 'vip') {
    const stroke = opts.health && st !== 'unchecked' ? COLORS[st].stroke : VIP.stroke;
    shape = `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="6" fill="${VIP.fill}" stroke="${stroke}" stroke-width="2" stroke-dasharray="6 3"/>`;
  } else {
    const c = COLORS[st];
    shape = `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="6" fill="${c.fill}" stroke="${c.stroke}" stroke-width="${st === 'fail' ? 3 : 2}"/>`;
  }
  // switches are drawn, not judged: no check is about a switch as a whole
  const judged = opts.health && b.kind !== 'switch';
  const cls = judged ? `el ${b.kind} ${st}` : `el ${b.kind}`;
  return `<g class="${cls}" data-id="${xml(b.id)}"${judged ? ` data-status="${st}"` : ''}>${title}${shape}${textBlock(b.lines, cx, top, color, cause)}</g>`;
}

function lineSvg(t: Topology, l: Layout['lines'][number], opts: SvgOptions): string {
  const e = l.edge;
  const pts = l.points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
  const health = e.kind === 'iface' || e.kind === 'router-link';
  const st = health ? statusOf(opts, e.id) : 'plain';
  const stroke =
    e.kind === 'vip-attach' || e.kind === 'vip-backend'
      ? VIP.stroke
      : st === 'plain'
        ? '#546e7a'
        : COLORS[st].stroke;
  const width = st === 'fail' ? 3.5 : 2;
  const dash =
    e.kind === 'vip-backend' || e.kind === 'vip-attach'
      ? ' stroke-dasharray="5 4"'
      : st === 'unchecked'
        ? ' stroke-dasharray="2 3"'
        : '';
  const h = opts.health?.elements.get(e.id);
  const title = health
    ? `<title>${xml(opts.health ? tooltip(describe(t, e.id), h, opts.health.roots) : describe(t, e.id))}</title>`
    : '';
  let label = '';
  if (l.label) {
    const b = l.label;
    const fill = st === 'fail' ? COLORS.fail.fill : st === 'warn' ? COLORS.warn.fill : '#ffffff';
    const border = st === 'plain' || st === 'unchecked' || !health ? '#cfd8dc' : COLORS[st].stroke;
    label = `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${b.height}" rx="3" fill="${fill}" stroke="${border}"/>${textBlock(b.lines, b.x + b.width / 2, b.y + 8, COLORS.plain.text, COLORS[st === 'plain' ? 'fail' : st].text)}`;
  }
  const cls = health ? `el ${e.kind} ${st}` : `line ${e.kind}`;
  return `<g class="${cls}" data-id="${xml(e.id)}"${health ? ` data-status="${st}"` : ''}>${title}<polyline points="${pts}" fill="none" stroke="${stroke}" stroke-width="${width}"${dash}/>${label}</g>`;
}

const LEGEND_HEALTH: [keyof typeof COLORS, string][] = [
  ['pass', 'healthy: every result passed'],
  ['warn', 'warning'],
  ['fail', 'failed (or follows from a failed root cause)'],
  ['unchecked', 'not checked'],
];

export const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The whole SVG document. */
export function renderSvg(t: Topology, layout: Layout, opts: SvgOptions = {}): string {
  const M = 16;
  const headH = 50;
  const ox = M;
  const oy = headH;
  const parts: string[] = [];
  // heading
  const title = `lab ${t.lab}`;
  const sub =
    opts.subtitle ??
    `${count(t.nodes.length, 'node')}, ${count(t.switches.length, 'switch', 'switches')}, ${count(t.routers.length, 'router')}${t.vips.length ? `, ${count(t.vips.length, 'VIP')}` : ''} · chassis ${t.chassis.join(', ')}`;
  parts.push(
    `<text x="${M}" y="24" font-size="18" font-weight="bold" fill="#263238">${xml(title)}</text>`,
    `<text x="${M}" y="42" font-size="12" fill="#546e7a">${xml(sub)}</text>`,
  );
  const body: string[] = [];
  for (const b of layout.boxes.filter((x) => x.kind === 'chassis')) body.push(boxSvg(t, b, opts));
  for (const l of layout.lines) body.push(lineSvg(t, l, opts));
  for (const b of layout.boxes.filter((x) => x.kind !== 'chassis')) body.push(boxSvg(t, b, opts));
  parts.push(`<g class="topology" transform="translate(${ox},${oy})">${body.join('')}</g>`);
  // legend
  let y = oy + layout.height + 24;
  const legend: string[] = [];
  let x = M;
  const item = (swatch: string, text: string) => {
    legend.push(
      `<g transform="translate(${x},${y})">${swatch}<text x="26" y="12" font-size="11" fill="#37474f">${xml(text)}</text></g>`,
    );
    // legend text is short: a tighter estimate than the boxes' keeps the items together
    x += 40 + Math.ceil(text.length * FONT.small * 0.58);
  };
  item(`<rect width="20" height="14" rx="3" fill="${SWITCH.fill}"/>`, 'switch (subnet)');
  item(
    `<rect width="20" height="14" rx="7" fill="${ROUTER.fill}" stroke="${ROUTER.stroke}" stroke-width="2"/>`,
    'router',
  );
  item(
    `<rect width="20" height="14" rx="3" fill="#fff" stroke="${COLORS.plain.stroke}" stroke-width="2"/>`,
    'node',
  );
  if (t.vips.length)
    item(
      `<rect width="20" height="14" rx="3" fill="${VIP.fill}" stroke="${VIP.stroke}" stroke-width="2" stroke-dasharray="4 2"/>`,
      'load-balancer VIP (dashed: to its backends)',
    );
  let width = Math.max(layout.width + 2 * M, x + M);
  if (opts.health) {
    y += 24;
    x = M;
    for (const [st, text] of LEGEND_HEALTH) {
      const c = COLORS[st];
      item(
        `<rect width="20" height="14" rx="3" fill="${c.fill}" stroke="${c.stroke}" stroke-width="2"${st === 'unchecked' ? ' stroke-dasharray="2 2"' : ''}/>`,
        text,
      );
    }
    width = Math.max(width, x + M);
  }
  parts.push(`<g class="legend">${legend.join('')}</g>`);
  y += 22;
  // root causes with their evidence and fix
  if (opts.health) {
    const h = opts.health;
    const cols = Math.max(60, Math.floor((Math.max(width, 720) - 2 * M) / (FONT.small * 0.62)));
    const out: string[] = [];
    const put = (text: string, style: TextLine['style'], color: string, indent = 0) => {
      y += LINE_HEIGHT[style];
      out.push(
        `<text x="${M + indent}" y="${y}" font-size="${FONT[style]}"${style === 'title' ? ' font-weight="bold"' : ''} fill="${color}">${xml(text)}</text>`,
      );
    };
    const findings: Finding[] = [...h.labWide.filter((f) => f.status !== 'skip'), ...h.roots];
    const unique = findings.filter(
      (f, k) => findings.findIndex((g) => g.check === f.check && g.subject === f.subject) === k,
    );
    if (!unique.length) put('doctor: every check passed', 'title', COLORS.pass.text);
    else {
      put(
        `doctor: ${h.roots.length} root cause${h.roots.length === 1 ? '' : 's'}${h.labWide.some((f) => f.status === 'warn') ? ', warnings' : ''}`,
        'title',
        h.roots.length ? COLORS.fail.text : COLORS.warn.text,
      );
      unique.slice(0, 12).forEach((f, k) => {
        const color = f.status === 'warn' ? COLORS.warn.text : COLORS.fail.text;
        put(`${k + 1}. ${f.cause ?? f.status}: ${f.check} ${f.subject}`, 'plain', color);
        if (f.evidence)
          for (const [i, l] of wrap(`evidence: ${f.evidence}`, cols - 4).entries())
            put(l, 'small', '#37474f', i ? 28 : 16);
        if (f.fix)
          for (const [i, l] of wrap(`fix: ${f.fix}`, cols - 4).entries())
            put(l, 'small', '#37474f', i ? 28 : 16);
      });
      if (unique.length > 12)
        put(`… and ${unique.length - 12} more (labctl doctor shows them all)`, 'small', '#37474f');
    }
    parts.push(`<g class="findings">${out.join('')}</g>`);
    y += 12;
  }
  const height = Math.ceil(y + M);
  width = Math.ceil(width);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${xml(FONT_FAMILY)}" data-lab="${xml(t.lab)}"><rect class="bg" width="100%" height="100%" fill="#ffffff"/>${parts.join('')}</svg>\n`;
}
