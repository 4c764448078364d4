/**
 * Multi-chassis labs on the real daemons (docs/multichassis.md): three simulated chassis, each with its own
 * ovsdb-server, ovs-vswitchd and ovn-controller in its own netns, and the lab's own OVN central. The test checks
 * the result itself — Port_Binding rows through ovn-sbctl against the lab's SB, tunnel counters through each
 * chassis's own ovs-vsctl, packets with its own probes inside the containers — and that `down` leaves nothing,
 * also after `up` was SIGKILLed halfway.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOnce,
  CLI,
  containerPid,
  daemonsUp,
  labctl,
  ROOT,
  residue,
  sh,
  shMaybe,
} from '../helpers/labctl.js';

const LAB = 'mc-three';
const FILE = join(ROOT, 'test', 'fixtures', 'integration', 'mc-three.yml');
const RUN = join(process.env.LABCTL_RUN_DIR ?? '/run/labctl', 'labs', LAB);
const SB = `unix:${RUN}/central/sb.sock`;
const IP = { a1: '10.93.1.2', a2: '10.93.1.3', b3: '10.93.2.2' } as const;
const CHASSIS = { a1: 'hv1', a2: 'hv2', b3: 'hv3' } as const;
const ok = await daemonsUp();

/** Node script run inside a node's netns (nsenter -n, the host's node binary): servers and clients for the test. */
const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const port = Number(process.argv[1]);
// TCP: count what arrives, answer with the count when the sender half-closes; or send N bytes when asked "get N"
net.createServer((s) => {
  let n = 0, first = true;
  s.on('data', (d) => {
    if (first && d.toString().startsWith('get ')) { const want = Number(d.toString().slice(4)); s.end(Buffer.alloc(want, 7)); return; }
    first = false; n += d.length;
  });
  s.on('end', () => { if (!first) s.end(String(n)); });
}).listen(port, '0.0.0.0');
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(m, r.port, r.address));
u.bind(port, '0.0.0.0', () => console.log('ready'));
setTimeout(() => process.exit(0), 120000);
`;
const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [ip, port, mode, size] = [process.argv[1], Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const fail = (m) => { console.log('FAIL ' + m); process.exit(0); };
setTimeout(() => fail('timeout'), 20000);
if (mode === 'udp') {
  const u = dgram.createSocket('udp4');
  u.on('message', (m) => { console.log('udp ' + m.length); process.exit(0); });
  u.on('error', (e) => fail(e.code));
  u.send(Buffer.alloc(size, 1), port, ip);
} else if (mode === 'push') {
  const s = net.connect(port, ip, () => { s.end(Buffer.alloc(size, 9)); });
  let r = ''; s.on('data', (d) => (r += d)); s.on('end', () => { console.log('pushed ' + r); process.exit(0); });
  s.on('error', (e) => fail(e.code));
} else {
  const s = net.connect(port, ip, () => s.write('get ' + size));
  let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => { console.log('pulled ' + n); process.exit(0); });
  s.on('error', (e) => fail(e.code));
}
`;

async function inNode(node: keyof typeof IP, script: string, args: string[]): Promise<string> {
  const pid = await containerPid(`labctl.${LAB}.${node}`);
  return sh('nsenter', ['-t', String(pid), '-n', process.execPath, '-e', script, ...args], 30_000);
}

