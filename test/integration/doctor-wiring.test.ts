/**
 * labctl doctor, wiring layer, on the real daemons: a healthy lab passes every host and wiring check (exit 0);
 * each injected fault is named by exactly one root cause with its code in --json (exit 1), everything it breaks
 * follows from it, and --fix repairs it so that the re-run passes. Faults are injected with the plain tools
 * (ethtool, ovs-vsctl, docker, ip), never through labctl, and undone in finally even when an assertion fails.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, containerPid, daemonsUp, labctl, sh, shMaybe } from '../helpers/labctl.js';

const LAB = 'dr-wiring';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-doctor-wiring-'));
const LAB_FILE = join(tmp, 'lab.yml');
writeFileSync(
  LAB_FILE,
  `name: ${LAB}
defaults: { image: labctl/node }
networks:
  front: { subnet: 10.61.1.0/24 }
  back: { subnet: 10.61.2.0/24 }
routers:
  gw: { links: [front, back] }
nodes:
  web:
    interfaces: [{ network: front, ip: 10.61.1.10 }]
  db:
    interfaces: [back]
`,
);

interface Result {
  id: string;
  layer: string;
  subject: string;
  status: string;
  cause?: string;
  evidence?: string;
  fix?: string;
  followsFrom?: string;
  data?: Record<string, unknown>;
}
interface Report {
  lab: string;
  ok: boolean;
  checks: Result[];
  summary: { total: number; failed: number; following: number };
  fixes?: { id: string; subject: string; changed?: string; error?: string }[];
}

async function doctor(extra: string[] = []): Promise<{ exitCode: number; report: Report; stderr: string }> {
  const r = await labctl(['doctor', '-f', LAB_FILE, '--layer', 'host,wiring', '--json', ...extra]);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`doctor did not print JSON (exit ${r.exitCode}): ${r.stdout}\n${r.stderr}`);
  }
  return { exitCode: r.exitCode, report, stderr: r.stderr };
}

const roots = (rep: Report) => rep.checks.filter((c) => c.status === 'fail' || c.status === 'error');
const show = (rep: Report) => JSON.stringify(roots(rep), null, 1);

/** Exactly one root cause, with this cause code, on this subject; everything else passes or follows from it. */
function expectOneRoot(rep: Report, cause: string, subject: string): Result {
  const rs = roots(rep);
  expect(
    rs.map((r) => `${r.cause} ${r.subject}`),
    show(rep),
  ).toEqual([`${cause} ${subject}`]);
  const root = rs[0]!;
  expect(root.evidence, 'evidence').toBeTruthy();
  expect(root.fix, 'fix').toBeTruthy();
  // symptoms point to the root (status skip), and nothing else is left failing
  for (const c of rep.checks)
    if (c.followsFrom) {
      expect(c.followsFrom, `${c.id} ${c.subject}`).toBe(`${root.id} ${root.subject}`);
      expect(c.status).toBe('skip');
    }
  expect(rep.summary.failed).toBe(1);
  expect(rep.ok).toBe(false);
  // root causes come first
  expect(rep.checks[0]).toEqual(root);
  return root;
}

async function expectFixed(): Promise<Report> {
  const fixed = await doctor(['--fix']);
  expect(fixed.exitCode, show(fixed.report)).toBe(0);
  expect(fixed.report.ok).toBe(true);
  expect(
    fixed.report.fixes?.some((f) => f.changed),
    JSON.stringify(fixed.report.fixes),
  ).toBe(true);
  const again = await doctor();
  expect(again.exitCode, show(again.report)).toBe(0);
  return fixed.report;
}

async function pidOf(node: string): Promise<number> {
  return containerPid(`labctl.${LAB}.${node}`);
}

const plan = async () =>
  JSON.parse((await labctl(['plan', '-f', LAB_FILE, '--json'])).stdout) as {
    nodes: {
      name: string;
      interfaces: { name: string; hostVeth: string; lsp: string; ip: string; prefix: number }[];
    }[];
  };

