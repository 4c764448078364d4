/**
 * The data-plane checks on the real daemons: each fixture lab (test/fixtures/dataplane) is brought up with the
 * built CLI and taken down in afterAll, whatever happened. Faults are injected for real and always undone:
 * tx checksum offload re-enabled inside a container, a deny ACL added straight into OVN, a declared service that
 * nothing serves, an expected-blocked pair that nothing blocks, a lab's own deny ACL removed behind its back.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataplaneConntrack } from '../../checks/dataplane-conntrack.js';
import { dataplaneIcmp } from '../../checks/dataplane-icmp.js';
import { dataplaneService } from '../../checks/dataplane-service.js';
import { dataplaneTcp } from '../../checks/dataplane-tcp.js';
import { dataplaneUdp } from '../../checks/dataplane-udp.js';
import { createFacts } from '../../checks/facts.js';
import type { DoctorContext } from '../../checks/runner.js';
import type { CheckResult } from '../../checks/types.js';
import { localHost } from '../../src/drivers/host.js';
import { ovnDriver } from '../../src/drivers/ovn.js';
import { loadLabFile } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { buildOnce, CLI, containerPid, daemonsUp, labctl, ROOT, sh, shMaybe } from '../helpers/labctl.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'dataplane');
const LABS = {
  mesh: 'mesh.yml',
  expect: 'expect.yml',
  faults: 'faults.yml',
  policies: 'policies.yml',
} as const;
type LabKey = keyof typeof LABS;
const file = (k: LabKey) => join(FIXTURES, LABS[k]);
const CHECKS = [dataplaneIcmp, dataplaneUdp, dataplaneTcp, dataplaneService];

let ready = false;
const plans = new Map<LabKey, Plan>();

beforeAll(async () => {
  await buildOnce();
  ready = await daemonsUp(); // under CI a missing daemon throws: never a silent skip
  if (!ready) return;
  for (const k of Object.keys(LABS) as LabKey[]) {
    plans.set(k, compilePlan(loadLabFile(file(k))));
    await labctl(['down', '-f', file(k)]); // leftovers of an interrupted run
    const r = await labctl(['up', '-f', file(k)]);
    if (r.exitCode !== 0)
      throw new Error(`labctl up -f ${LABS[k]} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  }
}, 600_000);

afterAll(async () => {
  for (const k of Object.keys(LABS) as LabKey[]) await labctl(['down', '-f', file(k)]);
}, 300_000);

/**
 * A fresh context per doctor run (the checks share one probe run per context), built as `labctl doctor` builds it
 * (src/cli/doctor.ts makeContext): the plan, the drivers and the run's memoized facts.
 */
async function contextOf(k: LabKey): Promise<DoctorContext> {
  const base = { plan: plans.get(k)!, host: await localHost(), ovn: ovnDriver() };
  return { ...base, facts: createFacts(base, { concurrency: 16 }), labFile: file(k) };
}

async function doctor(k: LabKey): Promise<{ ctx: DoctorContext; results: CheckResult[] }> {
  const ctx = await contextOf(k);
  const results = (await Promise.all(CHECKS.map((c) => c.run(ctx)))).flat();
  return { ctx, results };
}

const find = (rs: CheckResult[], id: string, subject: string) => {
  const r = rs.find((x) => x.id === id && x.subject === subject);
  if (!r)
    throw new Error(
      `no result ${id} ${subject} in:\n${rs.map((x) => `${x.id} ${x.subject} ${x.status}`).join('\n')}`,
    );
  return r;
};
const show = (rs: CheckResult[]) =>
  rs.map((r) => `${r.status} ${r.id} ${r.subject} ${r.cause ?? ''} ${r.evidence ?? ''}`).join('\n');

