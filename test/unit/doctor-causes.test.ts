/**
 * The one cause table (src/doctor/causes.ts): every code of design.md and the documented additions, each with a
 * summary; what it explains names real codes; fixes as data print the lines users know; and `doctor --fix` of a
 * host row acts on the row's FixAction from evaluateHost, not on its printed line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixWithHostStart } from '../../checks/host-rows.js';
import type { DoctorContext } from '../../checks/runner.js';
import {
  CAUSE_TABLE,
  CAUSES,
  causeExplains,
  type FixAction,
  fixText,
  isCause,
  isSafeHostStart,
} from '../../src/doctor/causes.js';
import { evaluateHost, type HostReport } from '../../src/host/report.js';
import { healthyFacts } from './host-fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('the cause table', () => {
  it('holds every code design.md fixes (that the doctor gives), and every addition docs/doctor.md names', () => {
    const design = readFileSync(join(ROOT, 'docs', 'doctor.md'), 'utf8');
    for (const code of [
      'docker-unreachable',
      'ovsdb-down',
      'ovs-vswitchd-down',
      'ovn-northd-down',
      'ovn-controller-down',
      'sb-disconnected',
      'chassis-not-registered',
      'chassis-id-mismatch',
      'encap-missing',
      'datapath-unsupported',
      'container-not-running',
      'link-missing',
      'link-down',
      'iface-id-mismatch',
      'lsp-missing',
      'port-unbound',
      'address-mismatch',
      'checksum-offload',
      'mtu-mismatch',
      'acl-drop',
      'no-listener',
      'stale-conntrack',
      'unexpected-reachability',
      'ovn-nb-down',
      'ovn-sb-down',
      'bridge-missing',
      'tools-missing',
      'route-missing',
      'neigh-table-full',
    ])
      expect(isCause(code), code).toBe(true);
    // and the docs name every code the table has
    for (const code of CAUSES) expect(design.includes(`\`${code}\``) || code === 'not-root', code).toBe(true);
  });

  it('gives every code a summary, and explains only real codes (never itself)', () => {
    for (const code of CAUSES) {
      const info: { summary: string; explains?: readonly string[] } = CAUSE_TABLE[code];
      expect(info.summary.length, code).toBeGreaterThan(10);
      for (const e of info.explains ?? []) {
        expect(isCause(e), `${code} explains ${e}`).toBe(true);
        expect(e, code).not.toBe(code);
      }
    }
  });

  it('a cause explains itself and what it lists, nothing else', () => {
    expect(causeExplains('ovn-controller-down', 'ovn-controller-down')).toBe(true);
    expect(causeExplains('ovn-controller-down', 'port-unbound')).toBe(true);
    expect(causeExplains('container-not-running', 'route-missing')).toBe(true);
    expect(causeExplains('link-missing', 'link-missing')).toBe(true);
    expect(causeExplains('port-unbound', 'ovn-controller-down')).toBe(false);
    expect(causeExplains('checksum-offload', 'mtu-mismatch')).toBe(false);
  });
});

describe('fixes as data', () => {
  it('prints each kind as users type it', () => {
    const cases: [FixAction, string][] = [
      [{ kind: 'host-start' }, 'labctl host start'],
      [{ kind: 'host-start', datapath: 'netdev' }, 'labctl host start --datapath netdev'],
      [{ kind: 'host-start', remote: 'tcp:10.0.0.1:6642' }, 'labctl host start --remote tcp:10.0.0.1:6642'],
      [
        { kind: 'host-start', encap: { type: 'geneve', ip: '10.0.0.5' } },
        'labctl host start --encap-type geneve --encap-ip 10.0.0.5',
      ],
      [{ kind: 'converge', file: 'labs/a.yml' }, 'labctl up -f labs/a.yml'],
      [
        { kind: 'command', argv: ['ovn-nbctl', 'acl-del', 'sw', 'to-lport', '1000', 'ip4 && tcp'] },
        'ovn-nbctl acl-del sw to-lport 1000 "ip4 && tcp"',
      ],
      [{ kind: 'advice', text: 'start the service' }, 'start the service'],
    ];
    for (const [action, text] of cases) expect(fixText(action)).toBe(text);
  });

  it('only a plain host start, or one onto a datapath, is a safe --fix', () => {
    expect(isSafeHostStart({ kind: 'host-start' })).toBe(true);
    expect(isSafeHostStart({ kind: 'host-start', datapath: 'netdev' })).toBe(true);
    expect(isSafeHostStart({ kind: 'host-start', remote: 'tcp:1.2.3.4:6642' })).toBe(false);
    expect(isSafeHostStart({ kind: 'host-start', encap: { type: 'geneve', ip: '1.2.3.4' } })).toBe(false);
    expect(isSafeHostStart({ kind: 'converge' })).toBe(false);
    expect(isSafeHostStart(undefined)).toBe(false);
  });
});

describe('doctor --fix of a host row acts on the FixAction evaluateHost gave it', () => {
  function ctxFor(report: HostReport) {
    const calls: unknown[] = [];
    const ctx = {
      facts: { hostReport: async () => report },
      startHost: async (o: unknown) => {
        calls.push(o);
        return ['ovn-controller started'];
      },
    } as unknown as DoctorContext;
    return { ctx, calls };
  }
  const failing = (report: HostReport, row: string) => {
    const r = report.checks.find((c) => c.id === row)!;
    expect(r.ok).toBe(false);
    return {
      id: 'host.x',
      layer: 'host' as const,
      subject: row,
      status: 'fail' as const,
      ...(r.fix ? { fix: r.fix } : {}),
      data: { row },
    };
  };

  it('a daemon down: host start, its printed fix derived from the same action', async () => {
    const facts = healthyFacts();
    facts.controller = { ok: false, detail: 'no pidfile' };
    const report = evaluateHost(facts);
    const row = report.checks.find((c) => c.id === 'ovn-controller')!;
    expect(row.action).toEqual({ kind: 'host-start' });
    expect(row.fix).toBe('labctl host start');
    const { ctx, calls } = ctxFor(report);
    expect(await fixWithHostStart(ctx, failing(report, 'ovn-controller'))).toBe(
      'labctl host start: ovn-controller started',
    );
    expect(calls).toEqual([{}]);
  });

  it('a datapath this kernel lacks: host start onto netdev; the printed line plays no part', async () => {
    const facts = healthyFacts();
    facts.kernelModule = { available: false, detail: 'no openvswitch module' } as typeof facts.kernelModule;
    facts.ovsdb.externalIds = { ...facts.ovsdb.externalIds, 'ovn-bridge-datapath-type': 'system' };
    const report = evaluateHost(facts);
    const { ctx, calls } = ctxFor(report);
    const result = { ...failing(report, 'chassis.datapath-type'), fix: 'something else entirely' };
    expect(await fixWithHostStart(ctx, result)).toMatch(/^labctl host start: /);
    expect(calls).toEqual([{ datapath: 'netdev' }]);
  });

  it('another southbound remote is left to the user', async () => {
    const facts = healthyFacts();
    const report = evaluateHost(facts, { remote: 'tcp:10.9.9.9:6642' });
    const row = report.checks.find((c) => c.id === 'chassis.ovn-remote')!;
    expect(row.fix).toBe('labctl host start --remote tcp:10.9.9.9:6642');
    const { ctx, calls } = ctxFor(report);
    expect(await fixWithHostStart(ctx, failing(report, 'chassis.ovn-remote'))).toBeUndefined();
    expect(calls).toEqual([]);
  });
});
