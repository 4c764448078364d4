/**
 * Link impairments on the real daemons (docs/impairments.md): the relay between a node's host end and the bridge
 * delays, drops and re-reads its parameters live. Every number is measured independently: `ping` inside the node's
 * network namespace (nsenter), container ids and ifindexes through Docker and `ip`, the relay through its pidfile
 * and /proc, offloads through `ethtool -k`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STATE_DIR } from '../../src/apply/state.js';
import {
  buildOnce,
  containerPid,
  daemonsUp,
  labctl,
  ovsdbFind,
  ROOT,
  residue,
  sh,
  shMaybe,
} from '../helpers/labctl.js';

const LAB = 'imp-lab';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-imp-'));
const LAB_FILE = join(tmp, 'imp-lab.yml');
const BASE = readFileSync(join(ROOT, 'test', 'fixtures', 'integration', 'imp-lab.yml'), 'utf8');
const B_IP = '10.71.1.20';

/** The fixture with a's impairment replaced (undefined: none). */
function writeLab(impair: string | undefined): void {
  const a = impair
    ? `[{ network: net, ip: 10.71.1.10, impair: ${impair} }]`
    : '[{ network: net, ip: 10.71.1.10 }]';
  writeFileSync(
    LAB_FILE,
    BASE.replace(/interfaces: \[\{ network: net, ip: 10\.71\.1\.10, impair: [^\]]*\]/, `interfaces: ${a}`),
  );
}

async function upOk(): Promise<string> {
  const r = await labctl(['up', '-f', LAB_FILE]);
  expect(r.exitCode, r.stderr + r.stdout).toBe(0);
  return r.stdout;
}

/** Round-trip times (ms) of `count` pings from node a to b, measured by ping itself inside a's namespace. */
async function pingTimes(
  count: number,
  intervalS = 0.05,
  size = 56,
): Promise<{ times: number[]; sent: number }> {
  const pid = await containerPid(`labctl.${LAB}.a`);
  const r = await shMaybe(
    'nsenter',
    [
      '-t',
      String(pid),
      '-n',
      'ping',
      '-n',
      '-c',
      String(count),
      '-i',
      String(intervalS),
      '-s',
      String(size),
      '-W',
      '2',
      B_IP,
    ],
    60_000,
  );
  const times = [...r.out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  const sent = Number(/(\d+) packets transmitted/.exec(r.out)?.[1] ?? 0);
  return { times, sent };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** What must not change when only the impairment changes. */
async function identity() {
  const id = await sh('docker', ['inspect', '-f', '{{.Id}}', `labctl.${LAB}.a`]);
  const pid = await containerPid(`labctl.${LAB}.a`);
  const link = JSON.parse(
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'link', 'show', 'dev', 'eth1']),
  )[0];
  return { id, ifindex: link.ifindex as number, mac: link.address as string };
}

