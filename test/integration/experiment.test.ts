/**
 * labctl run on the real daemons (issue 13, "Done when"): a 2 s link outage at 10 pps is ~20 lost pings and a ~2 s
 * gap, agreeing with an independent `ping` run alongside in the same namespace; UDP loses about as much; a TCP
 * session across the outage survives. A TCP session to an address that is then moved away is never `survived`. A
 * flow a policy blocks is 100 % loss and fails an expectation that wanted it to pass. The SVG timeline renders to
 * PNG and marks the steps. With no step, 60 s at 50 pps loses nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, residue } from '../helpers/labctl.js';

const LAB = 'exp-it';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-exp-'));
const LAB_FILE = join(tmp, 'lab.yml');
writeFileSync(
  LAB_FILE,
  `name: ${LAB}
networks:
  lan: { subnet: 10.71.1.0/24 }
nodes:
  client: { interfaces: [{ network: lan, ip: 10.71.1.10 }] }
  server: { interfaces: [{ network: lan, ip: 10.71.1.20 }] }
  walled: { interfaces: [{ network: lan, ip: 10.71.1.30 }] }
policies:
  - { deny: { from: client, to: walled, proto: any } }
scenarios:
  flap:
    flows:
      - { name: ping, from: client, to: server, proto: icmp, rate: 10 }
      - { name: dgram, from: client, to: server, proto: udp, port: 7001, rate: 10 }
      - { name: sess, from: client, to: server, proto: tcp, port: 7000, rate: 10 }
    steps:
      - wait: 2s
      - link: { node: server, iface: eth1, state: down }
      - wait: 2s
      - link: { node: server, iface: eth1, state: up }
      - wait: 4s
    expect:
      - { flow: ping, max_lost: 30 }
      - { flow: sess, tcp: survived }
  blocked:
    flows:
      - { name: walled, from: client, to: walled, proto: icmp, rate: 10 }
      - { name: open, from: client, to: server, proto: icmp, rate: 10 }
    steps:
      - wait: 2s
    expect:
      - { flow: walled, max_loss_pct: 0 }
      - { flow: open, max_lost: 0 }
  quiet:
    flows:
      - { name: ping, from: client, to: server, proto: icmp, rate: 50 }
      - { name: dgram, from: client, to: server, proto: udp, port: 7101, rate: 50 }
      - { name: sess, from: client, to: server, proto: tcp, port: 7100, rate: 50 }
    steps:
      - wait: 60s
    expect:
      - { flow: ping, max_lost: 0 }
      - { flow: dgram, max_lost: 0 }
      - { flow: sess, max_lost: 0, tcp: survived }
  lossy:
    flows:
      - { name: ping, from: client, to: server, proto: icmp, rate: 10 }
    steps:
      - wait: 2s
      - impair: { node: server, iface: eth1, loss: 100% }
      - wait: 2s
      - impair: { node: server, iface: eth1, clear: true }
      - wait: 3s
  moved:
    flows:
      - { name: sess, from: client, to: 10.71.1.20, proto: tcp, port: 7200, rate: 10 }
      - { name: follow, from: client, to: server, proto: icmp, rate: 10 }
    steps:
      - wait: 1s
      - readdress: { node: server, iface: eth1, ip: 10.71.1.40 }
      - wait: 4s
    expect:
      - { flow: sess, tcp: [reset, stalled] }
`,
);

interface Flow {
  name: string;
  sent: number;
  received: number;
  lost: number;
  loss_pct: number;
  duplicates: number;
  max_gap_ms: number;
  recovered_ms: (number | null)[];
  error: string | null;
  gaps: { start_ms: number; end_ms: number; ms: number; lost: number }[];
  tcp: { outcome: string; connected: boolean } | null;
}
interface Report {
  scenario: string;
  ok: boolean;
  error: string | null;
  flows: Flow[];
  steps: { step: string; start_ms: number; end_ms: number; ok: boolean }[];
  expect: { flow: string; check: string; ok: boolean }[];
}

const flow = (r: Report, name: string) => r.flows.find((f) => f.name === name)!;

async function run(args: string[]): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await labctl(['run', ...args, '-f', LAB_FILE, '--json'], { timeoutMs: 120_000 });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`labctl run ${args.join(' ')}: exit ${r.exitCode}, no JSON: ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.exitCode, report, stderr: r.stderr };
}

/** An independent `ping -D` in the client's netns: transmitted, received, and the longest silence between replies. */
async function independentPing(pid: number, ip: string, seconds: number) {
  const r = await execa(
    'nsenter',
    ['-t', String(pid), '-n', 'ping', '-n', '-D', '-i', '0.1', '-w', String(seconds), ip],
    { reject: false, timeout: (seconds + 10) * 1000 },
  );
  const out = String(r.stdout);
  const times = [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from/gm)].map((m) => Number(m[1]) * 1000);
  const sum = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!sum) throw new Error(`ping printed no summary: ${out}\n${r.stderr}`);
  let maxGap = 0;
  for (let i = 1; i < times.length; i++) maxGap = Math.max(maxGap, times[i]! - times[i - 1]!);
  return { sent: Number(sum[1]), received: Number(sum[2]), lost: Number(sum[1]) - Number(sum[2]), maxGap };
}

