/**
 * IPv6 and dual-stack networks on the real daemons (docs/ipv6.md): a dual-stack lab with a router and an IPv6-only
 * network. The test checks the result itself — addresses and sysctls read inside the containers' namespaces, NB
 * rows through ovn-nbctl, packets with ping -6 and its own TCP echo over IPv6 — never through labctl's checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOnce,
  containerPid,
  daemonsUp,
  labctl,
  ovsdbFind,
  probe,
  residue,
  sh,
  shMaybe,
} from '../helpers/labctl.js';

const LAB = 'v6-it';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-v6-'));
const LAB_FILE = join(tmp, 'v6-it.yml');

const labText = (a1ip6: string) => `name: ${LAB}
networks:
  dual-a: { subnet: 10.67.1.0/24, subnet6: "fd00:67:1::/64" }
  dual-b: { subnet: 10.67.2.0/24, subnet6: "fd00:67:2::/64", ra: true }
  v6only: { subnet6: "fd00:67:3::/64" }
routers:
  r1: { links: [dual-a, dual-b, v6only] }
nodes:
  a1: { interfaces: [ { network: dual-a, ip: 10.67.1.10, ip6: "${a1ip6}" } ] }
  a2: { interfaces: [ dual-a ] }
  b1: { interfaces: [ dual-b ] }
  c1: { interfaces: [ v6only ] }
policies:
  - deny: { from: c1, to: a2, proto: tcp, port: 81 }
  - deny: { from: a2, to: a1, proto: icmp }
`;

interface DoctorReport {
  checks: { id: string; subject: string; status: string; cause?: string; evidence?: string }[];
}
const failing = (r: DoctorReport) => r.checks.filter((c) => c.status === 'fail' || c.status === 'error');

interface PlanIface {
  name: string;
  mac: string;
  ip?: string;
  prefix?: number;
  ip6?: string;
  prefix6?: number;
}
interface PlanNode {
  name: string;
  container: string;
  interfaces: PlanIface[];
}

/** The kernel's EUI-64 link-local address of a MAC, computed here independently of labctl. */
function eui64LinkLocal(mac: string): string {
  const b = mac.split(':').map((x) => Number.parseInt(x, 16));
  b[0]! ^= 0x02;
  const words = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${words.map((w) => w.toString(16)).join(':')}`;
}

const ECHO6 = `
const net = require('node:net');
const ports = process.argv.slice(1).map(Number);
let ready = 0;
for (const port of ports)
  net
    .createServer((s) => { s.on('data', (d) => s.end('pong:' + d)); s.on('error', () => {}); })
    .listen({ port, host: '::', ipv6Only: true }, () => { if (++ready === ports.length) console.log('ready'); });
setTimeout(() => process.exit(0), 120000);
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

/** A TCP echo server on IPv6 (:: only) inside the netns of `pid`, on each port; returns a stop function. */
async function startEcho6(pid: number, ports: number[]): Promise<() => void> {
  const child = execa(
    'nsenter',
    ['-t', String(pid), '-n', process.execPath, '-e', ECHO6, ...ports.map(String)],
    { reject: false, stdin: 'pipe' },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('IPv6 echo server did not start')), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return () => {
    child.stdin?.end();
    child.kill();
  };
}

const ping6 = async (pid: number, ip: string) =>
  (await shMaybe('nsenter', ['-t', String(pid), '-n', 'ping', '-6', '-c', '1', '-W', '2', '-n', ip])).ok;
const ping4 = async (pid: number, ip: string) =>
  (await shMaybe('nsenter', ['-t', String(pid), '-n', 'ping', '-4', '-c', '1', '-W', '2', '-n', ip])).ok;

async function plan(): Promise<PlanNode[]> {
  const r = await labctl(['plan', '-f', LAB_FILE, '--json']);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout).nodes as PlanNode[];
}

async function addrInfo(pid: number) {
  return JSON.parse(
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'addr', 'show', 'dev', 'eth1']),
  )[0].addr_info as {
    family: string;
    local: string;
    prefixlen: number;
    scope: string;
    tentative?: boolean;
  }[];
}

