/**
 * The doctor over IPv6 on the real daemons (issue 14, "doctor speaks both families"): a lab with two dual-stack
 * networks and an IPv6-only one behind a router (test/fixtures/dataplane/v6p-dual.yml) is brought up with the built
 * CLI and taken down in afterAll, whatever happened. `labctl doctor --json` must exit 0 with ICMPv6, UDP/IPv6 and
 * TCP/IPv6 results beside the IPv4 ones for every pair; then faults are injected on IPv6 paths and always undone —
 * tx checksum offload on inside one node, an IPv6-only deny ACL added straight into NB, an MTU drift — and each
 * must be named with its cause.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, sh, shMaybe } from '../helpers/labctl.js';

const FILE = join(ROOT, 'test', 'fixtures', 'dataplane', 'v6p-dual.yml');
const FAULTS = join(ROOT, 'test', 'fixtures', 'dataplane', 'v6p-faults.yml');
const CHECKS = [dataplaneIcmp, dataplaneUdp, dataplaneTcp, dataplaneService];
const NODES = ['web', 'db', 'client', 'v6host'];
const V4 = new Set(['web', 'db', 'client']);

let ready = false;
let plan: Plan;
let faultsPlan: Plan;

beforeAll(async () => {
  await buildOnce();
  ready = await daemonsUp(); // under CI a missing daemon throws: never a silent skip
  if (!ready) return;
  plan = compilePlan(loadLabFile(FILE));
  faultsPlan = compilePlan(loadLabFile(FAULTS));
  for (const f of [FILE, FAULTS]) {
    await labctl(['down', '-f', f]); // leftovers of an interrupted run
    const r = await labctl(['up', '-f', f]);
    if (r.exitCode !== 0)
      throw new Error(`labctl up -f ${f} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  }
}, 300_000);

afterAll(async () => {
  for (const f of [FILE, FAULTS]) await labctl(['down', '-f', f]);
}, 180_000);

async function doctor(which: 'dual' | 'faults' = 'dual'): Promise<CheckResult[]> {
  const base = { plan: which === 'dual' ? plan : faultsPlan, host: await localHost(), ovn: ovnDriver() };
  const labFile = which === 'dual' ? FILE : FAULTS;
  const ctx: DoctorContext = { ...base, facts: createFacts(base, { concurrency: 16 }), labFile };
  return (await Promise.all(CHECKS.map((c) => c.run(ctx)))).flat();
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
const iface = (node: string) => plan.nodes.find((n) => n.name === node)!.interfaces[0]!;
const nodesOf = (r: CheckResult) => (r.data?.nodes as string[] | undefined) ?? [];

describe('doctor over IPv6', () => {
  it('labctl doctor --json exits 0 with ICMPv6, UDP/IPv6 and TCP/IPv6 passing beside IPv4 for every pair', async (t) => {
    if (!ready) return t.skip();
    const r = await labctl(['doctor', '-f', FILE, '--json']);
    const doc = JSON.parse(r.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(doc.ok, show(doc.checks.filter((c) => c.status !== 'pass'))).toBe(true);
    expect(r.exitCode).toBe(0);
    const dp = doc.checks.filter((c) => c.layer === 'dataplane');
    for (const a of NODES)
      for (const b of NODES) {
        if (a === b) continue;
        for (const p of ['icmp', 'udp', 'tcp']) {
          // IPv6 for every pair (every node has IPv6; v6host only IPv6)
          const six = find(dp, `dataplane.${p}`, `${a}→${b} ${p}6`);
          expect(six.status, show([six])).toBe('pass');
          expect(six.data, show([six])).toMatchObject({
            from: a,
            to: b,
            proto: p,
            family: 6,
            outcome: 'pass',
          });
          expect(six.data?.ip).toBe(iface(b).ip6);
          // IPv4 beside it where both ends have IPv4, unchanged (no family field)
          const four = dp.find((x) => x.id === `dataplane.${p}` && x.subject === `${a}→${b} ${p}`);
          if (V4.has(a) && V4.has(b)) {
            expect(four?.status, show(dp)).toBe('pass');
            expect(four!.data?.family).toBeUndefined();
            expect(four!.data?.ip).toBe(iface(b).ip);
          } else expect(four).toBeUndefined();
        }
      }
    // TCP/UDP over IPv6 passed because the doctor's token came back from the IPv6 address
    expect(find(dp, 'dataplane.tcp', 'client→web tcp6').evidence).toMatch(
      /token came back from \[fd00:87:1::10\]:\d+/,
    );
    // the ICMPv6 probes ran through the ICMPv6 datagram socket, not ping
    expect(find(dp, 'dataplane.icmp', 'client→v6host icmp6').data?.icmpVia).toBe('socket');
    // the expect entry naming a node applies to both families: client→web tcp/22 is blocked by the lab's policy
    // over IPv4 (its ip4.src ACL) and over IPv6 (its ip6.src ACL), each traced to its own ACL
    for (const subject of ['client→web tcp/22', 'client→web tcp6/22']) {
      const b = find(dp, 'dataplane.tcp', subject);
      expect(b.status, show([b])).toBe('pass');
      expect(b.data).toMatchObject({ expect: 'blocked', answer: 'doctor', expectIndex: 0 });
      expect(b.evidence).toMatch(/^blocked as expected: no answer within/);
      expect(b.evidence).toMatch(/ls_out_acl(_eval)? .*"v6p-dual-p0"/);
      expect(b.evidence).toMatch(
        subject.includes('tcp6') ? /ip6\.src == fd00:87:2::2/ : /ip4\.src == 10\.87\.2\.2/,
      );
    }
    // v6host has no IPv4: its entry is probed over IPv6 alone, and passes (the deny names client only)
    expect(find(dp, 'dataplane.tcp', 'v6host→web tcp6/22').status).toBe('pass');
    expect(dp.find((x) => x.subject === 'v6host→web tcp/22')).toBeUndefined();
    // routed over IPv6 through the router: the IPv6-only node answers from its own network
    expect(find(dp, 'dataplane.icmp', 'client→v6host icmp6').evidence).toMatch(/echo reply from fd00:87:3::/);
  }, 240_000);

  it('tx offload on inside client: its TCP and UDP over both families fail with checksum-offload, ICMPv6 passes', async (t) => {
    if (!ready) return t.skip();
    const pid = await containerPid('labctl.v6p-dual.client');
    await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'on']);
    try {
      const results = await doctor();
      for (const r of results.filter((x) => x.id === 'dataplane.icmp'))
        expect(r.status, show([r])).toBe('pass');
      const l4v6 = results.filter(
        (r) =>
          (r.id === 'dataplane.tcp' || r.id === 'dataplane.udp') &&
          nodesOf(r).includes('client') &&
          r.data?.family === 6 &&
          r.data?.kind === 'mesh',
      );
      expect(l4v6).toHaveLength(12); // client↔web, client↔db, client↔v6host, both directions, TCP and UDP
      for (const r of l4v6) {
        expect(r.status, show([r])).toBe('fail');
        expect(r.cause, show([r])).toBe('checksum-offload');
        expect(r.evidence).toMatch(/ICMP passes/);
        expect(r.evidence).toMatch(/(TcpInCsumErrors|Udp6InCsumErrors) \+\d+/);
        expect(r.fix).toBe(`nsenter -t ${pid} -n ethtool -K eth1 tx off`);
      }
      // the UDP counter read is the IPv6 one (snmp6), and it was read at the receiver; it may stay 0 here: the lab's
      // policy makes its ACLs stateful, and the userspace datapath's conntrack drops a bad checksum before delivery
      const u = find(results, 'dataplane.udp', 'client→web udp6');
      expect(u.data).toMatchObject({ counter: 'Udp6InCsumErrors', txOffload: true, fixNode: 'client' });
      expect(typeof u.data?.receiverDelta).toBe('number');
      // pairs without client are untouched
      for (const r of results.filter(
        (x) => (x.id === 'dataplane.tcp' || x.id === 'dataplane.udp') && !nodesOf(x).includes('client'),
      ))
        expect(r.status, show([r])).toBe('pass');
    } finally {
      await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'off']);
    }
  }, 240_000);

  it('an IPv6-only deny ACL added in NB: TCP/IPv6 to web is acl-drop, traced on the IPv6 packet; IPv4 passes', async (t) => {
    if (!ready) return t.skip();
    const web = iface('web');
    const match = `outport == "${web.lsp}" && ip6 && tcp`;
    await sh('ovn-nbctl', ['--timeout=10', 'acl-add', web.switch, 'to-lport', '3000', match, 'drop']);
    try {
      await sh('ovn-nbctl', ['--timeout=30', '--wait=hv', 'sync']).catch(() => undefined);
      const results = await doctor();
      const toWeb6 = results.filter(
        (r) =>
          r.id === 'dataplane.tcp' && r.data?.to === 'web' && r.data?.family === 6 && r.data?.kind === 'mesh',
      );
      expect(toWeb6).toHaveLength(3);
      for (const r of toWeb6) {
        expect(r.status, show([r])).toBe('fail');
        expect(r.cause, show([r])).toBe('acl-drop');
        expect(r.evidence).toMatch(/ls_out_acl/);
        expect(r.evidence).toContain(match);
        expect(r.fix).toBe(`ovn-nbctl acl-del ${web.switch} to-lport 3000 ${JSON.stringify(match)}`);
        expect((r.data?.trace as { command?: string } | undefined)?.command).toMatch(
          /ip6\.src == .* && ip6\.dst == /,
        );
      }
      expect(find(results, 'dataplane.tcp', 'client→web tcp6').evidence).toMatch(/the request is dropped/);
      // the expect entry v6host→web tcp/22 (IPv6 only) is behind the same ACL; client's, expected blocked, stays so
      expect(find(results, 'dataplane.tcp', 'v6host→web tcp6/22').cause).toBe('acl-drop');
      expect(find(results, 'dataplane.tcp', 'client→web tcp6/22').status).toBe('pass');
      // web's own connections pass: the lab's policy makes the switch's ACLs stateful, and OVN lets the replies of
      // an established connection through before any to-lport ACL
      expect(find(results, 'dataplane.tcp', 'web→client tcp6').status).toBe('pass');
      // IPv4 TCP, and UDP and ICMP of both families, are not affected
      for (const r of results.filter(
        (x) =>
          x.id !== 'dataplane.service' &&
          !(x.id === 'dataplane.tcp' && x.data?.family === 6 && x.data?.to === 'web'),
      ))
        expect(r.status, show([r])).toBe('pass');
    } finally {
      await shMaybe('ovn-nbctl', ['--timeout=10', 'acl-del', web.switch, 'to-lport', '3000', match]);
    }
    const left = await sh('ovn-nbctl', ['--bare', '--columns=match', 'acl-list', web.switch]).catch(() => '');
    expect(left).not.toContain('ip6 && tcp');
  }, 240_000);

  it('an MTU drift inside web: the ICMPv6 probe of MTU − 48 bytes towards web is mtu-mismatch', async (t) => {
    if (!ready) return t.skip();
    const pid = await containerPid('labctl.v6p-dual.web');
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1400']);
    try {
      const results = await doctor();
      const r = find(results, 'dataplane.icmp', 'db→web icmp6');
      expect(r.status, show([r])).toBe('fail');
      expect(r.cause).toBe('mtu-mismatch');
      expect(r.evidence).toMatch(/1452-byte ping with don't-fragment/);
      expect(r.evidence).toMatch(/web eth1 mtu 1400 \(planned 1500\)/);
      expect(r.data).toMatchObject({ bigSize: 1452, family: 6 });
      expect(r.fix).toBe(`nsenter -t ${pid} -n ip link set dev eth1 mtu 1500`);
      expect(find(results, 'dataplane.icmp', 'client→web icmp6').cause).toBe('mtu-mismatch');
    } finally {
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1500']);
    }
  }, 240_000);

  it('over IPv6 only: a declared service nothing serves is no-listener; an expected-blocked pair nothing blocks is unexpected-reachability', async (t) => {
    if (!ready) return t.skip();
    const results = await doctor('faults');
    const apiIp = faultsPlan.nodes.find((n) => n.name === 'api')!.interfaces[0]!.ip6!;
    const svc = find(results, 'dataplane.service', 'front→api tcp6/8080');
    expect(svc.status, show(results)).toBe('fail');
    expect(svc.cause).toBe('no-listener');
    expect(svc.evidence).toContain(`RST from [${apiIp}]:8080`);
    expect(svc.fix).toMatch(/^start the service in api/);
    const open = find(results, 'dataplane.tcp', 'front→api tcp6/9000');
    expect(open.status).toBe('fail');
    expect(open.cause).toBe('unexpected-reachability');
    expect(open.evidence).toMatch(/token came back .*expects front→api tcp6\/9000 to be blocked/);
    expect(open.fix).toMatch(/deny: \{ from: front, to: api, proto: tcp, port: 9000 \}/);
    expect(find(results, 'dataplane.icmp', 'front→api icmp6').status).toBe('pass');
    // an IPv6-only lab has no IPv4 result at all
    expect(results.filter((r) => r.data?.proto && r.data?.family !== 6).map((r) => r.subject)).toEqual([]);
  }, 180_000);
});
