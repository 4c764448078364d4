/**
 * OVN's DHCP and DNS (docs/dhcp-dns.md) on the real daemons. The test checks the result itself: the address in the
 * container (ip -j inside its netns), an independent DHCP client it runs itself in the node (busybox udhcpc with
 * `-s /bin/true`, which changes nothing), nslookup inside another node right after each command returns, and the
 * NB rows (ovn-nbctl) — labctl's doctor is checked against those, never the other way round.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOnce,
  containerPid,
  daemonsUp,
  labctl,
  ovsdbFind,
  residue,
  sh,
  shMaybe,
} from '../helpers/labctl.js';

const LAB = 'dd-it';
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-dd-'));
const FILE = join(tmp, 'lab.yml');
const labYaml = (public1: string) => `name: ${LAB}
networks:
  vpc: { subnet: 10.78.1.0/24, subnet6: "fd00:78:1::/64", dhcp: true }
  six: { subnet6: "fd00:78:6::/64", dhcp: true }
  flat: { subnet: 10.78.9.0/24, dhcp: true }
routers:
  gw:
    links: [vpc, six]
    chassis: local
    nat:
      - { type: dnat_and_snat, external: ${public1}, internal: web }
dns: true
nodes:
  web: { interfaces: [{ network: vpc, ip: 10.78.1.10, ip6: "fd00:78:1::10" }] }
  client: { interfaces: [{ network: vpc, ip: dhcp, ip6: dhcp }] }
  v6: { interfaces: [{ network: six, ip6: dhcp }] }
  f1: { interfaces: [{ network: flat, ip: dhcp }] }
  f2: { interfaces: [flat] }
`;

const container = (node: string) => `labctl.${LAB}.${node}`;

/** The node's IPv4 addresses on eth1, read in its netns. */
async function addrs(node: string): Promise<string[]> {
  const pid = await containerPid(container(node));
  const j = JSON.parse(
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1']),
  ) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`);
}

/** The node's global IPv6 addresses on eth1, read in its netns. */
async function addrs6(node: string): Promise<string[]> {
  const pid = await containerPid(container(node));
  const j = JSON.parse(
    await sh('nsenter', [
      '-t',
      String(pid),
      '-n',
      'ip',
      '-j',
      '-6',
      'addr',
      'show',
      'dev',
      'eth1',
      'scope',
      'global',
    ]),
  ) as { addr_info: { local?: string; prefixlen?: number }[] }[];
  // ip -j lists an empty object for each address the scope filter leaves out
  return j[0]!.addr_info.filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen}`);
}

/** The test's own DHCPv6 client (stateful) in the node: the address OVN's Reply binds, changing nothing. */
async function offered6(node: string): Promise<string | undefined> {
  const pid = await containerPid(container(node));
  const files = ['-pf', '/run/dd-test6.pid', '-lf', '/run/dd-test6.leases'];
  const base = ['-t', String(pid), '-a', '--', 'dhclient', '-6'];
  const r = await shMaybe('nsenter', [...base, '-1', '-v', '-sf', '/bin/true', ...files, 'eth1'], 25_000);
  await shMaybe('nsenter', [...base, '-x', '-sf', '/bin/true', ...files, 'eth1'], 10_000);
  const out = `${r.out}\n${r.err}`;
  return /Bound to lease/.test(out) ? [...out.matchAll(/IAADDR ([0-9a-f:]+)/g)].pop()?.[1] : undefined;
}

/** The test's own DHCP client in the node: asks OVN, changes nothing; the acknowledged address or undefined. */
async function offered(node: string): Promise<string | undefined> {
  const pid = await containerPid(container(node));
  const r = await shMaybe(
    'nsenter',
    [
      '-t',
      String(pid),
      '-a',
      '--',
      'busybox',
      'udhcpc',
      '-i',
      'eth1',
      '-f',
      '-q',
      '-n',
      '-t',
      '3',
      '-T',
      '1',
      '-s',
      '/bin/true',
    ],
    15_000,
  );
  return /lease of (\S+) obtained/.exec(`${r.out}\n${r.err}`)?.[1];
}

