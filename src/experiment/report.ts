/** A scenario report for people (a few lines per flow) and for CI (JUnit XML: one test case per expectation). */
import type { FlowReport } from './analyze.js';
import type { ScenarioReport } from './run.js';

const s1 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function formatFlow(f: FlowReport): string {
  const target = `${f.from} → ${f.to}${f.port ? ` ${f.proto}/${f.port}` : ` ${f.proto}`}`;
  if (f.error && !f.sent) return `  ${f.name.padEnd(10)} ${target}: could not run: ${f.error}\n`;
  let line = `  ${f.name.padEnd(10)} ${target} @${f.rate}/s: sent ${f.sent}, received ${f.received}, lost ${f.lost} (${f.loss_pct} %), max gap ${Math.round(f.max_gap_ms)} ms`;
  if (f.duplicates) line += `, ${f.duplicates} duplicate(s)`;
  if (f.reordered) line += `, ${f.reordered} reordered`;
  if (f.rtt_ms) line += `, rtt ${f.rtt_ms.min}/${f.rtt_ms.avg}/${f.rtt_ms.max} ms`;
  if (f.tcp)
    line += `\n  ${''.padEnd(10)} tcp session: ${f.tcp.outcome.toUpperCase()}${f.tcp.error ? ` (${f.tcp.error} at ${s1(f.tcp.error_ms ?? 0)})` : ''}${f.tcp.connected ? '' : ' (never connected)'}${f.tcp.last_progress_ms !== null ? `, last echo at ${s1(f.tcp.last_progress_ms)}` : ''}`;
  for (const g of f.gaps)
    line += `\n  ${''.padEnd(10)} gap ${s1(g.start_ms)} → ${s1(g.end_ms)} (${Math.round(g.ms)} ms, ${g.lost} lost)`;
  if (f.error) line += `\n  ${''.padEnd(10)} error: ${f.error}`;
  return `${line}\n`;
}

export function formatReport(r: ScenarioReport): string {
  let out = `scenario ${r.scenario} (lab ${r.lab}), ${s1(r.duration_ms)}\n`;
  out += 'steps:\n';
  for (const s of r.steps)
    out += `  ${s1(s.start_ms).padStart(8)} → ${s1(s.end_ms).padEnd(8)} ${s.ok ? 'ok  ' : 'FAIL'} ${s.step}${!s.ok || /^(exec|command)\b/.test(s.step) ? ` → ${s.detail}` : ''}\n`;
  if (!r.steps.length) out += '  (none)\n';
  out += 'flows:\n';
  for (const f of r.flows) out += formatFlow(f);
  if (r.expect.length) {
    out += 'expect:\n';
    for (const e of r.expect)
      out += `  ${e.ok ? 'pass' : 'FAIL'} ${e.flow} ${e.check}: want ${e.want}, got ${e.got}\n`;
  }
  for (const n of r.notes) out += `note: ${n}\n`;
  if (r.error) out += `error: ${r.error}\n`;
  out += r.error
    ? 'result: could not run as written\n'
    : r.ok
      ? 'result: every expectation holds\n'
      : `result: ${r.expect.filter((e) => !e.ok).length} expectation(s) failed\n`;
  return out;
}

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function toJunit(r: ScenarioReport): string {
  const cases = r.expect.map((e) => {
    const name = xml(`${e.flow} ${e.check} ${e.want}`);
    return e.ok
      ? `    <testcase classname="scenario.${xml(r.scenario)}" name="${name}"/>`
      : `    <testcase classname="scenario.${xml(r.scenario)}" name="${name}"><failure message="${xml(`got ${e.got}`)}"/></testcase>`;
  });
  if (r.error)
    cases.push(
      `    <testcase classname="scenario.${xml(r.scenario)}" name="run"><error message="${xml(r.error)}"/></testcase>`,
    );
  const failures = r.expect.filter((e) => !e.ok).length;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="labctl run ${xml(r.scenario)}" tests="${cases.length}" failures="${failures}" errors="${r.error ? 1 : 0}" timestamp="${xml(r.started_at)}" time="${(r.duration_ms / 1000).toFixed(3)}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
