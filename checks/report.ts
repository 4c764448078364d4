/**
 * Rendering a doctor run: the human report (a line per check, then "N/M checks failed" and every root cause with
 * its evidence, fix and the results that follow from it), the JSON document of design.md, and JUnit XML for CI.
 * Pure functions of the analysed results.
 */
import { groupByRoot, isFailing, resultKey, type Summary } from './analyze.js';
import type { DoctorRun } from './runner.js';
import type { CheckResult, Layer, Status } from './types.js';
import { LAYERS } from './types.js';

export interface FixRecord {
  id: string;
  subject: string;
  cause?: string;
  /** what changed, or why nothing did */
  changed?: string;
  error?: string;
}

export interface RenderOptions {
  /** a line per result instead of a line per check */
  verbose?: boolean;
  color?: boolean;
  /** check titles by id */
  titles?: Record<string, string>;
}

const MARK: Record<Status, string> = { pass: '✔', fail: '✖', error: '✖', warn: '!', skip: '↷' };

function paint(on: boolean | undefined, code: number, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

const statusColor: Record<Status, number> = { pass: 32, fail: 31, error: 31, warn: 33, skip: 90 };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The status a check shows when its results are summed up in one line. */
export function checkStatus(results: CheckResult[]): Status {
  if (results.some((r) => r.status === 'error')) return 'error';
  if (results.some((r) => r.status === 'fail')) return 'fail';
  if (results.some((r) => r.status === 'warn')) return 'warn';
  if (results.some((r) => r.followsFrom) || (results.length && results.every((r) => r.status === 'skip')))
    return 'skip';
  return 'pass';
}

function countLine(results: CheckResult[]): string {
  const n = (s: Status) => results.filter((r) => r.status === s).length;
  const parts = [`${n('pass')}/${results.length} pass`];
  const failed = n('fail') + n('error');
  if (failed) parts.push(`${failed} failed`);
  if (n('warn')) parts.push(`${n('warn')} warn`);
  const following = results.filter((r) => r.followsFrom).length;
  if (following) parts.push(`${following} follow from a root cause`);
  const skipped = n('skip') - following;
  if (skipped) parts.push(`${skipped} skipped`);
  return parts.join(', ');
}

export function summaryLine(s: Summary): string {
  const extra: string[] = [];
  if (s.following)
    extra.push(`${s.following} more follow from ${s.failed === 1 ? 'it' : 'them'} and are not counted`);
  if (s.warned) extra.push(plural(s.warned, 'warning'));
  if (s.skipped) extra.push(`${s.skipped} skipped`);
  return `${s.failed}/${s.total} checks failed${extra.length ? ` (${extra.join('; ')})` : ''}`;
}

/** The human report (stdout). */
export function renderText(run: DoctorRun, opts: RenderOptions = {}): string {
  const c = opts.color;
  const out: string[] = [];
  out.push(`labctl doctor: lab ${run.lab} (${(run.durationMs / 1000).toFixed(1)} s)`);
  const inOrder = [...run.results].sort(
    (a, b) =>
      LAYERS.indexOf(a.layer) - LAYERS.indexOf(b.layer) ||
      run.checks.findIndex((x) => x.id === a.id) - run.checks.findIndex((x) => x.id === b.id),
  );
  const idWidth = Math.max(0, ...run.checks.map((x) => x.id.length));
  for (const layer of LAYERS) {
    const checks = run.checks.filter((x) => x.layer === layer);
    if (!checks.length) continue;
    out.push('', `${layer}`);
    for (const check of checks) {
      const rs = inOrder.filter((r) => r.id === check.id);
      if (opts.verbose) {
        for (const r of rs) {
          const why = r.followsFrom ? `follows from ${r.followsFrom}` : (r.evidence ?? '');
          out.push(
            `  ${paint(c, statusColor[r.status], MARK[r.status])} ${check.id.padEnd(idWidth)}  ${r.subject}: ${why}`,
          );
        }
        if (!rs.length) out.push(`  ${paint(c, 90, '↷')} ${check.id.padEnd(idWidth)}  no subjects`);
        continue;
      }
      const st = checkStatus(rs);
      const title = opts.titles?.[check.id] ?? check.title;
      const detail = rs.length === 1 && st === 'pass' ? (rs[0]!.evidence ?? '') : countLine(rs);
      out.push(`  ${paint(c, statusColor[st], MARK[st])} ${check.id.padEnd(idWidth)}  ${title}: ${detail}`);
    }
  }
  out.push('', summaryLine(run.summary));
  const groups = groupByRoot(run.results);
  groups.forEach(({ root, following }, i) => {
    out.push('');
    const head = `${i + 1}. ${root.status === 'error' ? 'could not check' : (root.cause ?? 'failed')}: ${root.id} ${root.subject}`;
    out.push(paint(c, 31, head));
    if (root.evidence) out.push(`   evidence: ${root.evidence}`);
    if (root.fix) out.push(`   fix:      ${root.fix}`);
    if (following.length) {
      const shown = following.slice(0, 8).map((f) => `${f.id} ${f.subject}`);
      const more = following.length > shown.length ? `, … (+${following.length - shown.length})` : '';
      out.push(`   follows:  ${plural(following.length, 'result')}: ${shown.join(', ')}${more}`);
    }
  });
  const warns = run.results.filter((r) => r.status === 'warn');
  for (const w of warns)
    out.push(
      '',
      paint(c, 33, `warning: ${w.id} ${w.subject}: ${w.evidence ?? ''}`),
      ...(w.fix ? [`   fix:      ${w.fix}`] : []),
    );
  return `${out.join('\n')}\n`;
}

export interface DoctorJson {
  lab: string;
  ok: boolean;
  checks: CheckResult[];
  summary: Summary;
  durationMs: number;
  /** --fix: what was changed before the final run */
  fixes?: FixRecord[];
  /** --fix: the summary of the run the fixes were chosen from */
  before?: Summary;
}

/** design.md's `{ lab, ok, checks }`, plus summary, duration and (with --fix) what was fixed. */
export function toJson(run: DoctorRun, extra: { fixes?: FixRecord[]; before?: Summary } = {}): DoctorJson {
  return {
    lab: run.lab,
    ok: run.ok,
    checks: run.results,
    summary: run.summary,
    durationMs: Math.round(run.durationMs),
    ...(extra.fixes ? { fixes: extra.fixes } : {}),
    ...(extra.before ? { before: extra.before } : {}),
  };
}

/**
 * Write the JSON report exactly as `JSON.stringify(doc, null, 2)` plus a newline would, but a slice of the
 * biggest array (`checks`) at a time: at 50 nodes the document holds 7 866 results (~4.7 MB), and building it as
 * one string — two-byte because of the "→" in subjects, then flattened and encoded for the write — raised the
 * doctor's peak memory by 10–25 MB at the very end of the run. Every piece is still produced by JSON.stringify itself: a slice of
 * elements stringified as `[[...slice]]` comes out indented exactly as it sits in the document (two levels deep),
 * so only the wrapper's brackets are cut off.
 */
export async function writeJson(
  doc: object,
  out: NodeJS.WritableStream = process.stdout,
  slice = 64,
): Promise<void> {
  const write = async (s: string) => {
    if (!out.write(s)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  const hasToJson = (v: object) => typeof (v as { toJSON?: unknown }).toJSON === 'function';
  // Only a plain object is streamed; anything else goes out the ordinary way.
  if (Array.isArray(doc) || hasToJson(doc)) {
    await write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const entries = Object.entries(doc).filter(
    ([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol',
  );
  if (!entries.length) {
    await write('{}\n');
    return;
  }
  const OPEN = '[\n  [\n';
  const CLOSE = '\n  ]\n]';
  for (const [i, [key, value]] of entries.entries()) {
    await write(i ? ',\n' : '{\n');
    if (Array.isArray(value) && value.length > slice && !hasToJson(value)) {
      await write(`  ${JSON.stringify(key)}: [\n`);
      for (let j = 0; j < value.length; j += slice) {
        const piece = JSON.stringify([value.slice(j, j + slice)], null, 2);
        await write(`${j ? ',\n' : ''}${piece.slice(OPEN.length, piece.length - CLOSE.length)}`);
      }
      await write('\n  ]');
    } else {
      const piece = JSON.stringify({ [key]: value }, null, 2);
      await write(piece.slice(2, piece.length - 2)); // without "{\n" and "\n}"
    }
  }
  await write('\n}\n');
}

export function xmlEscape(s: string): string {
  return (
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
      // XML 1.0 forbids most control characters even when escaped
      // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
  );
}

function body(r: CheckResult): string {
  return [r.evidence && `evidence: ${r.evidence}`, r.fix && `fix: ${r.fix}`].filter(Boolean).join('\n');
}

/**
 * JUnit XML: one testsuite per layer, one testcase per result (classname = check id, name = subject). A root
 * failure is <failure type="CAUSE">, a check that could not run is <error>, a symptom is <skipped> naming its
 * root, so CI counts each cause once.
 */
export function toJunit(run: DoctorRun, opts: { timestamp?: string } = {}): string {
  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const count = (rs: CheckResult[], s: Status) => rs.filter((r) => r.status === s).length;
  const time = (run.durationMs / 1000).toFixed(3);
  const all = run.results;
  lines.push(
    `<testsuites name="labctl doctor ${xmlEscape(run.lab)}" tests="${all.length}" failures="${count(all, 'fail')}" errors="${count(all, 'error')}" skipped="${count(all, 'skip')}" time="${time}">`,
  );
  for (const layer of LAYERS as Layer[]) {
    const rs = all.filter((r) => r.layer === layer);
    if (!rs.length && !run.checks.some((c) => c.layer === layer)) continue;
    const ts = opts.timestamp ? ` timestamp="${xmlEscape(opts.timestamp)}"` : '';
    lines.push(
      `  <testsuite name="${layer}" tests="${rs.length}" failures="${count(rs, 'fail')}" errors="${count(rs, 'error')}" skipped="${count(rs, 'skip')}"${ts}>`,
    );
    for (const r of rs) {
      const open = `    <testcase classname="${xmlEscape(r.id)}" name="${xmlEscape(r.subject)}"`;
      if (r.status === 'pass') {
        lines.push(`${open}>`);
        if (r.evidence) lines.push(`      <system-out>${xmlEscape(r.evidence)}</system-out>`);
        lines.push('    </testcase>');
      } else if (r.status === 'fail' || r.status === 'error') {
        const tag = r.status === 'fail' ? 'failure' : 'error';
        const type = r.cause ?? (r.status === 'error' ? 'could-not-run' : 'failed');
        const msg = `${type}: ${r.evidence ?? ''}`;
        lines.push(`${open}>`);
        lines.push(
          `      <${tag} message="${xmlEscape(msg)}" type="${xmlEscape(type)}">${xmlEscape(body(r))}</${tag}>`,
        );
        lines.push('    </testcase>');
      } else if (r.status === 'skip') {
        const msg = r.followsFrom ? `follows from ${r.followsFrom}` : (r.evidence ?? 'skipped');
        lines.push(`${open}>`);
        lines.push(`      <skipped message="${xmlEscape(msg)}"/>`);
        if (r.evidence && r.followsFrom)
          lines.push(`      <system-out>${xmlEscape(r.evidence)}</system-out>`);
        lines.push('    </testcase>');
      } else {
        // warn: passes in JUnit terms (exit 0), the warning goes to system-out
        lines.push(`${open}>`);
        lines.push(`      <system-out>${xmlEscape(`warning: ${body(r)}`)}</system-out>`);
        lines.push('    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** One progress line for plain (non-TTY) output. */
export function progressLine(checkId: string, layer: Layer, results: CheckResult[], ms: number): string {
  const st = checkStatus(results);
  const roots = results.filter(isFailing);
  const first = roots[0];
  const tail = first ? ` — ${first.subject}: ${first.cause ?? first.status}` : '';
  return `[${layer}] ${MARK[st]} ${checkId} ${countLine(results)}${tail} (${Math.round(ms)} ms)`;
}

export { resultKey };
