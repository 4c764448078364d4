/**
 * The five reference labs in examples/: each comes up, doctor passes (exit 0, every expectation measured, none
 * skipped, ICMP, UDP and TCP verified for every ordered pair of nodes), its experiment step runs with assertions,
 * doctor passes again, and down leaves zero residue.
 * Packets in the experiments are checked by the test itself (curl/ping inside the containers' netns).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, residue, sh, shMaybe } from '../helpers/labctl.js';

const EX = join(ROOT, 'examples');
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-examples-'));
const LABS = ['ovn-vpc', 'mtd', 'service-migration', 'address-change', 'tcp-migration'];

interface DoctorJson {
  lab: string;
  ok: boolean;
  checks: {
    id: string;
    layer: string;
    subject: string;
    status: string;
    cause?: string;
    followsFrom?: string;
    evidence?: string;
    data?: { nodes?: string[]; proto?: string; outcome?: string; expect?: string };
  }[];
}

async function doctor(args: string[]): Promise<{ exitCode: number; report: DoctorJson; stderr: string }> {
  const r = await labctl(['doctor', ...args, '--json']);
  let report: DoctorJson;
  try {
    report = JSON.parse(r.stdout) as DoctorJson;
  } catch {
    throw new Error(
      `doctor printed no JSON (exit ${r.exitCode}): ${r.stdout.slice(0, 500)} ${r.stderr.slice(0, 500)}`,
    );
  }
  return { exitCode: r.exitCode, report, stderr: r.stderr };
}

/** Doctor is green, and it measured every data-plane expectation (a skip is not a pass). */
async function expectGreen(args: string[]): Promise<DoctorJson> {
  const { exitCode, report } = await doctor(args);
  // A skip is fine only where there was nothing to probe (e.g. no UDP expectation); an expectation is never skipped.
  const bad = report.checks.filter(
    (c) =>
      c.status === 'fail' ||
      c.status === 'error' ||
      c.status === 'warn' ||
      (c.status === 'skip' && c.subject.includes('→')),
  );
  expect(bad, JSON.stringify(bad, null, 1)).toEqual([]);
  expect(exitCode).toBe(0);
  expect(report.checks.filter((c) => c.layer === 'dataplane').length).toBeGreaterThan(0);
  expectAllProtocols(report);
  return report;
}

/**
 * ICMP, UDP and TCP were each verified end to end — results present, every one passing (a blocked flow passes as
 * "blocked as expected"), none skipped — and for every ordered pair of nodes, in each protocol.
 */
function expectAllProtocols(report: DoctorJson): void {
  const nodes = report.checks.filter((c) => c.id === 'wiring.container').map((c) => c.subject);
  expect(nodes.length).toBeGreaterThan(1);
  for (const proto of ['icmp', 'udp', 'tcp']) {
    const rs = report.checks.filter((c) => c.id === `dataplane.${proto}`);
    expect(rs.length, `dataplane.${proto} has no result`).toBeGreaterThan(0);
    const notPass = rs.filter((c) => c.status !== 'pass');
    expect(notPass, JSON.stringify(notPass, null, 1)).toEqual([]);
    for (const c of rs) expect(c.data?.outcome, JSON.stringify(c)).toMatch(/^(pass|timeout|refused)$/);
    for (const a of nodes)
      for (const b of nodes) {
        if (a === b) continue;
        const pair = rs.filter((c) => c.data?.nodes?.[0] === a && c.data?.nodes?.[1] === b);
        expect(pair.length, `no ${proto} result ${a}→${b}`).toBeGreaterThan(0);
      }
  }
}

/** Root causes of a failing doctor run. */
async function causes(args: string[]): Promise<{ exitCode: number; causes: string[] }> {
  const { exitCode, report } = await doctor(args);
  const roots = report.checks.filter((c) => c.status === 'fail' && !c.followsFrom).map((c) => c.cause ?? '');
  return { exitCode, causes: [...new Set(roots)] };
}

/** A command in a node's network namespace; with `image`, its mount namespace too (the image's own binaries). */
async function inNode(lab: string, node: string, cmd: string[], timeoutMs = 15_000, image = false) {
  const pid = await containerPid(`labctl.${lab}.${node}`);
  return shMaybe('nsenter', ['-t', String(pid), '-n', ...(image ? ['-m'] : []), ...cmd], timeoutMs);
}

/** the node image's curl: the host need not have curl (a minimal Debian 13 has not) */
const curl = (lab: string, node: string, url: string) =>
  inNode(lab, node, ['curl', '-s', '-m', '3', url], 15_000, true);