async function containerIds(): Promise<Record<string, string>> {
  const out = await sh('docker', [
    'ps',
    '-a',
    '--filter',
    `label=labctl.lab=${LAB}`,
    '--format',
    '{{.Label "labctl.node"}} {{.ID}}',
  ]);
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

describe.runIf(up)('IPv6 and dual-stack networks on the real daemons', () => {
  const pids: Record<string, number> = {};
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    writeFileSync(LAB_FILE, labText('fd00:67:1::10'));
  });
  afterAll(async () => {
    for (const s of stops) s();
    await labctl(['down', '--lab', LAB]);
  });

  it('up: every interface holds exactly its planned addresses (plus the EUI-64 link-local), nothing unplanned', async () => {
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
    const nodes = await plan();
    const c1 = nodes.find((n) => n.name === 'c1')!.interfaces[0]!;
    expect(c1.ip).toBeUndefined();
    expect(c1.ip6).toBe('fd00:67:3::2');
    expect(nodes.find((n) => n.name === 'a1')!.interfaces[0]!.ip6).toBe('fd00:67:1::10');
    for (const n of nodes) {
      const pid = await containerPid(n.container);
      pids[n.name] = pid;
      const i = n.interfaces[0]!;
      const info = await addrInfo(pid);
      const v4 = info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
      const v6 = info.filter((a) => a.family === 'inet6');
      expect(v4, `${n.name} IPv4`).toEqual(i.ip ? [`${i.ip}/${i.prefix}`] : []);
      expect(
        v6.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
        `${n.name} global IPv6`,
      ).toEqual([`${i.ip6}/${i.prefix6}`]);
      // the only other address is the link-local one, derived from the planned MAC; no DAD holds anything
      expect(
        v6.filter((a) => a.scope !== 'global').map((a) => a.local),
        `${n.name} link-local`,
      ).toEqual([eui64LinkLocal(i.mac)]);
      expect(v6.some((a) => a.tentative)).toBe(false);
      // sysctls: no SLAAC, no DAD; router advertisements accepted only on the ra: true network (b1)
      const sysctl = async (k: string) =>
        sh('nsenter', ['-t', String(pid), '-n', 'sysctl', '-n', `net.ipv6.conf.eth1.${k}`]);
      expect(await sysctl('autoconf')).toBe('0');
      expect(await sysctl('accept_dad')).toBe('0');
      expect(await sysctl('accept_ra'), `${n.name} accept_ra`).toBe(n.name === 'b1' ? '1' : '0');
      // lo and every other device keep IPv6 off
      expect(
        await sh('nsenter', ['-t', String(pid), '-n', 'sysctl', '-n', 'net.ipv6.conf.lo.disable_ipv6']),
      ).toBe('1');
    }
  });

  it('OVN rows: LSP addresses carry both families, router ports both networks, RA only where ra: true', async () => {
    const lsps = await ovsdbFind(
      'ovn-nbctl',
      'Logical_Switch_Port',
      ['name', 'addresses'],
      [`external_ids:labctl-lab=${LAB}`],
    );
    const addr = (name: string) => String(lsps.find((l) => l.name === name)?.addresses);
    expect(addr(`${LAB}.a1.eth1`)).toMatch(/^[0-9a-f:]{17} 10\.67\.1\.10 fd00:67:1::10$/);
    expect(addr(`${LAB}.c1.eth1`)).toMatch(/^[0-9a-f:]{17} fd00:67:3::2$/);
    const lrps = await ovsdbFind(
      'ovn-nbctl',
      'Logical_Router_Port',
      ['name', 'networks', 'ipv6_ra_configs'],
      [`external_ids:labctl-lab=${LAB}`],
    );
    const lrp = (net: string) => lrps.find((p) => p.name === `${LAB}.r1.${net}.lrp`)!;
    const nets = (net: string) => [lrp(net).networks].flat().map(String).sort();
    expect(nets('dual-a')).toEqual(['10.67.1.1/24', 'fd00:67:1::1/64']);
    expect(nets('v6only')).toEqual(['fd00:67:3::1/64']);
    expect(lrp('dual-b').ipv6_ra_configs).toMatchObject({ address_mode: 'dhcpv6_stateful' });
    expect(lrp('dual-a').ipv6_ra_configs).toEqual({});
    expect(lrp('v6only').ipv6_ra_configs).toEqual({});
    // b1 (ra: true) learns its router from an advertisement — and forms no address from it; a1 hears none
    const raRoutes = async (node: string) =>
      (
        await sh('nsenter', ['-t', String(pids[node]), '-n', 'ip', '-6', 'route', 'show', 'proto', 'ra'])
      ).trim();
    let ra = '';
    // OVN advertises every 3–4 s on an ra: true network (RA_CONFIGS): bounded at 15 s
    for (let k = 0; k < 30 && !ra; k++) {
      ra = await raRoutes('b1');
      if (!ra) await new Promise((r) => setTimeout(r, 500));
    }
    expect(ra).toMatch(/^default via fe80::\S+ dev eth1/);
    expect(await raRoutes('a1')).toBe('');
    const b1 = await addrInfo(pids.b1!);
    expect(b1.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local)).toEqual([
      'fd00:67:2::2',
    ]);
  });

  it('ping -6 and TCP over IPv6 work switched and routed, both ways', async () => {
    // switched (a1 ⇄ a2) and routed (a1 ⇄ b1, c1 ⇄ a1, b1 ⇄ c1)
    expect(await ping6(pids.a1!, 'fd00:67:1::2')).toBe(true); // (a2 → a1 icmp is denied by the policy)
    for (const [from, to] of [
      ['a1', 'fd00:67:2::2'],
      ['b1', 'fd00:67:1::10'],
      ['c1', 'fd00:67:1::10'],
      ['a1', 'fd00:67:3::2'],
      ['b1', 'fd00:67:3::2'],
      ['c1', 'fd00:67:2::2'],
    ] as const)
      expect(await ping6(pids[from]!, to), `${from} → ${to}`).toBe(true);
    // IPv4 between the dual-stack nodes still works
    expect(await ping4(pids.b1!, '10.67.1.10')).toBe(true);
    stops.push(await startEcho6(pids.a1!, [80]));
    stops.push(await startEcho6(pids.c1!, [80]));
    expect(await probe(pids.a2!, 'fd00:67:1::10', 80, 'tcp')).toBe('pong:ping'); // switched
    expect(await probe(pids.c1!, 'fd00:67:1::10', 80, 'tcp')).toBe('pong:ping'); // routed, v6-only → dual
    expect(await probe(pids.a1!, 'fd00:67:3::2', 80, 'tcp')).toBe('pong:ping'); // routed, back
    expect(await probe(pids.b1!, 'fd00:67:3::2', 80, 'tcp')).toBe('pong:ping');
  });

  it('policies match IPv6: a tcp deny blocks over IPv6, an icmp deny stops ICMPv6 and ICMPv4 but not TCP', async () => {
    stops.push(await startEcho6(pids.a2!, [80, 81]));
    expect(await probe(pids.c1!, 'fd00:67:1::2', 81, 'tcp')).toBe('timeout'); // denied: c1 → a2 tcp/81
    expect(await probe(pids.c1!, 'fd00:67:1::2', 80, 'tcp')).toBe('pong:ping'); // another port passes
    expect(await ping6(pids.c1!, 'fd00:67:1::2')).toBe(true);
    // deny icmp a2 → a1: both families' echo is dropped; neighbour discovery is not, so TCP over IPv6 works
    expect(await ping6(pids.a2!, 'fd00:67:1::10')).toBe(false);
    expect(await ping4(pids.a2!, '10.67.1.10')).toBe(false);
    expect(await probe(pids.a2!, 'fd00:67:1::10', 80, 'tcp')).toBe('pong:ping');
    expect(await ping6(pids.a1!, 'fd00:67:1::2')).toBe(true); // the other direction is not denied
  });

  it('up of a changed lab moves an IPv6 address in place: same containers, new address only', async () => {
    const before = await containerIds();
    writeFileSync(LAB_FILE, labText('fd00:67:1::20'));
    const dry = await labctl(['up', '-f', LAB_FILE, '--dry-run']);
    expect(dry.stdout).toContain('readdress a1.eth1 (IPv6): fd00:67:1::10/64 → fd00:67:1::20/64');
    const r = await labctl(['up', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await containerIds()).toEqual(before);
    const info = await addrInfo(pids.a1!);
    expect(info.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local)).toEqual([
      'fd00:67:1::20',
    ]);
    expect(info.filter((a) => a.family === 'inet').map((a) => a.local)).toEqual(['10.67.1.10']);
    expect(await ping6(pids.c1!, 'fd00:67:1::20')).toBe(true);
    const again = await labctl(['up', '-f', LAB_FILE, '--dry-run']);
    expect(again.stdout).toContain('no changes');
  });

  it('doctor: a healthy dual-stack lab passes the wiring checks; an IPv6 address changed by hand → address-mismatch, --fix converges', async () => {
    const doctor = async (extra: string[] = []) => {
      const r = await labctl(['doctor', '-f', LAB_FILE, '--layer', 'host,wiring', '--json', ...extra]);
      return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as DoctorReport };
    };
    const healthy = await doctor();
    expect(healthy.exitCode, JSON.stringify(failing(healthy.report))).toBe(0);
    const c1 = pids.c1!;
    await sh('nsenter', [
      '-t',
      String(c1),
      '-n',
      'ip',
      '-6',
      'addr',
      'del',
      'fd00:67:3::2/64',
      'dev',
      'eth1',
    ]);
    await sh('nsenter', [
      '-t',
      String(c1),
      '-n',
      'ip',
      '-6',
      'addr',
      'add',
      'fd00:67:3::77/64',
      'dev',
      'eth1',
      'nodad',
    ]);
    const broken = await doctor();
    expect(broken.exitCode).toBe(1);
    const addr = failing(broken.report).find((c) => c.id === 'wiring.address');
    expect(addr, JSON.stringify(failing(broken.report))).toMatchObject({
      cause: 'address-mismatch',
      subject: 'c1.eth1',
    });
    expect(addr!.evidence).toContain('IPv6 fd00:67:3::77/64, expected fd00:67:3::2/64');
    const fixed = await doctor(['--fix']);
    expect(fixed.exitCode, JSON.stringify(failing(fixed.report))).toBe(0);
    const info = await addrInfo(c1);
    expect(info.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local)).toEqual([
      'fd00:67:3::2',
    ]);
    expect(await ping6(c1, 'fd00:67:1::20')).toBe(true);
  });

  it('readdress takes an IPv6 address', async () => {
    const r = await labctl(['readdress', 'c1', 'eth1', 'fd00:67:3::99', '--lab', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    const info = await addrInfo(pids.c1!);
    expect(info.filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => a.local)).toEqual([
      'fd00:67:3::99',
    ]);
    expect(await ping6(pids.a1!, 'fd00:67:3::99')).toBe(true);
    const lsp = await ovsdbFind('ovn-nbctl', 'Logical_Switch_Port', ['addresses'], [`name=${LAB}.c1.eth1`]);
    expect(String(lsp[0]?.addresses)).toMatch(/ fd00:67:3::99$/);
    const bad = await labctl(['readdress', 'c1', 'eth1', '10.67.3.5', '--lab', LAB]);
    expect(bad.exitCode).toBe(1); // a usage error (design.md exit codes)
    expect(bad.stderr).toContain('IPv6-only');
  });

  it('down leaves nothing', async () => {
    const r = await labctl(['down', '--lab', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  });
});

const NAT_LAB = 'v6-nat';
const NAT_FILE = join(tmp, 'v6-nat.yml');

describe.runIf(up)('IPv6 NAT and load balancer on the real daemons', () => {
  const stops: (() => void)[] = [];
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', NAT_LAB]);
    writeFileSync(
      NAT_FILE,
      `name: ${NAT_LAB}
networks:
  lan: { subnet: 10.68.1.0/24, subnet6: "fd00:68:1::/64" }
  wan: { subnet6: "fd00:68:2::/64" }
routers:
  gw: { links: [lan, wan], chassis: local, nat: [
    { type: dnat_and_snat, external: "fd00:68:99::10", internal: web } ] }
load_balancers:
  v6: { vip: "fd00:68:98::80", port: 80, backends: [web], attach: [lan, wan] }
nodes:
  web: { interfaces: [lan] }
  client: { interfaces: [wan] }
`,
    );
  });
  afterAll(async () => {
    for (const s of stops) s();
    await labctl(['down', '--lab', NAT_LAB]);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a public IPv6 address (dnat_and_snat) and an IPv6 VIP reach the node over TCP', async () => {
    const r = await labctl(['up', '-f', NAT_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
    const nat = await ovsdbFind(
      'ovn-nbctl',
      'NAT',
      ['external_ip', 'logical_ip'],
      [`external_ids:labctl-lab=${NAT_LAB}`],
    );
    expect(nat).toEqual([{ external_ip: 'fd00:68:99::10', logical_ip: 'fd00:68:1::2' }]);
    const lb = await ovsdbFind(
      'ovn-nbctl',
      'Load_Balancer',
      ['vips'],
      [`external_ids:labctl-lab=${NAT_LAB}`],
    );
    expect(lb[0]?.vips).toEqual({ '[fd00:68:98::80]:80': '[fd00:68:1::2]:80' });
    const web = await containerPid(`labctl.${NAT_LAB}.web`);
    const client = await containerPid(`labctl.${NAT_LAB}.client`);
    stops.push(await startEcho6(web, [80]));
    expect(await probe(client, 'fd00:68:99::10', 80, 'tcp')).toBe('pong:ping');
    expect(await probe(client, 'fd00:68:98::80', 80, 'tcp')).toBe('pong:ping');
    expect(await ping6(client, 'fd00:68:99::10')).toBe(true);
    const down = await labctl(['down', '--lab', NAT_LAB]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await residue(NAT_LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  });
});
