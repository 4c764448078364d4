/** Rendering a doctor run: the human report grouped by root cause, design.md's JSON, JUnit XML. */
import { describe, expect, it } from 'vitest';
import { analyze, summarize } from '../../checks/analyze.js';
import { checkStatus, renderText, summaryLine, toJson, toJunit, xmlEscape } from '../../checks/report.js';
import type { DoctorCheck, DoctorRun } from '../../checks/runner.js';
import type { CheckResult } from '../../checks/types.js';

const checks = [
  { id: 'host.ovn-controller', layer: 'host', title: 'ovn-controller answers' },
  { id: 'wiring.offload', layer: 'wiring', title: 'tx checksum offload off' },
  { id: 'wiring.binding', layer: 'wiring', title: 'port bound' },
] as DoctorCheck[];

function makeRun(raw: CheckResult[]): DoctorRun {
  const results = analyze(raw, {
    checkOrder: (id) => checks.findIndex((c) => c.id === id),
    nodes: ['web', 'db'],
  });
  const summary = summarize(results);
  return { lab: 'two-vpcs', ok: summary.failed === 0, results, summary, checks, durationMs: 1234 };
}

const broken = makeRun([
  {
    id: 'host.ovn-controller',
    layer: 'host',
    subject: 'ovn-controller',
    status: 'fail',
    cause: 'ovn-controller-down',
    evidence: 'cannot read pidfile "/var/run/ovn/ovn-controller.pid"',
    fix: 'labctl host start',
  },
  { id: 'wiring.offload', layer: 'wiring', subject: 'web.eth1', status: 'pass', evidence: 'off' },
  {
    id: 'wiring.offload',
    layer: 'wiring',
    subject: 'db.eth1',
    status: 'fail',
    cause: 'checksum-offload',
    evidence: 'tx-checksumming: on for eth1 inside db <&>',
    fix: 'nsenter -t 42 -n ethtool -K eth1 tx off',
  },
  {
    id: 'wiring.binding',
    layer: 'wiring',
    subject: 'web.eth1',
    status: 'fail',
    cause: 'port-unbound',
    evidence: 'not bound',
    fix: 'x',
  },
  {
    id: 'wiring.binding',
    layer: 'wiring',
    subject: 'db.eth1',
    status: 'fail',
    cause: 'port-unbound',
    evidence: 'not bound',
    fix: 'x',
  },
]);

describe('human report', () => {
  it('a line per check, "N/M checks failed", then each root cause with evidence, fix and what follows from it', () => {
    const text = renderText(broken);
    const lines = text.split('\n');
    expect(lines[0]).toBe('labctl doctor: lab two-vpcs (1.2 s)');
    expect(text).toMatch(/^ {2}✖ host\.ovn-controller {2}ovn-controller answers: 0\/1 pass, 1 failed$/m);
    // ids are padded to one column across layers
    expect(text).toMatch(/^ {2}✖ wiring\.offload {7}tx checksum offload off: 1\/2 pass, 1 failed$/m);
    expect(text).toMatch(/^ {2}↷ wiring\.binding {7}port bound: 0\/2 pass, 2 follow from a root cause$/m);
    expect(text).toContain('\n2/5 checks failed (2 more follow from them and are not counted)\n');
    const i1 = text.indexOf('1. ovn-controller-down: host.ovn-controller ovn-controller');
    const i2 = text.indexOf('2. checksum-offload: wiring.offload db.eth1');
    expect(i1).toBeGreaterThan(0);
    expect(i2).toBeGreaterThan(i1);
    expect(text).toContain(
      '   fix:      labctl host start\n   follows:  2 results: wiring.binding web.eth1, wiring.binding db.eth1',
    );
    expect(text).toContain('   fix:      nsenter -t 42 -n ethtool -K eth1 tx off');
  });

  it('verbose: a line per subject; a passing run says 0/M', () => {
    expect(renderText(broken, { verbose: true })).toMatch(
      /↷ wiring\.binding +web\.eth1: follows from host\.ovn-controller ovn-controller/,
    );
    const ok = makeRun([
      { id: 'wiring.offload', layer: 'wiring', subject: 'web.eth1', status: 'pass', evidence: 'off' },
    ]);
    expect(renderText(ok)).toMatch(/\n0\/1 checks failed\n$/);
  });

  it('summary line and per-check status', () => {
    expect(summaryLine({ total: 10, passed: 9, failed: 1, warned: 0, following: 0, skipped: 0 })).toBe(
      '1/10 checks failed',
    );
    expect(summaryLine({ total: 10, passed: 8, failed: 0, warned: 2, following: 0, skipped: 0 })).toBe(
      '0/10 checks failed (2 warnings)',
    );
    expect(checkStatus([])).toBe('pass');
    expect(checkStatus([{ id: 'a', layer: 'host', subject: 's', status: 'warn' }])).toBe('warn');
  });
});