/** The relay of a.eth1: its pid when the pidfile names a live process titled as the relay. */
function relayPid(): number | undefined {
  const dir = join(STATE_DIR, 'labs', LAB, 'relays');
  try {
    const files = readdirSync(dir);
    const pf = files.find((f) => f.endsWith('.pid'));
    if (!pf) return undefined;
    const pid = Number(readFileSync(join(dir, pf), 'utf8').trim());
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.startsWith(`labctl-relay ${LAB} `) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Live processes titled as a relay of the lab (zombies have no cmdline and are not alive). */
async function relayProcesses(): Promise<number[]> {
  const out = await sh('ps', ['-eo', 'pid=,args=']);
  return out
    .split('\n')
    .filter((l) => l.includes(`labctl-relay ${LAB} `) && !l.includes('<defunct>'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

async function planIface() {
  const plan = JSON.parse(
    await sh('node', [join(ROOT, 'dist', 'labctl.mjs'), 'plan', '-f', LAB_FILE, '--json']),
  );
  return plan.nodes.find((n: { name: string }) => n.name === 'a').interfaces[0] as { hostVeth: string };
}

interface DoctorJson {
  ok: boolean;
  checks: { id: string; subject: string; status: string; cause?: string; evidence?: string; fix?: string }[];
}

async function doctor(extra: string[] = []): Promise<DoctorJson> {
  const r = await labctl(['doctor', '--lab', LAB, '--json', ...extra], { timeoutMs: 170_000 });
  return JSON.parse(r.stdout) as DoctorJson;
}

const failing = (d: DoctorJson) => d.checks.filter((c) => c.status === 'fail' || c.status === 'error');

describe.runIf(up)('link impairments on the real daemons', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
  });
  afterAll(async () => {
    await labctl(['down', '--lab', LAB]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('100 ms delay shows as ~100 ms RTT; the relay veths have offloads off', async () => {
    writeLab('{ delay: 100ms }');
    const out = await upOk();
    expect(out).toMatch(/impair a\.eth1: delay 100ms/);
    await pingTimes(2, 0.2); // ARP
    const { times } = await pingTimes(20, 0.1);
    expect(times.length).toBeGreaterThanOrEqual(18);
    const m = median(times);
    expect(m).toBeGreaterThanOrEqual(100);
    expect(m).toBeLessThanOrEqual(140);
    // b → a is not impaired (egress only): b's own pings see only a's reply delay... measured from a, above.
    const { hostVeth } = await planIface();
    const rest = hostVeth.slice(2);
    for (const dev of [hostVeth, `lw${rest}`, `lb${rest}`]) {
      const k = await sh('ethtool', ['-k', dev]);
      for (const f of ['tx-checksumming', 'tcp-segmentation-offload', 'generic-segmentation-offload'])
        expect(k, `${dev} ${f}`).toMatch(new RegExp(`^${f}: off`, 'm'));
    }
    // lb… carries the iface-id; lv… is off the bridge.
    const rows = await ovsdbFind('ovs-vsctl', 'Interface', ['name'], [`external_ids:iface-id=${LAB}.a.eth1`]);
    expect(rows.map((r) => r.name)).toEqual([`lb${rest}`]);
    expect(relayPid()).toBeGreaterThan(1);
    const dry = await labctl(['up', '--dry-run', '-f', LAB_FILE]);
    expect(dry.stdout).toMatch(/no changes/);
    // a container Docker restarted has a new namespace and link: up re-plumbs it and wires a new relay
    const old = relayPid();
    await sh('docker', ['restart', '-t', '1', `labctl.${LAB}.a`]);
    const again = await upOk();
    expect(again).toMatch(/\+ impair a\.eth1: delay 100ms/);
    expect(relayPid()).toBeGreaterThan(1);
    expect(relayPid()).not.toBe(old);
    await pingTimes(2, 0.2);
    expect(median((await pingTimes(10, 0.1)).times)).toBeGreaterThanOrEqual(100);
    expect((await labctl(['up', '--dry-run', '-f', LAB_FILE])).stdout).toMatch(/no changes/);
  }, 120_000);

  it('labctl impair to 20 ms changes the RTT without recreating anything', async () => {
    const before = await identity();
    const relay = relayPid();
    // refused values are usage errors with the form to use; nothing changes
    const bad = await labctl(['impair', 'a', 'eth1', '--delay', '20', '--lab', LAB]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/delay "20" is not a duration/);
    expect(bad.stderr).toMatch(/50ms/);
    const none = await labctl(['impair', 'a', 'eth1', '--lab', LAB]);
    expect(none.exitCode).toBe(1);
    expect(none.stderr).toMatch(/--clear/);
    const r = await labctl(['impair', 'a', 'eth1', '--delay', '20ms', '--lab', LAB]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/delay 100ms, egress → delay 20ms, egress/);
    const { times } = await pingTimes(20, 0.05);
    const m = median(times);
    expect(m).toBeGreaterThanOrEqual(20);
    expect(m).toBeLessThanOrEqual(40);
    expect(await identity()).toEqual(before);
    expect(relayPid()).toBe(relay);
    // the saved state follows: status shows it, and `up -f` restores the file's 100 ms
    const st = await labctl(['status', '--lab', LAB, '--json']);
    expect(st.stdout).toMatch(/"delayMs": ?20/);
    const text = await labctl(['status', '--lab', LAB]);
    expect(text.stdout).toMatch(/impaired: delay 20ms, egress/);
    // `up -f` puts the file's 100 ms back, again by a set, and back to 20 ms for the next test
    const back = await upOk();
    expect(back).toMatch(/~ impair a\.eth1: delay 100ms, egress \(was delay 20ms, egress\)/);
    expect(relayPid()).toBe(relay);
    expect(median((await pingTimes(10, 0.1)).times)).toBeGreaterThanOrEqual(100);
  }, 120_000);

  it('direction both delays the switch→node side too; a rate serialises each frame', async () => {
    const both = await labctl([
      'impair',
      'a',
      'eth1',
      '--delay',
      '30ms',
      '--direction',
      'both',
      '--lab',
      LAB,
    ]);
    expect(both.exitCode, both.stderr + both.stdout).toBe(0);
    const m = median((await pingTimes(20, 0.05)).times);
    expect(m).toBeGreaterThanOrEqual(60);
    expect(m).toBeLessThanOrEqual(80);
    // 1 mbit/s: a 1442-byte frame (1400 bytes of ICMP payload) takes 11.5 ms on the wire, one way
    const rate = await labctl(['impair', 'a', 'eth1', '--rate', '1mbit', '--lab', LAB]);
    expect(rate.exitCode, rate.stderr + rate.stdout).toBe(0);
    const big = median((await pingTimes(10, 0.1, 1400)).times);
    expect(big).toBeGreaterThanOrEqual(11.5);
    expect(big).toBeLessThanOrEqual(30);
    const small = median((await pingTimes(10, 0.1)).times);
    expect(small).toBeLessThan(big);
  }, 120_000);

  it('30 % loss drops 15–45 % of 200 pings; --clear brings it back to no loss', async () => {
    const before = await identity();
    const r = await labctl(['impair', 'a', 'eth1', '--loss', '30%', '--lab', LAB]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const { times, sent } = await pingTimes(200, 0.01);
    expect(sent).toBe(200);
    const lost = (sent - times.length) / sent;
    expect(lost).toBeGreaterThanOrEqual(0.15);
    expect(lost).toBeLessThanOrEqual(0.45);
    const c = await labctl(['impair', 'a', 'eth1', '--clear', '--lab', LAB]);
    expect(c.exitCode, c.stderr + c.stdout).toBe(0);
    const after = await pingTimes(100, 0.01);
    expect(after.times.length).toBe(100);
    expect(median(after.times)).toBeLessThan(10);
    // cleared: the relay is gone, lv… is back on the bridge with the iface-id, the container is the same
    expect(relayPid()).toBeUndefined();
    expect(await relayProcesses()).toEqual([]);
    const { hostVeth } = await planIface();
    const rows = await ovsdbFind('ovs-vsctl', 'Interface', ['name'], [`external_ids:iface-id=${LAB}.a.eth1`]);
    expect(rows.map((x) => x.name)).toEqual([hostVeth]);
    expect((await shMaybe('ip', ['link', 'show', `lw${hostVeth.slice(2)}`])).ok).toBe(false);
    expect(await identity()).toEqual(before);
  }, 120_000);

  it('doctor is green with 5 % loss and 50 ms delay declared; impair-mismatch when the relay dies or is edited', async () => {
    writeLab('{ delay: 50ms, loss: 5% }');
    await upOk();
    const pid = relayPid();
    expect(pid).toBeGreaterThan(1);
    const green = await doctor();
    expect(green.ok, JSON.stringify(failing(green), null, 1)).toBe(true);
    const imp = green.checks.find((c) => c.id === 'wiring.impair' && c.subject === 'a.eth1');
    expect(imp?.status).toBe('pass');
    // killed: found by its pidfile, named, and the fix restores it
    process.kill(pid!, 'SIGKILL');
    const dead = await doctor(['--layer', 'wiring']);
    const m = dead.checks.find((c) => c.id === 'wiring.impair' && c.subject === 'a.eth1');
    expect(m?.status).toBe('fail');
    expect(m?.cause).toBe('impair-mismatch');
    expect(m?.evidence).toMatch(/planned: delay 50ms, loss 5%, egress; found: .*not running/);
    expect(m?.fix).toBe(`labctl impair a eth1 --delay 50ms --loss 5% --lab ${LAB}`);
    const fix = await labctl(m!.fix!.split(' ').slice(1));
    expect(fix.exitCode, fix.stderr + fix.stdout).toBe(0);
    expect(relayPid()).toBeGreaterThan(1);
    expect(relayPid()).not.toBe(pid);
    // params changed by hand (and re-read): the relay applies something else than planned
    const dir = join(STATE_DIR, 'labs', LAB, 'relays');
    const pf = readdirSync(dir).find((f) => f.endsWith('.params'))!;
    writeFileSync(join(dir, pf), readFileSync(join(dir, pf), 'utf8').replace('delay_ms=50', 'delay_ms=5'));
    process.kill(relayPid()!, 'SIGHUP');
    const edited = await doctor(['--layer', 'wiring']);
    const e = edited.checks.find((c) => c.id === 'wiring.impair' && c.subject === 'a.eth1');
    expect(e?.cause).toBe('impair-mismatch');
    expect(e?.evidence).toMatch(/relay applies delay 5ms, loss 5%/);
    // up converges it back (a set: no restart)
    const before = relayPid();
    const out = await upOk();
    expect(out).toMatch(/~ impair a\.eth1: delay 50ms, loss 5%, egress \(was delay 5ms/);
    expect(relayPid()).toBe(before);
    // doctor --fix converges a killed relay back
    process.kill(before!, 'SIGKILL');
    const fixed = await doctor(['--layer', 'wiring', '--fix']);
    expect(fixed.ok, JSON.stringify(failing(fixed), null, 1)).toBe(true);
    expect(relayPid()).toBeGreaterThan(1);
    expect(relayPid()).not.toBe(before);
  }, 180_000);

  it('a path impaired to 100 % loss counts as blocked: the doctor expects it blocked and stays green', async () => {
    const r = await labctl(['impair', 'a', 'eth1', '--loss', '100%', '--lab', LAB]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const { times, sent } = await pingTimes(20, 0.01);
    expect(sent).toBe(20);
    expect(times).toEqual([]);
    const d = await doctor(['--layer', 'dataplane']);
    expect(d.ok, JSON.stringify(failing(d), null, 1)).toBe(true);
    const ab = d.checks.filter((c) => c.id === 'dataplane.icmp' && /^(a→b|b→a) /.test(c.subject));
    expect(ab.length).toBe(2);
    for (const c of ab) expect(c.status).toBe('pass');
  }, 180_000);

  it('down leaves no relay process, veth or pidfile', async () => {
    expect(relayPid()).toBeGreaterThan(1);
    const d = await labctl(['down', '--lab', LAB]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(await relayProcesses()).toEqual([]);
    const res = await residue(LAB);
    expect(res.links).toEqual([]);
    expect(res.ovs).toBe(0);
    expect(res.state).toBe(false);
  }, 120_000);
});