const servers: { kill: () => void }[] = [];
async function startServer(node: keyof typeof IP, port: number): Promise<void> {
  const pid = await containerPid(`labctl.${LAB}.${node}`);
  const child = execa('nsenter', ['-t', String(pid), '-n', process.execPath, '-e', SERVER, String(port)], {
    reject: false,
  });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server in ${node} did not start`)), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** Geneve tunnel ports of a chassis with their packet counters (its own OVS database). */
async function tunnels(chassis: string): Promise<{ name: string; rx: number; tx: number; remote: string }[]> {
  const out = await sh('ovs-vsctl', [
    `--db=unix:${RUN}/${chassis}/db.sock`,
    '--timeout=10',
    '--format=json',
    '--data=json',
    '--columns=name,statistics,options',
    'find',
    'Interface',
    'type=geneve',
  ]);
  const t = JSON.parse(out) as { data: [string, ['map', [string, number][]], ['map', [string, string][]]][] };
  return t.data.map(([name, stats, opts]) => {
    const s = Object.fromEntries(stats[1]);
    return {
      name,
      rx: s.rx_packets ?? 0,
      tx: s.tx_packets ?? 0,
      remote: Object.fromEntries(opts[1]).remote_ip ?? '',
    };
  });
}

/** Bytes through a chassis's underlay link (ul0 in its netns), as the kernel counts them. */
async function uplink(chassis: string): Promise<{ rx: number; tx: number }> {
  const j = JSON.parse(
    await sh('ip', ['-n', `labctl.${LAB}.${chassis}`, '-j', '-s', 'link', 'show', 'dev', 'ul0']),
  );
  return { rx: j[0].stats64.rx.bytes, tx: j[0].stats64.tx.bytes };
}

const sum = (ts: { rx: number; tx: number }[]) =>
  ts.reduce((a, t) => ({ rx: a.rx + t.rx, tx: a.tx + t.tx }), { rx: 0, tx: 0 });

/** Everything of the lab left on this host: residue() (containers, host OVS/NB rows, veths, state) + the chassis. */
async function leftovers() {
  const netns = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[];
  const procs: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (argv.includes(`${RUN}/`)) procs.push(`${d} ${argv.split('\0')[0]}`);
    } catch {
      // exited meanwhile
    }
  }
  return {
    ...(await residue(LAB)),
    netns: netns.map((n) => n.name).filter((n) => n === `labctl.${LAB}` || n.startsWith(`labctl.${LAB}.`)),
    processes: procs,
    runDir: existsSync(RUN),
  };
}
interface DoctorJson {
  ok: boolean;
  checks: {
    id: string;
    layer: string;
    subject: string;
    status: string;
    cause?: string;
    followsFrom?: string;
  }[];
}
async function doctor(args: string[] = []): Promise<DoctorJson> {
  const r = await labctl(['doctor', '--lab', LAB, '--json', ...args], { timeoutMs: 240_000 });
  expect(r.stdout, r.stderr).toMatch(/^\{/);
  return JSON.parse(r.stdout) as DoctorJson;
}
/** Root causes: failed results that follow from nothing. */
const roots = (r: DoctorJson) =>
  r.checks.filter((c) => (c.status === 'fail' || c.status === 'error') && !c.followsFrom);

const NOTHING = {
  containers: [],
  ovs: 0,
  links: [],
  nb: 0,
  state: false,
  netns: [],
  processes: [],
  runDir: false,
};

describe.runIf(ok)('multi-chassis lab: three simulated chassis', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', FILE]);
    expect(r.stderr + r.stdout).toContain('is up');
    expect(r.exitCode).toBe(0);
  }, 240_000);
  afterAll(async () => {
    for (const s of servers) s.kill();
    await labctl(['down', '--lab', LAB]);
  }, 120_000);

  it('binds every port on the chassis its node was placed on, and status --json names central and chassis', async () => {
    const out = await sh('ovn-sbctl', [
      `--db=${SB}`,
      '--timeout=10',
      '--format=json',
      '--data=json',
      '--columns=logical_port,chassis',
      'list',
      'Port_Binding',
      '--',
      '--columns=_uuid,name',
      'list',
      'Chassis',
    ]);
    const [pb, ch] = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { data: unknown[][] });
    const chassisName = new Map(ch!.data.map(([u, n]) => [(u as string[])[1], n as string]));
    const bound = Object.fromEntries(
      pb!.data.map(([lp, c]) => [lp as string, chassisName.get((c as string[])[1] ?? '') ?? '']),
    );
    for (const [node, hv] of Object.entries(CHASSIS))
      expect(bound[`${LAB}.${node}.eth1`]).toBe(`${hv}.${LAB}`);
    expect([...chassisName.values()].sort()).toEqual(['hv1.mc-three', 'hv2.mc-three', 'hv3.mc-three']);

    const st = await labctl(['status', '--lab', LAB, '--json']);
    expect(st.exitCode).toBe(0);
    const lab = JSON.parse(st.stdout).labs[0];
    expect(lab.ready).toBe(true);
    expect(lab.central).toMatchObject({ nb: `unix:${RUN}/central/nb.sock`, sb: SB });
    expect(lab.chassis.map((c: { name: string }) => c.name)).toEqual(['hv1', 'hv2', 'hv3']);
    expect(lab.chassis[1]).toMatchObject({
      kind: 'simulated',
      system_id: 'hv2.mc-three',
      encap_ip: '172.31.251.2',
      ovs_db: `unix:${RUN}/hv2/db.sock`,
      netns: 'labctl.mc-three.hv2',
    });
    for (const c of lab.chassis) for (const pid of Object.values(c.daemons)) expect(pid).toBeGreaterThan(1);
    for (const n of lab.nodes) {
      expect(n.chassis).toBe(CHASSIS[n.name as keyof typeof CHASSIS]);
      expect(n.interfaces[0].chassis).toBe(`${n.chassis}.${LAB}`);
    }
    // the host's own OVS and NB hold nothing of the lab
    expect(await residue(LAB)).toMatchObject({ ovs: 0, nb: 0, links: [] });
    // the chassis's own OVS holds the node's port (host-side veth in the chassis netns, on its br-int)
    const ports = await sh('ovs-vsctl', [`--db=unix:${RUN}/hv1/db.sock`, 'list-ports', 'br-int']);
    const veth = JSON.parse((await sh('ip', ['-n', 'labctl.mc-three.hv1', '-j', 'link', 'show'])) || '[]')
      .map((l: { ifname: string }) => l.ifname)
      .filter((n: string) => n.startsWith('lv'));
    expect(veth).toHaveLength(1);
    expect(ports.split('\n')).toContain(veth[0]);
  });

  it.each([
    ['switched', 'a1', 'a2'],
    ['routed', 'a1', 'b3'],
  ] as const)(
    '%s across chassis (%s ⇄ %s): ICMP, UDP up to MTU − 28, 4 MB TCP both ways, through the tunnels',
    async (_kind, x, y) => {
      const [hx, hy] = [CHASSIS[x], CHASSIS[y]];
      const before = { x: sum(await tunnels(hx)), y: sum(await tunnels(hy)) };
      const upBefore = { x: await uplink(hx), y: await uplink(hy) };
      // each chassis has a tunnel to both others
      expect((await tunnels(hx)).map((t) => t.remote).sort()).toEqual(
        ['172.31.251.1', '172.31.251.2', '172.31.251.3'].filter((ip) => ip !== `172.31.251.${hx.slice(2)}`),
      );
      const pidX = await containerPid(`labctl.${LAB}.${x}`);
      const pidY = await containerPid(`labctl.${LAB}.${y}`);
      // warm-up: the first packet to a newly seen chassis is lost while OVS resolves its tunnel neighbour
      await shMaybe('nsenter', ['-t', String(pidX), '-n', 'ping', '-c', '2', '-i', '0.3', '-W', '1', IP[y]]);
      await shMaybe('nsenter', ['-t', String(pidY), '-n', 'ping', '-c', '2', '-i', '0.3', '-W', '1', IP[x]]);
      for (const [pid, dst] of [
        [pidX, IP[y]],
        [pidY, IP[x]],
      ] as const) {
        const p = await shMaybe('nsenter', [
          '-t',
          String(pid),
          '-n',
          'ping',
          '-c',
          '5',
          '-i',
          '0.2',
          '-W',
          '2',
          '-n',
          dst,
        ]);
        expect(p.out).toContain('5 received');
      }
      const port = x === 'a1' && y === 'a2' ? 7101 : 7102;
      await startServer(y, port);
      await startServer(x, port);
      for (const [from, to] of [
        [x, y],
        [y, x],
      ] as const) {
        expect(await inNode(from, CLIENT, [IP[to], String(port), 'udp', '64'])).toBe('udp 64');
        // MTU 1500 − 28 (IPv4 + UDP headers): a full-size datagram, 1558 bytes in the tunnel, within the underlay's 1600
        expect(await inNode(from, CLIENT, [IP[to], String(port), 'udp', '1472'])).toBe('udp 1472');
        const bytes = 4 * 1024 * 1024;
        expect(await inNode(from, CLIENT, [IP[to], String(port), 'push', String(bytes)])).toBe(
          `pushed ${bytes}`,
        );
        expect(await inNode(from, CLIENT, [IP[to], String(port), 'pull', String(bytes)])).toBe(
          `pulled ${bytes}`,
        );
      }
      const after = { x: sum(await tunnels(hx)), y: sum(await tunnels(hy)) };
      const upAfter = { x: await uplink(hx), y: await uplink(hy) };
      for (const side of ['x', 'y'] as const) {
        // The userspace datapath counts a geneve port's packets when a flow is set up (not per cached packet): they
        // grow, on both chassis, both ways.
        expect(after[side].tx).toBeGreaterThan(before[side].tx);
        expect(after[side].rx).toBeGreaterThan(before[side].rx);
        // The bytes themselves, counted by the kernel on each chassis's underlay link: 2 × 4 MB each way went
        // through the tunnel, with the geneve overhead on top.
        expect(upAfter[side].tx - upBefore[side].tx).toBeGreaterThan(2 * 4 * 1024 * 1024);
        expect(upAfter[side].rx - upBefore[side].rx).toBeGreaterThan(2 * 4 * 1024 * 1024);
      }
    },
    120_000,
  );

  it('doctor passes across chassis: daemons, registration, underlay, tunnels, MTU headroom, probes', async () => {
    const r = await doctor();
    expect(roots(r)).toEqual([]);
    expect(r.ok).toBe(true);
    const ids = new Set(r.checks.map((c) => c.id));
    for (const id of [
      'chassis.daemons',
      'chassis.registered',
      'tunnel.underlay',
      'tunnel.ports',
      'tunnel.mtu',
    ])
      expect(ids).toContain(id);
    expect(r.checks.filter((c) => c.layer === 'dataplane' && c.status === 'pass').length).toBeGreaterThan(0);
  }, 180_000);

  it('names a killed ovn-controller chassis-down on its chassis, and --fix restarts it', async () => {
    const pid = Number(readFileSync(join(RUN, 'hv2', 'ovn-controller.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const r = await doctor();
    expect(r.ok).toBe(false);
    expect(roots(r)).toContainEqual(
      expect.objectContaining({ id: 'chassis.daemons', subject: 'chassis hv2', cause: 'chassis-down' }),
    );
    expect(
      roots(r)
        .filter((c) => c.cause === 'chassis-down')
        .map((c) => c.subject),
    ).toEqual(['chassis hv2']);
    const f = await labctl(['doctor', '--lab', LAB, '--fix', '--json'], { timeoutMs: 240_000 });
    const after = JSON.parse(f.stdout) as DoctorJson;
    expect(roots(after)).toEqual([]);
    expect(f.exitCode).toBe(0);
    const again = Number(readFileSync(join(RUN, 'hv2', 'ovn-controller.pid'), 'utf8'));
    expect(again).not.toBe(pid);
  }, 300_000);

  it("names one chassis's underlay link down underlay-down on that chassis", async () => {
    await sh('ip', ['-n', `labctl.${LAB}.hv3`, 'link', 'set', 'dev', 'ul0', 'down']);
    try {
      const r = await doctor(['--layer', 'host,wiring']);
      expect(roots(r)).toEqual([
        expect.objectContaining({ id: 'tunnel.underlay', subject: 'chassis hv3', cause: 'underlay-down' }),
      ]);
    } finally {
      await sh('ip', ['-n', `labctl.${LAB}.hv3`, 'link', 'set', 'dev', 'ul0', 'up']);
    }
  }, 180_000);

  it('names a node MTU past the underlay headroom tunnel-mtu', async () => {
    const pid = await containerPid(`labctl.${LAB}.a2`);
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1600']);
    try {
      const r = await doctor(['--layer', 'host,wiring']);
      expect(roots(r)).toEqual([
        expect.objectContaining({ id: 'tunnel.mtu', subject: 'a2.eth1', cause: 'tunnel-mtu' }),
      ]);
    } finally {
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1500']);
    }
  }, 180_000);

  it('down leaves nothing: no netns, process, socket dir, veth, NB/SB row, container', async () => {
    const d = await labctl(['down', '--lab', LAB]);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/removed 3 containers, 12 chassis and central processes, 4 network namespaces/);
    expect(await leftovers()).toEqual(NOTHING);
  }, 120_000);

  it('down leaves nothing after up was SIGKILLed halfway through starting the chassis', async () => {
    const child = execa(process.execPath, [CLI, 'up', '-f', FILE], { reject: false, cwd: ROOT });
    // kill it as soon as the first chassis's vswitchd runs (the central and the underlay are there, the rest not)
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !existsSync(join(RUN, 'hv1', 'ovs-vswitchd.pid')))
      await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await child;
    const mid = await leftovers();
    expect(mid.processes.length).toBeGreaterThan(0);
    expect(mid.netns.length).toBeGreaterThan(0);
    const d = await labctl(['down', '--lab', LAB]);
    expect(d.exitCode).toBe(0);
    // a daemon the killed run was starting may come up a moment later: down takes those too
    expect(await leftovers()).toEqual(NOTHING);
  }, 120_000);
});

const EX_LAB = 'mc-example';
const EX_FILE = join(ROOT, 'examples', 'multi-chassis', 'lab.yml');

/** One TCP connect + HTTP GET from a node (node's own http client, inside its netns); the body or the failure. */
async function httpGet(node: string, ip: string): Promise<string> {
  const pid = await containerPid(`labctl.${EX_LAB}.${node}`);
  const r = await shMaybe(
    'nsenter',
    [
      '-t',
      String(pid),
      '-n',
      process.execPath,
      '-e',
      `require('node:http').get({host: process.argv[1], port: 80, timeout: 3000}, (r) => { let b=''; r.on('data', (d) => (b += d)); r.on('end', () => console.log(b.trim())); }).on('error', (e) => console.log('FAIL ' + e.code)).on('timeout', function () { console.log('FAIL timeout'); this.destroy(); });`,
      ip,
    ],
    15_000,
  );
  return r.out;
}

/** Bounded wait for a condition. */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

describe.runIf(ok)('examples/multi-chassis: two VPCs over three chassis with a gateway router', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', EX_LAB]);
    const r = await labctl(['up', '-f', EX_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await labctl(['down', '--lab', EX_LAB]);
  }, 120_000);

  it('doctor is green and measured every expectation', async () => {
    const r = await labctl(['doctor', '-f', EX_FILE, '--json'], { timeoutMs: 240_000 });
    const report = JSON.parse(r.stdout) as DoctorJson;
    const bad = report.checks.filter(
      (c) => c.status === 'fail' || c.status === 'error' || c.status === 'warn',
    );
    expect(bad).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(
      report.checks.filter((c) => c.layer === 'dataplane' && c.status === 'pass').length,
    ).toBeGreaterThan(7);
    // the test's own probes: across the VPCs via hv2, and web-b's public address
    expect(await httpGet('gen-a', '10.94.2.80')).toBe('web-b');
    expect(await httpGet('gen-b', '10.94.1.80')).toBe('web-a');
    expect(await httpGet('gen-a', '100.64.94.80')).toBe('web-b');
  }, 300_000);

  it('chassis stop hv2 cuts the VPCs apart (within a VPC goes on); doctor names it; chassis start restores', async () => {
    const s = await labctl(['chassis', 'stop', 'hv2', '--lab', EX_LAB]);
    expect(s.exitCode, s.stderr).toBe(0);
    expect(s.stdout).toContain('chassis hv2 of lab mc-example: stopped');
    expect(await httpGet('gen-a', '10.94.2.80')).toMatch(/^FAIL/);
    expect(await httpGet('gen-a', '10.94.1.80')).toBe('web-a');
    const d = JSON.parse(
      (await labctl(['doctor', '--lab', EX_LAB, '--json', '--layer', 'host'])).stdout,
    ) as DoctorJson;
    expect(roots(d)).toEqual([
      expect.objectContaining({ id: 'chassis.daemons', subject: 'chassis hv2', cause: 'chassis-down' }),
    ]);
    const st = await labctl(['chassis', 'start', 'hv2', '--lab', EX_LAB]);
    expect(st.exitCode, st.stderr).toBe(0);
    expect(st.stdout).toContain('chassis hv2 of lab mc-example: started');
    await until(
      'gen-a reaches web-b across the VPCs again',
      async () => (await httpGet('gen-a', '10.94.2.80')) === 'web-b',
    );
  }, 180_000);

  it('down leaves nothing of the example', async () => {
    const d = await labctl(['down', '-f', EX_FILE]);
    expect(d.exitCode).toBe(0);
    const netns = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[];
    expect(netns.filter((n) => n.name.startsWith(`labctl.${EX_LAB}`))).toEqual([]);
    expect(existsSync(join(RUN, '..', EX_LAB))).toBe(false);
    expect(await residue(EX_LAB)).toMatchObject({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  }, 120_000);
});

describe.runIf(ok)('a remote chassis', () => {
  it('that cannot be reached makes up fail (exit 2) naming it, before anything is created', async () => {
    await buildOnce();
    const file = join(ROOT, 'test', 'fixtures', 'integration', 'mc-remote.yml');
    expect((await labctl(['validate', '-f', file])).exitCode).toBe(0);
    const r = await labctl(['up', '-f', file], { env: { HOME: '/nonexistent', SSH_AUTH_SOCK: '' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('remote chassis far (labctl@198.51.100.12): no ssh key');
    // the dry run of a lab that does not run yet contacts nothing and lists the remote's node too
    const dry = await labctl(['up', '--dry-run', '-f', file]);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('create container labctl.mc-remote.x');
    const netns = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[];
    expect(netns.filter((n) => n.name.startsWith('labctl.mc-remote'))).toEqual([]);
    expect(existsSync(join(RUN, '..', 'mc-remote'))).toBe(false);
    expect(await residue('mc-remote')).toMatchObject({ containers: [], state: false });
  }, 60_000);
});