/** A records of `name` as `from` resolves it (its own resolv.conf), by busybox nslookup. */
async function resolve(from: string, name: string, type: 'a' | 'aaaa' = 'a'): Promise<string[]> {
  const r = await shMaybe(
    'docker',
    ['exec', container(from), 'busybox', 'nslookup', `-type=${type}`, name],
    10_000,
  );
  const lines = r.out.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Name:'));
  return at < 0
    ? []
    : lines
        .slice(at)
        .map((l) => /^Address(?: \d+)?:\s*([0-9a-f.:]+)$/.exec(l)?.[1])
        .filter((x): x is string => !!x);
}

async function doctor(): Promise<{
  exitCode: number;
  checks: { id: string; subject: string; status: string; cause?: string; evidence: string }[];
}> {
  const r = await labctl(
    ['doctor', '-f', FILE, '--json', '--check', 'wiring.address,dataplane.dhcp,dataplane.dns'],
    {
      timeoutMs: 240_000,
    },
  );
  const j = JSON.parse(r.stdout) as {
    checks: { id: string; subject: string; status: string; cause?: string; evidence: string }[];
  };
  return { exitCode: r.exitCode, checks: j.checks };
}

describe.runIf(up)('OVN DHCP and DNS', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    writeFileSync(FILE, labYaml('100.64.78.10'));
    const r = await labctl(['up', '-f', FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 300_000);
  afterAll(async () => {
    await labctl(['down', '--lab', LAB]);
    rmSync(tmp, { recursive: true, force: true });
  }, 120_000);

  it('an ip: dhcp node has its planned address, and OVN offers that same address to an independent client', async () => {
    const plan = JSON.parse((await labctl(['plan', '-f', FILE, '--json'])).stdout) as {
      nodes: { name: string; interfaces: { ip: string; prefix: number; dhcp?: boolean }[] }[];
    };
    for (const node of ['client', 'f1']) {
      const i = plan.nodes.find((n) => n.name === node)!.interfaces[0]!;
      expect(i.dhcp).toBe(true);
      expect(await addrs(node)).toEqual([`${i.ip}/${i.prefix}`]);
      expect(await offered(node)).toBe(i.ip);
      // the independent client changed nothing
      expect(await addrs(node)).toEqual([`${i.ip}/${i.prefix}`]);
    }
    // the routed one got its default route through the router after its lease
    const pid = await containerPid(container('client'));
    expect(await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'route', 'show', 'default'])).toContain(
      'via 10.78.1.1',
    );
    // the rows are labelled and the dhcp ports link to them
    // the running lab is what up converged to: its dry run lists nothing (leases, options, links and names included)
    const dry = await labctl(['up', '--dry-run', '-f', FILE, '--json']);
    expect(JSON.parse(dry.stdout).changes, dry.stdout).toEqual([]);
    const opts = await ovsdbFind(
      'ovn-nbctl',
      'DHCP_Options',
      ['_uuid', 'cidr'],
      [`external_ids:labctl-lab=${LAB}`],
    );
    expect(opts.map((o) => o.cidr).sort()).toEqual([
      '10.78.1.0/24',
      '10.78.9.0/24',
      'fd00:78:1::/64',
      'fd00:78:6::/64',
    ]);
  }, 120_000);

  it('IPv6: ip6: dhcp takes the planned address by stateful DHCPv6, also IPv6-only; no client is left running', async () => {
    const plan = JSON.parse((await labctl(['plan', '-f', FILE, '--json'])).stdout) as {
      nodes: { name: string; interfaces: { ip6?: string; prefix6?: number; dhcp6?: boolean }[] }[];
    };
    for (const node of ['client', 'v6']) {
      const i = plan.nodes.find((n) => n.name === node)!.interfaces[0]!;
      expect(i.dhcp6).toBe(true);
      expect(await addrs6(node)).toEqual([`${i.ip6}/${i.prefix6}`]);
      expect(await offered6(node)).toBe(i.ip6);
      expect(await addrs6(node)).toEqual([`${i.ip6}/${i.prefix6}`]);
      const ps = await sh('docker', ['exec', container(node), 'ps', '-eo', 'comm']);
      expect(ps).not.toMatch(/dhclient|udhcpc/);
    }
    // the IPv6-only node resolves over IPv6 (its resolver is the router's IPv6 address): A and AAAA
    expect(await resolve('v6', `web.${LAB}`, 'aaaa')).toEqual(['fd00:78:1::10']);
    expect(await resolve('v6', `web.${LAB}`)).toEqual(['10.78.1.10']);
    const v6ip = plan.nodes.find((n) => n.name === 'v6')!.interfaces[0]!.ip6!;
    expect(await resolve('client', `v6.${LAB}`, 'aaaa')).toEqual([v6ip]);
  }, 120_000);

  it('nslookup in another node answers the current address, right after readdress and NAT rotation', async () => {
    expect(await resolve('client', `web.${LAB}`)).toEqual(['10.78.1.10']);
    expect(await resolve('f1', `web.${LAB}`)).toEqual(['10.78.1.10']); // routerless network: the service address
    expect(await resolve('f2', 'web')).toEqual(['10.78.1.10']);
    expect(await resolve('client', `web.public.${LAB}`)).toEqual(['100.64.78.10']);
    const r = await labctl(['readdress', 'web', 'eth1', '10.78.1.50', '--lab', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await resolve('client', `web.${LAB}`)).toEqual(['10.78.1.50']);
    // and the IPv6 name right after an IPv6 readdress
    const r6 = await labctl(['readdress', 'web', 'eth1', 'fd00:78:1::50', '--lab', LAB]);
    expect(r6.exitCode, r6.stderr).toBe(0);
    expect(await resolve('v6', `web.${LAB}`, 'aaaa')).toEqual(['fd00:78:1::50']);
    expect(await resolve('f2', `web.${LAB}`)).toEqual(['10.78.1.50']);
    // a dhcp interface readdressed: its client takes the new address from OVN, and its name follows
    const r2 = await labctl(['readdress', 'client', 'eth1', '10.78.1.60', '--lab', LAB]);
    expect(r2.exitCode, r2.stderr).toBe(0);
    expect(await addrs('client')).toEqual(['10.78.1.60/24']);
    expect(await resolve('web', `client.${LAB}`)).toEqual(['10.78.1.60']);
    // NAT rotation by up of a changed lab: the public name follows in the same transaction as the NAT rule
    writeFileSync(FILE, labYaml('100.64.78.20'));
    const r3 = await labctl(['up', '-f', FILE]);
    expect(r3.exitCode, r3.stderr).toBe(0);
    expect(await resolve('client', `web.public.${LAB}`)).toEqual(['100.64.78.20']);
    // up of the file puts the file's addresses back, and the names with them
    expect(await resolve('client', `web.${LAB}`)).toEqual(['10.78.1.10']);
  }, 180_000);

  it('doctor: dataplane.dns passes, and names a hand-corrupted record dns-stale', async () => {
    const before = await doctor();
    const dns = before.checks.filter((c) => c.id === 'dataplane.dns');
    expect(dns.length).toBe(5 * 4);
    expect(
      dns.every((c) => c.status === 'pass'),
      JSON.stringify(dns),
    ).toBe(true);
    expect(
      before.checks
        .filter((c) => c.id === 'dataplane.dhcp')
        .map((c) => `${c.subject} ${c.status}`)
        .sort(),
    ).toEqual(['client.eth1 DHCPv6 pass', 'client.eth1 pass', 'f1.eth1 pass', 'v6.eth1 DHCPv6 pass']);
    const [row] = await ovsdbFind('ovn-nbctl', 'DNS', ['_uuid'], [`external_ids:labctl-lab=${LAB}`]);
    await sh('ovn-nbctl', [
      '--timeout=10',
      'set',
      'DNS',
      String(row!._uuid),
      `records:"web.${LAB}"="10.78.1.99"`,
    ]);
    // what a node sees now (the test's own query), then what doctor says
    expect(await resolve('f1', `web.${LAB}`)).toEqual(['10.78.1.99']);
    const after = await doctor();
    expect(after.exitCode).toBe(1);
    const stale = after.checks.filter((c) => c.id === 'dataplane.dns' && c.status === 'fail');
    expect(stale.map((c) => c.subject).sort()).toEqual([
      `client→web.${LAB}`,
      `f1→web.${LAB}`,
      `f2→web.${LAB}`,
      `v6→web.${LAB}`,
    ]);
    for (const c of stale) {
      expect(c.cause).toBe('dns-stale');
      expect(c.evidence).toContain('10.78.1.99');
      expect(c.evidence).toContain('10.78.1.10');
    }
    // up restores the record
    expect((await labctl(['up', '-f', FILE])).exitCode).toBe(0);
    expect(await resolve('f1', `web.${LAB}`)).toEqual(['10.78.1.10']);
  }, 300_000);

  it('doctor: a flushed lease is address-mismatch, DHCP options gone is dhcp-no-lease', async () => {
    const pid = await containerPid(container('f1'));
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'flush', 'dev', 'eth1']);
    let d = await doctor();
    // the lost lease is the wiring's address-mismatch (the data-plane checks of f1 wait for its wiring)
    const wiring = d.checks.find((c) => c.id === 'wiring.address' && c.subject === 'f1.eth1')!;
    expect(wiring.status).toBe('fail');
    expect(wiring.cause).toBe('address-mismatch');
    let f1 = d.checks.find((c) => c.id === 'dataplane.dhcp' && c.subject === 'f1.eth1')!;
    expect(f1.status === 'skip' || f1.cause === 'address-mismatch', JSON.stringify(f1)).toBe(true);
    // with the address back by hand (no client), the options going is dhcp-no-lease
    await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'addr', 'add', '10.78.9.1/24', 'dev', 'eth1']);
    // the port loses its DHCP options: OVN offers nothing; the test's own client sees the same
    await sh('ovn-nbctl', [
      '--timeout=10',
      'clear',
      'Logical_Switch_Port',
      `${LAB}.f1.eth1`,
      'dhcpv4_options',
    ]);
    await sh('ovn-nbctl', ['--timeout=10', '--wait=hv', 'sync']);
    expect(await offered('f1')).toBeUndefined();
    d = await doctor();
    f1 = d.checks.find((c) => c.id === 'dataplane.dhcp' && c.subject === 'f1.eth1')!;
    expect(f1.status).toBe('fail');
    expect(f1.cause).toBe('dhcp-no-lease');
    expect(f1.evidence).toMatch(/no DHCP lease for f1\.eth1: no lease/);
    // up converges both: the link to the options and the lease
    expect((await labctl(['up', '-f', FILE])).exitCode).toBe(0);
    expect(await addrs('f1')).toEqual(['10.78.9.1/24']);
    expect(await offered('f1')).toBe('10.78.9.1');
  }, 300_000);

  it('down removes the DHCP options and the DNS row with everything else', async () => {
    const r = await labctl(['down', '--lab', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(
      await ovsdbFind('ovn-nbctl', 'DHCP_Options', ['_uuid'], [`external_ids:labctl-lab=${LAB}`]),
    ).toEqual([]);
    expect(await ovsdbFind('ovn-nbctl', 'DNS', ['_uuid'], [`external_ids:labctl-lab=${LAB}`])).toEqual([]);
    expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  }, 120_000);
});
