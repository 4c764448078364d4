/**
 * The timeline of a scenario run as SVG (labctl run --plot): one row per flow, time on the x axis, each delivered
 * packet a green tick (each lost one a short red mark below, at its send time), each gap a shaded band labelled with its length and the packets lost in it, each step a labelled
 * vertical line (its duration a light band; wait steps only pass time and get no line). Self-contained SVG 1.1 with plain text, no scripts or fonts to load.
 */
import type { FlowReport } from './analyze.js';
import type { ScenarioReport } from './run.js';

const W = 1200;
const LEFT = 300;
const RIGHT = 40;
const ROW = 56;
const LABEL_LINE = 16;

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceStep(spanMs: number): number {
  const raw = spanMs / 10;
  for (const s of [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000])
    if (s >= raw) return s;
  return 600_000;
}

function flowSummary(f: FlowReport): string {
  if (f.error && !f.sent) return 'could not run';
  const tcp = f.tcp ? `, session ${f.tcp.outcome}` : '';
  return `lost ${f.lost}/${f.sent}, max gap ${Math.round(f.max_gap_ms)} ms${tcp}`;
}

export function renderTimeline(r: ScenarioReport): string {
  const endMs = Math.max(
    r.duration_ms,
    ...r.flows.map((f) => f.end_ms ?? 0),
    ...r.steps.map((s) => s.end_ms),
    1000,
  );
  // wait steps only pass time: the lines mark the steps that change something
  const marked = r.steps.map((s, i) => ({ s, n: i + 1 })).filter(({ s }) => !s.step.startsWith('wait '));
  const stepRows = Math.min(Math.max(marked.length, 1), 4);
  const top = 48 + stepRows * LABEL_LINE;
  const plotW = W - LEFT - RIGHT;
  const H = top + r.flows.length * ROW + 50;
  const x = (ms: number) => LEFT + (Math.max(0, Math.min(ms, endMs)) / endMs) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">${esc(`labctl run ${r.scenario}`)} <tspan font-weight="normal" fill="#555">(lab ${esc(r.lab)}, ${(r.duration_ms / 1000).toFixed(1)} s, ${r.error ? 'could not run' : r.ok ? 'every expectation holds' : 'an expectation failed'})</tspan></text>`,
  );
  // axis and grid
  const step = niceStep(endMs);
  const axisY = top + r.flows.length * ROW + 8;
  for (let t = 0; t <= endMs + 1; t += step) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${top}" x2="${x(t).toFixed(1)}" y2="${axisY}" stroke="#eeeeee"/>`,
      `<text x="${x(t).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#444">${(t / 1000).toFixed(step < 1000 ? 1 : 0)} s</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" y1="${axisY}" x2="${W - RIGHT}" y2="${axisY}" stroke="#444"/>`,
    `<text x="${W - RIGHT}" y="${axisY + 34}" text-anchor="end" fill="#666">time since the flows started</text>`,
  );
  // rows
  r.flows.forEach((f, i) => {
    const y0 = top + i * ROW;
    const mid = y0 + ROW / 2;
    out.push(
      `<rect x="${LEFT}" y="${y0 + 8}" width="${plotW}" height="${ROW - 16}" fill="${i % 2 ? '#fafafa' : '#f3f6fa'}"/>`,
      `<text x="12" y="${mid - 4}" font-weight="bold">${esc(f.name)} <tspan font-weight="normal" fill="#555">${esc(`${f.proto}${f.port ? `/${f.port}` : ''} ${f.from} → ${f.to}`)}</tspan></text>`,
      `<text x="12" y="${mid + 12}" fill="${f.lost || f.error ? '#b00020' : '#1b7f3b'}">${esc(flowSummary(f))}</text>`,
    );
    if (f.start_ms !== null && f.end_ms !== null)
      out.push(
        `<line x1="${x(f.start_ms).toFixed(1)}" y1="${mid}" x2="${x(f.end_ms).toFixed(1)}" y2="${mid}" stroke="#c8d3e0"/>`,
      );
    for (const g of f.gaps) {
      const gx = x(g.start_ms);
      const gw = Math.max(2, x(g.end_ms) - gx);
      out.push(
        `<rect x="${gx.toFixed(1)}" y="${y0 + 8}" width="${gw.toFixed(1)}" height="${ROW - 16}" fill="#e53935" fill-opacity="0.22" stroke="#e53935" stroke-opacity="0.6"/>`,
        `<text x="${(gx + gw / 2).toFixed(1)}" y="${y0 + ROW - 12}" text-anchor="middle" font-size="11" fill="#8e0000">${esc(`${(g.ms / 1000).toFixed(2)} s, ${g.lost} lost`)}</text>`,
      );
    }
    // delivered packets: one tick each (a path keeps the file small at high rates)
    const d = (f.deliveries ?? []).map((t) => `M${x(t).toFixed(1)} ${mid - 9}v18`).join('');
    if (d) out.push(`<path d="${d}" stroke="#1b7f3b" stroke-width="1.2"/>`);
    // lost packets: a short red mark below the line, at the time each was sent
    const l = (f.losses ?? []).map((t) => `M${x(t).toFixed(1)} ${mid + 11}v5`).join('');
    if (l) out.push(`<path d="${l}" stroke="#d32f2f" stroke-width="1.4"/>`);
    if (f.tcp?.error_ms != null)
      out.push(
        `<text x="${x(f.tcp.error_ms).toFixed(1)}" y="${y0 + 20}" font-size="11" fill="#b00020">✕ ${esc(f.tcp.error ?? '')}</text>`,
      );
  });
  // steps: a light band for their duration, a dashed line at their start, a numbered label above the rows
  marked.forEach(({ s, n }, i) => {
    const sx = x(s.start_ms);
    const ex = x(s.end_ms);
    const ly = 40 + (i % stepRows) * LABEL_LINE;
    const colour = s.ok ? '#1f4e9c' : '#b00020';
    if (ex - sx > 1)
      out.push(
        `<rect x="${sx.toFixed(1)}" y="${top}" width="${(ex - sx).toFixed(1)}" height="${axisY - top}" fill="${colour}" fill-opacity="0.07"/>`,
      );
    out.push(
      `<line x1="${sx.toFixed(1)}" y1="${ly + 3}" x2="${sx.toFixed(1)}" y2="${axisY}" stroke="${colour}" stroke-width="1.3" stroke-dasharray="5 3"/>`,
      `<text x="${(sx + 3).toFixed(1)}" y="${ly}" fill="${colour}" font-size="11">${esc(`${n}. ${s.step}${s.ok ? '' : ' (failed)'}`)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