describe('data-plane checks', () => {
  it('healthy lab: every result passes, with ICMP, UDP and TCP for every pair probed', async (t) => {
    if (!ready) return t.skip();
    const { results } = await doctor('mesh');
    const probes = results.filter((r) => r.id !== 'dataplane.service');
    expect(
      probes.every((r) => r.status === 'pass'),
      show(results),
    ).toBe(true);
    const names = plans.get('mesh')!.nodes.map((n) => n.name);
    for (const a of names)
      for (const b of names) {
        if (a === b) continue;
        for (const p of ['icmp', 'udp', 'tcp']) {
          const r = find(results, `dataplane.${p}`, `${a}→${b} ${p}`);
          expect(r.status).toBe('pass');
          expect(r.data).toMatchObject({ from: a, to: b, proto: p, outcome: 'pass' });
          expect(typeof r.data?.ms).toBe('number');
        }
      }
    // TCP and UDP passed because the doctor's own token came back, not merely because something answered
    expect(find(results, 'dataplane.tcp', 'client→web tcp').evidence).toMatch(
      /token came back from 10\.81\.1\.10:\d+/,
    );
    // the declared service answers, from a node on its switch
    const svc = find(results, 'dataplane.service', 'db→web tcp/80');
    expect(svc.status, show(results)).toBe('pass');
    expect(svc.evidence).toMatch(/SYN-ACK from 10\.81\.1\.10:80/);
  }, 120_000);

  it('tx offload re-enabled inside client: its TCP and UDP fail with checksum-offload, ICMP still passes', async (t) => {
    if (!ready) return t.skip();
    const pid = await containerPid('labctl.dp-mesh.client');
    await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'on']);
    try {
      const { results } = await doctor('mesh');
      const involving = (r: CheckResult) => (r.data?.nodes as string[] | undefined)?.includes('client');
      for (const r of results.filter((x) => x.id === 'dataplane.icmp'))
        expect(r.status, show([r])).toBe('pass');
      const l4 = results.filter(
        (r) => (r.id === 'dataplane.tcp' || r.id === 'dataplane.udp') && involving(r),
      );
      expect(l4).toHaveLength(8); // client↔web, client↔db, both directions, TCP and UDP
      for (const r of l4) {
        expect(r.status, show([r])).toBe('fail');
        expect(r.cause, show([r])).toBe('checksum-offload');
        expect(r.evidence).toMatch(/ICMP passes/);
        expect(r.evidence).toMatch(/(Tcp|Udp)InCsumErrors \+\d+/);
        expect(r.fix).toBe(`nsenter -t ${pid} -n ethtool -K eth1 tx off`);
        expect(r.data).toMatchObject({ fixNode: 'client', fixIface: 'eth1' });
      }
      // pairs without client are untouched
      for (const r of results.filter(
        (x) => (x.id === 'dataplane.tcp' || x.id === 'dataplane.udp') && !involving(x),
      ))
        expect(r.status, show([r])).toBe('pass');
    } finally {
      await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'off']);
    }
  }, 180_000);

  it('a deny ACL added directly in OVN: acl-drop, with the ACL stage and the ACL in the evidence; fix() removes it', async (t) => {
    if (!ready) return t.skip();
    const plan = plans.get('mesh')!;
    const web = plan.nodes.find((n) => n.name === 'web')!.interfaces[0]!;
    const match = `outport == "${web.lsp}" && tcp`;
    await sh('ovn-nbctl', ['--timeout=10', 'acl-add', web.switch, 'to-lport', '3000', match, 'drop']);
    try {
      await sh('ovn-nbctl', ['--timeout=30', '--wait=hv', 'sync']).catch(() => undefined);
      const { ctx, results } = await doctor('mesh');
      const toWeb = results.filter(
        (r) => r.id === 'dataplane.tcp' && ((r.data?.nodes as string[] | undefined) ?? []).includes('web'),
      );
      expect(toWeb).toHaveLength(4);
      for (const r of toWeb) {
        expect(r.status, show([r])).toBe('fail');
        expect(r.cause, show([r])).toBe('acl-drop');
        expect(r.evidence).toMatch(/ls_out_acl/);
        expect(r.evidence).toContain(match);
        expect(r.evidence).toMatch(/not from lab\.yml/);
        expect(r.fix).toBe(`ovn-nbctl acl-del ${web.switch} to-lport 3000 ${JSON.stringify(match)}`);
      }
      // the request leg for X→web, the reply leg for web→X
      expect(find(results, 'dataplane.tcp', 'client→web tcp').evidence).toMatch(/the request is dropped/);
      expect(find(results, 'dataplane.tcp', 'web→client tcp').evidence).toMatch(/the reply is dropped/);
      // the declared service on tcp/80 is behind the same ACL
      expect(find(results, 'dataplane.service', 'db→web tcp/80').cause).toBe('acl-drop');
      // UDP and ICMP are not affected
      for (const r of results.filter((x) => x.id === 'dataplane.udp' || x.id === 'dataplane.icmp'))
        expect(r.status, show([r])).toBe('pass');

      const changed = await dataplaneTcp.fix!(ctx, find(results, 'dataplane.tcp', 'client→web tcp'));
      expect(changed).toMatch(/removed ACL/);
      const after = await doctor('mesh');
      expect(
        after.results.filter((r) => r.id === 'dataplane.tcp').every((r) => r.status === 'pass'),
        show(after.results),
      ).toBe(true);
    } finally {
      await shMaybe('ovn-nbctl', ['--timeout=10', 'acl-del', web.switch, 'to-lport', '3000', match]);
    }
  }, 180_000);

  it("the default lab's expect entries: client→web tcp/22 stays blocked by the lab's policy, the rest passes", async (t) => {
    if (!ready) return t.skip();
    const { results } = await doctor('expect');
    const blocked = find(results, 'dataplane.tcp', 'client→web tcp/22');
    expect(blocked.status, show(results)).toBe('pass');
    expect(blocked.evidence).toMatch(/blocked as expected/);
    expect(blocked.evidence).toMatch(/doctor's tcp listener on web port 22 was up/);
    // OVN 23.03 names the stage ls_out_acl; OVN ≥ 23.09 (25.03 on Debian 13) the deciding ls_out_acl_eval
    expect(blocked.evidence).toMatch(/ls_out_acl(_eval)? .*"dp-expect-p0"/);
    expect(blocked.data).toMatchObject({ expect: 'blocked', answer: 'doctor' });
    expect(find(results, 'dataplane.tcp', 'client→web tcp/80').evidence).toMatch(
      /SYN-ACK from 10\.0\.1\.10:80/,
    );
    expect(find(results, 'dataplane.icmp', 'client→web icmp').status).toBe('pass');
    expect(find(results, 'dataplane.udp', 'client→db udp/5353').evidence).toMatch(
      /token came back from 10\.0\.1\.\d+:5353/,
    );
    expect(
      results.filter((r) => r.status !== 'pass' && r.status !== 'skip'),
      show(results),
    ).toEqual([]);
  }, 120_000);

  it('a declared service nothing serves is no-listener; an expected-blocked pair nothing blocks is unexpected-reachability', async (t) => {
    if (!ready) return t.skip();
    const { results } = await doctor('faults');
    const plan = plans.get('faults')!;
    const apiIp = plan.nodes.find((n) => n.name === 'api')!.interfaces[0]!.ip;
    const svc = find(results, 'dataplane.service', 'front→api tcp/8080');
    expect(svc.status, show(results)).toBe('fail');
    expect(svc.cause).toBe('no-listener');
    expect(svc.evidence).toContain(`RST from ${apiIp}:8080`);
    expect(svc.fix).toMatch(/^start the service in api/);
    const open = find(results, 'dataplane.tcp', 'front→api tcp/9000');
    expect(open.status).toBe('fail');
    expect(open.cause).toBe('unexpected-reachability');
    expect(open.evidence).toMatch(/token came back .*expects front→api tcp\/9000 to be blocked/);
    expect(open.fix).toMatch(/deny: \{ from: front, to: api, proto: tcp, port: 9000 \}/);
    expect(find(results, 'dataplane.icmp', 'front→api icmp').status).toBe('pass');
  }, 120_000);

  it('conntrack: no stale entries in a freshly probed lab', async (t) => {
    if (!ready) return t.skip();
    const rs = await dataplaneConntrack.run(await contextOf('expect'));
    expect(
      rs.map((r) => r.status),
      show(rs),
    ).toEqual(['pass']);
  }, 60_000);

  it('labctl doctor --json runs the data-plane layer after host and wiring', async (t) => {
    if (!ready) return t.skip();
    const r = await labctl(['doctor', '-f', file('expect'), '--json']);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    const dp = doc.checks.filter((c) => c.layer === 'dataplane');
    expect(dp.map((c) => c.id)).toEqual(
      expect.arrayContaining(['dataplane.icmp', 'dataplane.udp', 'dataplane.tcp', 'dataplane.conntrack']),
    );
    expect(doc.ok, show(doc.checks.filter((c) => c.status !== 'pass'))).toBe(true);
    expect(r.exitCode).toBe(0);
  }, 180_000);
});