describe.runIf(up)('labctl run: flows measured across steps, on the real daemons', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(async () => {
    try {
      const r = await labctl(['down', '--lab', LAB]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a 2 s link outage at 10 pps: ~20 lost, ~2 s gap, as an independent ping saw it; udp alike; tcp survives; the plot renders', async () => {
    const pid = await containerPid(`labctl.${LAB}.client`);
    const svg = join(tmp, 'flap.svg');
    // the independent ping covers the whole run (agents start in about a second; the run takes ~9 s)
    const [ping, res] = await Promise.all([
      independentPing(pid, '10.71.1.20', 13),
      run(['flap', '--plot', svg]),
    ]);
    const { code, report } = res;
    expect(report.error, JSON.stringify(report.steps)).toBeNull();
    expect(report.steps.map((s) => s.ok)).toEqual([true, true, true, true, true]);
    const p = flow(report, 'ping');
    const u = flow(report, 'dgram');
    const t = flow(report, 'sess');
    // ~20 lost at 10 pps over 2 s, the same as ping's own count (within a few packets)
    expect(p.lost).toBeGreaterThanOrEqual(17);
    expect(p.lost).toBeLessThanOrEqual(26);
    expect(Math.abs(p.lost - ping.lost), `labctl ${p.lost}, ping ${ping.lost}`).toBeLessThanOrEqual(3);
    expect(p.max_gap_ms).toBeGreaterThan(1800);
    expect(p.max_gap_ms).toBeLessThan(2700);
    expect(Math.abs(p.max_gap_ms - ping.maxGap), `labctl ${p.max_gap_ms}, ping ${ping.maxGap}`).toBeLessThan(
      300,
    );
    expect(p.gaps).toHaveLength(1);
    expect(p.duplicates).toBe(0);
    // the gap lies between the link-down and the link-up step
    const down = report.steps[1]!;
    const upStep = report.steps[3]!;
    expect(p.gaps[0]!.start_ms).toBeLessThanOrEqual(down.end_ms + 150);
    expect(p.gaps[0]!.end_ms).toBeGreaterThanOrEqual(upStep.start_ms);
    expect(Math.abs(u.lost - p.lost)).toBeLessThanOrEqual(3);
    expect(u.max_gap_ms).toBeGreaterThan(1800);
    expect(t.tcp).toMatchObject({ outcome: 'survived', connected: true });
    expect(t.received).toBeGreaterThan(50);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);

    // the timeline: an SVG that renders, with the steps that change something marked and labelled
    const text = readFileSync(svg, 'utf8');
    expect(text).toContain('2. link server eth1 down');
    expect(text).toContain('4. link server eth1 up');
    expect(text.match(/stroke-dasharray/g)).toHaveLength(2);
    const png = join(tmp, 'flap.png');
    await execa('rsvg-convert', ['-o', png, svg]);
    const head = readFileSync(png);
    expect(head.subarray(1, 4).toString()).toBe('PNG');
    expect(head.readUInt32BE(16)).toBe(1200); // width from the IHDR chunk
    expect(head.length).toBeGreaterThan(10_000);
  }, 90_000);

  it('impair steps: 100 % loss for 2 s is ~20 lost pings, as an independent ping saw it; clear restores', async () => {
    const pid = await containerPid(`labctl.${LAB}.client`);
    const [ping, { code, report }] = await Promise.all([
      independentPing(pid, '10.71.1.20', 11),
      run(['lossy']),
    ]);
    expect(report.error, JSON.stringify(report.steps)).toBeNull();
    expect(report.steps.map((s) => s.ok)).toEqual([true, true, true, true, true]);
    const p = flow(report, 'ping');
    // 2 s at 10 pps, plus what re-plumbing the host side (relay in, relay out) costs
    expect(p.lost).toBeGreaterThanOrEqual(17);
    expect(p.lost).toBeLessThanOrEqual(40);
    expect(Math.abs(p.lost - ping.lost), `labctl ${p.lost}, ping ${ping.lost}`).toBeLessThanOrEqual(4);
    expect(p.recovered_ms[3], JSON.stringify(p.gaps)).not.toBeNull();
    expect(code).toBe(0);
    const st = JSON.parse((await labctl(['status', '--lab', LAB, '--json'])).stdout);
    const server = JSON.stringify(st).includes('"impair"');
    expect(server, 'no interface is left impaired after the clear step').toBe(false);
  }, 90_000);

  it('a flow a policy blocks is 100 % loss, not an error, and fails an expectation that wanted it to pass', async () => {
    const { code, report } = await run(['blocked']);
    const w = flow(report, 'walled');
    expect(w.error).toBeNull();
    expect(w.sent).toBeGreaterThan(15);
    expect([w.received, w.loss_pct]).toEqual([0, 100]);
    expect(flow(report, 'open').lost).toBe(0);
    expect(report.expect.find((e) => e.flow === 'walled')?.ok).toBe(false);
    expect(report.expect.find((e) => e.flow === 'open')?.ok).toBe(true);
    expect(report.error).toBeNull();
    expect(code).toBe(1);
  }, 60_000);

  it('with no step, 60 s at 50 pps loses nothing (icmp, udp, tcp)', async () => {
    const { code, report } = await run(['quiet']);
    for (const f of report.flows) {
      expect(f.error, f.name).toBeNull();
      expect(f.sent, f.name).toBeGreaterThan(2900);
      expect(f.lost, f.name).toBe(0);
      expect(f.duplicates, f.name).toBe(0);
    }
    expect(code).toBe(0);
  }, 150_000);

  it('a tcp session to an address that is then moved away is never survived; a flow to the node follows it', async () => {
    const { code, report } = await run(['moved']);
    expect(report.steps.every((s) => s.ok)).toBe(true);
    const s = flow(report, 'sess');
    expect(s.tcp?.connected).toBe(true);
    expect(s.tcp?.outcome).not.toBe('survived');
    expect(['reset', 'stalled']).toContain(s.tcp?.outcome);
    // the icmp flow to the node name is pointed at its new address after the step: it is delivered again right
    // after the step (what the readdress itself takes is lost: the old address goes away during it)
    const f = flow(report, 'follow');
    expect(f.error).toBeNull();
    expect(f.recovered_ms[1], JSON.stringify(f.gaps)).not.toBeNull();
    expect(f.recovered_ms[1]!).toBeLessThan(1000);
    const readdressed = report.steps[1]!;
    expect(f.lost).toBeLessThanOrEqual(Math.ceil((readdressed.end_ms - readdressed.start_ms) / 100) + 10);
    expect(code).toBe(0);
  }, 60_000);

  it('labctl measure: one flow measured while a script on the host pulls a cable for 1 s', async () => {
    const script = join(tmp, 'flap.sh');
    const cli = `${process.execPath} ${join(ROOT, 'dist', 'labctl.mjs')}`;
    writeFileSync(
      script,
      `#!/bin/sh\nset -e\n${cli} link server eth1 down --lab ${LAB}\nsleep 1\n${cli} link server eth1 up --lab ${LAB}\n`,
      { mode: 0o755 },
    );
    const r = await labctl(
      [
        'measure',
        '--from',
        'client',
        '--to',
        'server',
        '--proto',
        'udp',
        '--port',
        '7301',
        '--lab',
        LAB,
        '--json',
        '--',
        script,
      ],
      { timeoutMs: 60_000 },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    const f = flow(report, 'flow');
    expect(f.error).toBeNull();
    expect(report.steps.map((s) => s.step)).toEqual(['wait 1 s', `command: ${script}`, 'wait 2 s']);
    expect(f.lost).toBeGreaterThanOrEqual(7);
    expect(f.lost).toBeLessThanOrEqual(16);
    expect(f.max_gap_ms).toBeGreaterThan(800);
    // a failing command: the measurement could not run as asked
    const bad = await labctl([
      'measure',
      '--from',
      'client',
      '--to',
      'server',
      '--proto',
      'icmp',
      '--lab',
      LAB,
      '--before',
      '0',
      '--after',
      '0',
      '--',
      'false',
    ]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stdout).toContain('command: false');
  }, 60_000);

  it('exit 2 when the scenario cannot run: an unknown scenario, a lab that is not up', async () => {
    const r = await labctl(['run', 'nosuch', '-f', LAB_FILE]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no scenario nosuch');
    expect(r.stderr).toContain('scenarios: flap, blocked, quiet, lossy, moved');
    const other = join(tmp, 'other.yml');
    writeFileSync(other, readFileSync(LAB_FILE, 'utf8').replace(`name: ${LAB}`, 'name: exp-not-up'));
    const r2 = await labctl(['run', 'flap', '-f', other]);
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr).toContain('lab exp-not-up is not up');
    expect(existsSync(other)).toBe(true);
  });
});