describe.runIf(up)('labctl doctor: wiring faults on the real daemons', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await labctl(['down', '--lab', LAB]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a healthy lab passes every host and wiring check: exit 0, JSON of design.md, JUnit', async () => {
    const junit = join(tmp, 'doctor.xml');
    const { exitCode, report } = await doctor(['--junit', junit]);
    expect(exitCode, show(report)).toBe(0);
    expect(report.lab).toBe(LAB);
    expect(report.ok).toBe(true);
    expect(
      report.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip'),
      show(report),
    ).toEqual([]);
    for (const c of report.checks) {
      expect(['host', 'wiring']).toContain(c.layer);
      expect(c.id).toMatch(/^(host|wiring)\./);
    }
    // every wiring check ran for every interface (2) or node (2)
    const wiringIds = new Set(report.checks.filter((c) => c.layer === 'wiring').map((c) => c.id));
    for (const id of wiringIds)
      expect(
        report.checks.filter((c) => c.id === id),
        id,
      ).toHaveLength(2);
    expect(wiringIds.size).toBeGreaterThanOrEqual(10);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    expect(xml).toContain(`tests="${report.checks.length}" failures="0" errors="0"`);
    expect(xml).toContain('<testsuite name="wiring"');
  });

  it('prints the human report on stdout, progress on stderr, and honours --check', async () => {
    const r = await labctl(['doctor', '-f', LAB_FILE, '--check', 'wiring.offload,wiring.routes']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('wiring.offload');
    expect(r.stdout).toContain('wiring.routes');
    expect(r.stdout).not.toContain('wiring.veth');
    expect(r.stdout).toMatch(/^0\/4 checks failed$/m);
    expect(r.stderr).toContain('[wiring]');
    const bad = await labctl(['doctor', '-f', LAB_FILE, '--check', 'wiring.nope', '--json']);
    expect(bad.exitCode).toBe(2);
    expect(JSON.parse(bad.stdout).error).toContain('unknown check');
  });

  it('tx checksum offload re-enabled inside a container → checksum-offload; --fix turns it off', async () => {
    const pid = await pidOf('web');
    try {
      await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'on']);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const root = expectOneRoot(report, 'checksum-offload', 'web.eth1');
      expect(root.id).toBe('wiring.offload');
      expect(root.fix).toBe(`nsenter -t ${pid} -n ethtool -K eth1 tx off`);
      expect(root.evidence).toContain('tx-checksumming: on');
      await expectFixed();
      expect(await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-k', 'eth1'])).toMatch(
        /^tx-checksumming: off/m,
      );
    } finally {
      await shMaybe('nsenter', ['-t', String(pid), '-n', 'ethtool', '-K', 'eth1', 'tx', 'off']);
    }
  });

  it('iface-id changed on the OVS interface → iface-id-mismatch; the binding follows from it; --fix restores it', async () => {
    const web = (await plan()).nodes.find((n) => n.name === 'web')!.interfaces[0]!;
    try {
      await sh('ovs-vsctl', [
        'set',
        'Interface',
        web.hostVeth,
        'external_ids:iface-id=dr-wiring.someone-else',
      ]);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const root = expectOneRoot(report, 'iface-id-mismatch', 'web.eth1');
      expect(root.fix).toBe(`ovs-vsctl set Interface ${web.hostVeth} external_ids:iface-id=${web.lsp}`);
      expect(root.evidence).toContain('iface-id=dr-wiring.someone-else');
      expect(root.evidence).toContain(`expected ${web.lsp}`);
      await expectFixed();
      const id = await sh('ovs-vsctl', ['get', 'Interface', web.hostVeth, 'external_ids:iface-id']);
      expect(id.replace(/"/g, '')).toBe(web.lsp);
    } finally {
      await shMaybe('ovs-vsctl', ['set', 'Interface', web.hostVeth, `external_ids:iface-id=${web.lsp}`]);
    }
  });

  it('a container stopped → container-not-running; its links, addresses and routes follow; --fix restarts and re-plumbs', async () => {
    const name = `labctl.${LAB}.db`;
    try {
      await sh('docker', ['stop', '-t', '1', name]);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const root = expectOneRoot(report, 'container-not-running', 'db');
      expect(root.fix).toBe(`docker start ${name} && labctl up -f ${LAB_FILE}`);
      expect(root.evidence).toContain('exited');
      expect(report.summary.following).toBeGreaterThanOrEqual(3);
      const fixed = await expectFixed();
      expect(fixed.fixes?.find((f) => f.subject === 'db')?.changed).toContain(`start container ${name}`);
    } finally {
      await shMaybe('docker', ['start', name]);
      await labctl(['up', '-f', LAB_FILE]);
    }
  });

  it('the host-side veth set down → link-down; --fix sets it up', async () => {
    const db = (await plan()).nodes.find((n) => n.name === 'db')!.interfaces[0]!;
    try {
      await sh('ip', ['link', 'set', 'dev', db.hostVeth, 'down']);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const root = expectOneRoot(report, 'link-down', 'db.eth1');
      expect(root.fix).toBe(`ip link set dev ${db.hostVeth} up`);
      await expectFixed();
    } finally {
      await shMaybe('ip', ['link', 'set', 'dev', db.hostVeth, 'up']);
    }
  });

  it("a container's address changed by hand → address-mismatch (the lost route follows); --fix readdresses", async () => {
    const pid = await pidOf('web');
    try {
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'flush', 'dev', 'eth1']);
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'add', '10.61.1.99/24', 'dev', 'eth1']);
      const { exitCode, report } = await doctor();
      expect(exitCode).toBe(1);
      const root = expectOneRoot(report, 'address-mismatch', 'web.eth1');
      expect(root.evidence).toContain('10.61.1.99/24');
      expect(root.evidence).toContain('expected 10.61.1.10/24');
      expect(root.fix).toBe(`labctl up -f ${LAB_FILE}`);
      expect(report.checks.find((c) => c.id === 'wiring.routes' && c.subject === 'web')?.followsFrom).toBe(
        'wiring.address web.eth1',
      );
      await expectFixed();
    } finally {
      await labctl(['up', '-f', LAB_FILE]);
    }
  });
});