/** A records of `name` as the node resolves it (busybox nslookup, its own resolv.conf) */
async function resolveIn(lab: string, node: string, name: string): Promise<string[]> {
  const r = await inNode(lab, node, ['busybox', 'nslookup', '-type=a', name], 15_000, true);
  const lines = r.out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Name:'));
  return at < 0
    ? []
    : lines
        .slice(at)
        .map((l) => /^Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)$/.exec(l)?.[1])
        .filter((x): x is string => !!x);
}

async function upOk(file: string): Promise<void> {
  const r = await labctl(['up', '-f', file]);
  expect(r.exitCode, r.stderr).toBe(0);
}

async function downClean(lab: string): Promise<void> {
  const r = await labctl(['down', '--lab', lab]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(await residue(lab)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
}

describe.runIf(up)('examples come up doctor-green and run their experiments', () => {
  beforeAll(async () => {
    await buildOnce();
    for (const lab of LABS) await labctl(['down', '--lab', lab]);
  });
  afterAll(async () => {
    await shMaybe('/usr/share/ovn/scripts/ovn-ctl', ['start_controller'], 60_000);
    for (const lab of LABS) await labctl(['down', '--lab', lab]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ovn-vpc: HTTP across VPCs, and doctor names the four classic faults', async () => {
    const file = join(EX, 'ovn-vpc', 'lab.yml');
    await upOk(file);
    await expectGreen(['-f', file]);
    expect((await curl('ovn-vpc', 'gen-b', 'http://10.10.1.80/')).out).toBe('web-a');
    expect((await curl('ovn-vpc', 'gen-a', 'http://10.10.2.80/')).out).toBe('web-b');

    // 1. checksum offload back on inside one container
    const genA = await containerPid('labctl.ovn-vpc.gen-a');
    await sh('nsenter', ['-t', String(genA), '-n', 'ethtool', '-K', 'eth1', 'tx', 'on']);
    expect(await causes(['-f', file])).toEqual({ exitCode: 1, causes: ['checksum-offload'] });
    expect((await labctl(['doctor', '-f', file, '--fix'])).exitCode).toBe(0);

    // 2. an iface-id that matches no logical port
    const plan = JSON.parse((await labctl(['plan', '-f', file, '--json'])).stdout);
    const webA = plan.nodes.find((n: { name: string }) => n.name === 'web-a').interfaces[0];
    await sh('ovs-vsctl', ['set', 'Interface', webA.hostVeth, 'external_ids:iface-id=wrong']);
    expect(await causes(['-f', file])).toEqual({ exitCode: 1, causes: ['iface-id-mismatch'] });
    expect((await labctl(['doctor', '-f', file, '--fix'])).exitCode).toBe(0);

    // 3. a node whose network stack is not set up
    const webB = await containerPid('labctl.ovn-vpc.web-b');
    await sh('nsenter', ['-t', String(webB), '-n', 'ip', 'addr', 'flush', 'dev', 'eth1']);
    expect(await causes(['-f', file])).toEqual({ exitCode: 1, causes: ['address-mismatch'] });
    expect((await labctl(['doctor', '-f', file, '--fix'])).exitCode).toBe(0);

    // 4. ovn-controller not running
    try {
      await sh('/usr/share/ovn/scripts/ovn-ctl', ['stop_controller'], 60_000);
      const r = await causes(['-f', file]);
      expect(r.exitCode).toBe(1);
      expect(r.causes).toEqual(['ovn-controller-down']);
    } finally {
      await sh('/usr/share/ovn/scripts/ovn-ctl', ['start_controller'], 60_000);
    }
    // ovn-controller re-binds the ports after a restart; wait for the lab to be ready again (bounded).
    expect((await labctl(['up', '-f', file])).exitCode).toBe(0);
    await expectGreen(['-f', file]);
    await downClean('ovn-vpc');
  }, 300_000);

  it('mtd: public addresses, zones, and a rotation after which old addresses stop answering', async () => {
    const file = join(EX, 'mtd', 'lab.yml');
    await upOk(file);
    const report = await expectGreen(['-f', file]);
    // The blocked expectations were measured as blocked, not skipped.
    expect(
      report.checks.filter((c) => c.layer === 'dataplane' && c.subject.includes('100.64.0.11')).length,
    ).toBeGreaterThan(0);
    expect((await curl('mtd', 'h1', 'http://100.64.0.12:8080/')).ok).toBe(true);
    expect((await curl('mtd', 'h4', 'http://100.64.0.11:8080/')).ok).toBe(false);
    // dns: true — hosts reach each other by name (OVN DNS, docs/dhcp-dns.md)
    expect((await curl('mtd', 'h1', 'http://h2.public.mtd:8080/')).ok).toBe(true);
    expect(await resolveIn('mtd', 'h1', 'h2.public.mtd')).toEqual(['100.64.0.12']);

    const rotated = join(tmp, 'mtd-rotated.yml');
    writeFileSync(rotated, readFileSync(file, 'utf8').replace(/100\.64\.0\./g, '100.64.1.'));
    await upOk(rotated);
    // the names followed the rotation, in the NAT rules' transaction: right after up returns
    expect(await resolveIn('mtd', 'h1', 'h2.public.mtd')).toEqual(['100.64.1.12']);
    expect((await curl('mtd', 'h1', 'http://h2.public.mtd:8080/')).ok).toBe(true);
    await expectGreen(['-f', rotated]);
    expect((await curl('mtd', 'h1', 'http://100.64.1.12:8080/')).ok).toBe(true);
    expect((await curl('mtd', 'h1', 'http://100.64.0.12:8080/')).ok).toBe(false);
    expect((await curl('mtd', 'h4', 'http://100.64.1.11:8080/')).ok).toBe(false);
    await downClean('mtd');
  }, 180_000);

  it('service-migration: the VIP follows the service and a running ping continues', async () => {
    const file = join(EX, 'service-migration', 'lab.yml');
    const moved = join(EX, 'service-migration', 'migrated.yml');
    await upOk(file);
    await expectGreen(['-f', file]);
    expect((await curl('service-migration', 'client', 'http://10.30.9.100:8080/')).out).toBe('svc-a');
    // the client reaches the service by name: svc → the VIP (OVN DNS, docs/dhcp-dns.md)
    expect((await curl('service-migration', 'client', 'http://svc:8080/')).out).toBe('svc-a');

    const client = await containerPid('labctl.service-migration.client');
    const pinger = execa(
      'nsenter',
      ['-t', String(client), '-n', 'ping', '-n', '-i', '0.2', '-c', '40', '-W', '1', '10.30.9.100'],
      {
        reject: false,
        timeout: 30_000,
      },
    );
    await new Promise((r) => setTimeout(r, 2000));
    await upOk(moved);
    const ping = await pinger;
    const seqs = [...String(ping.stdout).matchAll(/bytes from .*icmp_seq=(\d+)/g)].map((m) => Number(m[1]));
    // The sequence continues after the move: replies up to the end, at most a few lost.
    expect(seqs.length, String(ping.stdout)).toBeGreaterThanOrEqual(34);
    expect(Math.max(...seqs)).toBeGreaterThanOrEqual(38);
    expect((await curl('service-migration', 'client', 'http://10.30.9.100:8080/')).out).toBe('svc-b');
    expect((await curl('service-migration', 'client', 'http://svc.service-migration:8080/')).out).toBe(
      'svc-b',
    );
    expect(await resolveIn('service-migration', 'client', 'svc-a.service-migration')).toEqual([]);
    expect(await resolveIn('service-migration', 'client', 'svc-b.service-migration')).toEqual(['10.30.1.22']);
    await expectGreen(['-f', moved]);
    await downClean('service-migration');
  }, 180_000);

  it('address-change: readdress a running client; OVN and state follow, doctor stays green', async () => {
    const file = join(EX, 'address-change', 'lab.yml');
    await upOk(file);
    await expectGreen(['-f', file]);
    const r = await labctl(['readdress', 'client', 'eth1', '10.50.0.99', '-f', file]);
    expect(r.exitCode, r.stderr).toBe(0);
    const pid = await containerPid('labctl.address-change.client');
    const addrs = JSON.parse(
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1']),
    );
    expect(addrs[0].addr_info.map((a: { local: string }) => a.local)).toEqual(['10.50.0.99']);
    expect(await sh('ovn-nbctl', ['lsp-get-addresses', 'address-change.client.eth1'])).toMatch(
      / 10\.50\.0\.99$/,
    );
    const status = JSON.parse((await labctl(['status', '--lab', 'address-change', '--json'])).stdout);
    const iface = status.labs[0].nodes.find((n: { name: string }) => n.name === 'client').interfaces[0];
    expect(iface.ip).toBe('10.50.0.99/24');
    expect((await curl('address-change', 'client', 'http://10.50.0.20/')).out).toBe('server');
    await expectGreen(['--lab', 'address-change']);
    await downClean('address-change');
  }, 180_000);

  it('tcp-migration: new connections land on server2 after the target moves', async () => {
    const file = join(EX, 'tcp-migration', 'lab.yml');
    const moved = join(EX, 'tcp-migration', 'moved.yml');
    await upOk(file);
    await expectGreen(['-f', file]);
    for (let i = 0; i < 3; i++)
      expect((await curl('tcp-migration', 'client', 'http://10.40.9.80/')).out).toBe('server1');
    await upOk(moved);
    for (let i = 0; i < 3; i++)
      expect((await curl('tcp-migration', 'client', 'http://10.40.9.80/')).out).toBe('server2');
    await expectGreen(['-f', moved]);
    await downClean('tcp-migration');
  }, 180_000);
});