describe('JSON', () => {
  it("is design.md's { lab, ok, checks } with root causes first, plus summary and fixes", () => {
    const j = toJson(broken, {
      fixes: [{ id: 'wiring.offload', subject: 'db.eth1', changed: 'tx off' }],
      before: broken.summary,
    });
    expect(j.lab).toBe('two-vpcs');
    expect(j.ok).toBe(false);
    expect(j.checks.map((c) => `${c.status} ${c.id} ${c.subject}`).slice(0, 2)).toEqual([
      'fail host.ovn-controller ovn-controller',
      'fail wiring.offload db.eth1',
    ]);
    const sym = j.checks.find((c) => c.id === 'wiring.binding')!;
    expect(sym).toMatchObject({ status: 'skip', followsFrom: 'host.ovn-controller ovn-controller' });
    expect(sym.cause).toBeUndefined();
    expect(j.summary).toEqual({ total: 5, passed: 1, failed: 2, warned: 0, following: 2, skipped: 0 });
    expect(j.fixes).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});

describe('JUnit XML', () => {
  const xml = toJunit(broken, { timestamp: '2026-01-01T00:00:00Z' });

  it('one suite per layer, a testcase per result; roots are failures typed by cause, symptoms skipped', () => {
    expect(
      xml.startsWith(
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="labctl doctor two-vpcs" tests="5" failures="2" errors="0" skipped="2" time="1.234">',
      ),
    ).toBe(true);
    expect(xml).toContain(
      '<testsuite name="host" tests="1" failures="1" errors="0" skipped="0" timestamp="2026-01-01T00:00:00Z">',
    );
    expect(xml).toContain('<testsuite name="wiring" tests="4" failures="1" errors="0" skipped="2"');
    expect(xml).toContain('<testcase classname="wiring.offload" name="db.eth1">');
    expect(xml).toContain(
      '<failure message="checksum-offload: tx-checksumming: on for eth1 inside db &lt;&amp;&gt;" type="checksum-offload">evidence: tx-checksumming: on for eth1 inside db &lt;&amp;&gt;\nfix: nsenter -t 42 -n ethtool -K eth1 tx off</failure>',
    );
    expect(xml).toContain('<skipped message="follows from host.ovn-controller ovn-controller"/>');
    expect(xml.trimEnd().endsWith('</testsuites>')).toBe(true);
    // balanced tags
    expect(xml.match(/<testcase /g)?.length).toBe(5);
    expect(xml.match(/<\/testcase>/g)?.length).toBe(5);
    expect(xml.match(/<testsuite /g)?.length).toBe(xml.match(/<\/testsuite>/g)?.length);
  });

  it('errors are <error>, and text is escaped for XML', () => {
    const run = makeRun([
      {
        id: 'wiring.offload',
        layer: 'wiring',
        subject: 'a"b',
        status: 'error',
        evidence: 'could not run: x\u0001',
      },
    ]);
    const x = toJunit(run);
    expect(x).toContain('name="a&quot;b"');
    expect(x).toContain('<error message="could-not-run: could not run: x" type="could-not-run">');
    expect(xmlEscape(`<'&">`)).toBe('&lt;&apos;&amp;&quot;&gt;');
  });
});