/** What `labctl doctor --json` prints, as far as these tests read it. */
interface DoctorJson {
  ok: boolean;
  checks: CheckResult[];
}

async function doctorCli(k: LabKey): Promise<{ exitCode: number; doc: DoctorJson; stderr: string }> {
  const r = await labctl(['doctor', '-f', file(k), '--json']);
  let doc: DoctorJson;
  try {
    doc = JSON.parse(r.stdout) as DoctorJson;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${r.exitCode}): ${r.stdout.slice(0, 300)} ${r.stderr}`);
  }
  return { exitCode: r.exitCode, doc, stderr: r.stderr };
}

/** The issue's lab: deny ext→inside, deny web→db ICMP; expected verdict per (from, to, proto). */
const POLICY_BLOCKED = new Set([
  'web>db icmp',
  'out>web icmp',
  'out>web udp',
  'out>web tcp',
  'out>db icmp',
  'out>db udp',
  'out>db tcp',
]);

describe('verdicts derived from the policies (no expect entries)', () => {
  it('a healthy lab with policies is green: every pair and protocol probed, blocked ones as blocked', async (t) => {
    if (!ready) return t.skip();
    const { exitCode, doc } = await doctorCli('policies');
    const dp = doc.checks.filter((c) => ['dataplane.icmp', 'dataplane.udp', 'dataplane.tcp'].includes(c.id));
    expect(
      doc.checks.filter((c) => c.status !== 'pass' && c.id !== 'dataplane.service'),
      show(doc.checks),
    ).toEqual([]);
    expect(doc.ok).toBe(true);
    expect(exitCode).toBe(0);
    const names = ['web', 'db', 'out'];
    for (const a of names)
      for (const b of names) {
        if (a === b) continue;
        for (const p of ['icmp', 'udp', 'tcp']) {
          const r = find(dp, `dataplane.${p}`, `${a}→${b} ${p}`);
          const blocked = POLICY_BLOCKED.has(`${a}>${b} ${p}`);
          expect(r.status, show([r])).toBe('pass');
          expect(r.data, show([r])).toMatchObject({
            from: a,
            to: b,
            proto: p,
            kind: 'mesh',
            expect: blocked ? 'blocked' : 'pass',
            outcome: blocked ? 'timeout' : 'pass',
          });
          if (blocked) {
            expect(r.evidence).toMatch(/^blocked as expected: no answer within/);
            expect(r.evidence).toContain(
              a === 'out'
                ? 'policies[0] { deny: { from: ext, to: inside } } blocks it'
                : 'policies[1] { deny: { from: web, to: db, proto: icmp } } blocks it',
            );
            // "blocked" counts only while the doctor's own listener was up
            if (p !== 'icmp')
              expect(r.evidence).toMatch(/while the doctor's \w+ listener on \w+ port \d+ was up/);
          }
        }
      }
    expect(dp).toHaveLength(18);
  }, 180_000);

  it("deny ACLs removed behind labctl's back are unexpected-reachability; up restores them", async (t) => {
    if (!ready) return t.skip();
    const plan = plans.get('policies')!;
    const acl0 = plan.acls.find((a) => a.externalIds['labctl-policy'] === '0')!;
    const acl1 = plan.acls.find((a) => a.externalIds['labctl-policy'] === '1')!;
    const uuid0 = await sh('ovn-nbctl', [
      '--timeout=10',
      '--bare',
      '--columns=_uuid',
      'find',
      'ACL',
      'external_ids:labctl-lab=dp-policies',
      'external_ids:labctl-policy=0',
    ]);
    expect(uuid0).toMatch(/^[0-9a-f-]{36}$/);
    try {
      // one removed from the switch's acls, the other with acl-del
      await sh('ovn-nbctl', ['--timeout=10', 'remove', 'Logical_Switch', acl0.switch, 'acls', uuid0]);
      await sh('ovn-nbctl', [
        '--timeout=10',
        'acl-del',
        acl1.switch,
        acl1.direction,
        String(acl1.priority),
        acl1.match,
      ]);
      await sh('ovn-nbctl', ['--timeout=30', '--wait=hv', 'sync']).catch(() => undefined);
      const { exitCode, doc } = await doctorCli('policies');
      expect(exitCode).toBe(1);
      const dp = doc.checks.filter((c) => c.layer === 'dataplane');
      for (const key of POLICY_BLOCKED) {
        const [pair, p] = key.split(' ');
        const [a, b] = pair!.split('>');
        const r = find(dp, `dataplane.${p}`, `${a}→${b} ${p}`);
        // every one of them is this cause: a root, or following from the first with the same cause and fix
        const cause = r.cause ?? (r.data?.symptom as { cause?: string } | undefined)?.cause;
        expect(cause, show([r])).toBe('unexpected-reachability');
        expect(r.evidence).toMatch(/: reachable, but policies\[[01]\] .* blocks /);
        expect(r.evidence).toMatch(/its ACL is missing from the northbound DB/);
        expect(r.evidence).toContain(a === 'out' ? acl0.match : acl1.match);
      }
      const roots = dp.filter((c) => c.status === 'fail');
      expect(roots.length).toBeGreaterThan(0);
      for (const r of roots) expect(r.fix).toBe(`labctl up -f ${file('policies')}`);
      // the rest is untouched
      for (const r of dp.filter((c) => ['dataplane.icmp', 'dataplane.udp', 'dataplane.tcp'].includes(c.id))) {
        const d = r.data as { from: string; to: string; proto: string };
        if (!POLICY_BLOCKED.has(`${d.from}>${d.to} ${d.proto}`)) expect(r.status, show([r])).toBe('pass');
      }
    } finally {
      const r = await labctl(['up', '-f', file('policies')]);
      expect(r.exitCode, r.stderr).toBe(0);
    }
    const again = await doctorCli('policies');
    expect(
      again.doc.checks.filter((c) => c.status !== 'pass' && c.id !== 'dataplane.service'),
      show(again.doc.checks),
    ).toEqual([]);
    expect(again.exitCode).toBe(0);
  }, 300_000);
});

describe('labctl doctor output without a terminal', () => {
  /** Report lines: "  ✔ host.tools   …" (check id after a status mark); progress lines: "  [host] ✔ host.tools …". */
  const reportLine = /^ {2}\S {1,2}([a-z]+\.[a-z0-9-]+) /;
  const progressLine = /^ {2}\[(host|wiring|dataplane)\] /;
  const ids = (text: string) =>
    text.split('\n').flatMap((l) => {
      const m = reportLine.exec(l) ?? /^ {2}\[\w+\] \S+ ([a-z]+\.[a-z0-9-]+) /.exec(l);
      return m ? [m[1]!] : [];
    });
  const env = { ...process.env, CI: 'true', NO_COLOR: '1' };
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'labctl-doctor-out-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('> out 2> err: the report on stdout, one progress line per check on stderr, nothing twice', async (t) => {
    if (!ready) return t.skip();
    const out = join(tmp, 'out');
    const err = join(tmp, 'err');
    const r = await execa(process.execPath, [CLI, 'doctor', '-f', file('expect')], {
      reject: false,
      stdin: 'ignore',
      stdout: { file: out },
      stderr: { file: err },
      env,
      timeout: 180_000,
    });
    expect(r.exitCode).toBe(0);
    const stdout = readFileSync(out, 'utf8');
    const stderr = readFileSync(err, 'utf8');
    expect(stdout.split('\n').filter((l) => progressLine.test(l))).toEqual([]);
    expect(stdout).toMatch(/\d+\/\d+ checks failed/);
    expect(stderr).not.toMatch(/checks failed/);
    expect(stderr.split('\n').filter((l) => reportLine.test(l) && !progressLine.test(l))).toEqual([]);
    const reported = ids(stdout);
    expect(reported).toEqual(expect.arrayContaining(['host.tools', 'wiring.offload', 'dataplane.tcp']));
    expect(new Set(reported).size).toBe(reported.length);
    expect(ids(stderr).sort()).toEqual([...reported].sort());
  }, 200_000);

  it('2>&1 (one file for both): every check appears once, progress is a line per layer', async (t) => {
    if (!ready) return t.skip();
    const both = join(tmp, 'both');
    // as a user types it: one file for stdout and stderr
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} doctor -f ${JSON.stringify(file('expect'))} > ${JSON.stringify(both)} 2>&1`;
    const r = await execa('sh', ['-c', cmd], { reject: false, stdin: 'ignore', env, timeout: 180_000 });
    expect(r.exitCode).toBe(0);
    const text = readFileSync(both, 'utf8');
    const seen = ids(text);
    expect(seen).toEqual(expect.arrayContaining(['host.tools', 'wiring.offload', 'dataplane.tcp']));
    const twice = seen.filter((id, i) => seen.indexOf(id) !== i);
    expect(twice, text).toEqual([]);
    for (const layer of ['host', 'wiring', 'dataplane'])
      expect(text).toMatch(new RegExp(`^ {2}\\[${layer}\\] \\d+ checks done: \\d+ pass`, 'm'));
  }, 200_000);

  it('stderr a terminal, stdout a file: a status line on the terminal, erased; the report only in the file', async (t) => {
    if (!ready) return t.skip();
    const out = join(tmp, 'tty-out');
    const { CI: _, ...noCi } = env;
    // script(1) gives the command a terminal; the redirection sends only its stdout to the file
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} doctor -f ${JSON.stringify(file('expect'))} > ${JSON.stringify(out)}`;
    const r = await execa('script', ['-qec', cmd, '/dev/null'], {
      reject: false,
      stdin: 'ignore',
      env: noCi,
      extendEnv: false,
      timeout: 180_000,
    });
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const terminal = String(r.stdout);
    expect(terminal).toMatch(/doctor: lab dp-expect: /);
    expect(ids(terminal.replace(/\r/g, '\n'))).toEqual([]);
    expect(terminal.trimEnd().endsWith('\x1b[K')).toBe(true);
    const report = readFileSync(out, 'utf8');
    expect(ids(report)).toEqual(expect.arrayContaining(['host.tools', 'dataplane.tcp']));
  }, 200_000);
});
