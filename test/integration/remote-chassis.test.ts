/**
 * A remote chassis over ssh, on the real daemons (docs/multichassis.md "Remote chassis"). The "remote machine" is
 * made by this test on this machine: a network namespace with a private mount namespace (test/fixtures/remote/
 * fake-remote.sh bind-mounts its own /run/openvswitch, /run/ovn, /etc/openvswitch, … so the host's OVS/OVN are never
 * touched) running an sshd on 198.18.77.2 that only accepts a key pair generated here, with a host key the test
 * writes into its own known_hosts. Two veths join it to this machine: management (ssh) and the underlay (the lab's
 * underlay.uplink, so geneve between the simulated chassis and the remote one runs over the lab's underlay). Its
 * Docker is this machine's dockerd, reached over ssh (`docker system dial-stdio` on the remote side).
 *
 * labctl installs/starts the remote's OVS and ovn-controller over ssh (`host install/start --chassis`), `up` makes
 * the lab CA and certificates and joins the remote to the lab's SB over SSL with RBAC; the test checks the bindings,
 * the SSL/RBAC connection (and that plaintext is refused), ICMP/UDP/TCP across, and that `down` leaves nothing on
 * either side. The test removes what it made itself (sshd and the remote's daemons by the namespace's pids, the
 * namespace, the veths, the keys).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, residue, sh, shMaybe } from '../helpers/labctl.js';

const LAB = 'rc-two';
const NS = 'rc-remote';
const MGMT = { host: 'rcm0', remote: 'rcm1', hostIp: '198.18.77.1', remoteIp: '198.18.77.2' };
const UL = { host: 'rcul0', remote: 'rcul1' };
const SUBNET = '172.31.252';
const CENTRAL_IP = `${SUBNET}.254`;
const REMOTE_ENCAP = `${SUBNET}.20`;
const RUN = join(process.env.LABCTL_RUN_DIR ?? '/run/labctl', 'labs', LAB);
const SB = `unix:${RUN}/central/sb.sock`;
const IP = { n1: '10.94.1.2', n2: '10.94.1.3', n3: '10.94.2.2' } as const;
const SCRIPT = join(ROOT, 'test', 'fixtures', 'remote', 'fake-remote.sh');
const ok = await daemonsUp();

const dir = mkdtempSync(join(tmpdir(), 'rc-test-'));
const FILE = join(dir, 'rc-two.yml');
let sshd: ResultPromise | undefined;

/** A command on the remote through the test's own ssh client (independent of labctl's ssh2 driver). */
function onRemote(args: string[], timeoutMs = 30_000) {
  return shMaybe(
    'ssh',
    [
      '-i',
      join(dir, 'id'),
      '-o',
      `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      `root@${MGMT.remoteIp}`,
      '--',
      ...args,
    ],
    timeoutMs,
  );
}

async function makeRemote(): Promise<void> {
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')), { mode: 0o600 });
  const hostPub = readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `${MGMT.remoteIp} ${hostPub}\n`);
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress ${MGMT.remoteIp}`,
      'Port 22',
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'PidFile none',
      'MaxSessions 20',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'state'));
  await sh('ip', ['netns', 'add', NS]);
  await sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  await sh('ip', ['link', 'add', MGMT.host, 'type', 'veth', 'peer', 'name', MGMT.remote, 'netns', NS]);
  await sh('ip', ['addr', 'add', `${MGMT.hostIp}/30`, 'dev', MGMT.host]);
  await sh('ip', ['link', 'set', MGMT.host, 'up']);
  await sh('ip', ['-n', NS, 'addr', 'add', `${MGMT.remoteIp}/30`, 'dev', MGMT.remote]);
  await sh('ip', ['-n', NS, 'link', 'set', MGMT.remote, 'up']);
  // the underlay link: this end becomes the lab's underlay.uplink, the other the remote's br-phy port
  await sh('ip', [
    'link',
    'add',
    UL.host,
    'mtu',
    '1600',
    'type',
    'veth',
    'peer',
    'name',
    UL.remote,
    'netns',
    NS,
    'mtu',
    '1600',
  ]);
  sshd = execa('ip', ['netns', 'exec', NS, SCRIPT, join(dir, 'state'), join(dir, 'sshd_config')], {
    reject: false,
    stdin: 'ignore',
  });
  const deadline = Date.now() + 15_000;
  while (!(await onRemote(['true'], 5000)).ok) {
    if (Date.now() > deadline) throw new Error('the test sshd did not answer within 15 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function removeRemote(): Promise<void> {
  // every process of the remote (sshd, and the ovsdb-server/ovs-vswitchd/ovn-controller labctl started there)
  for (let i = 0; i < 3; i++) {
    const pids = (await shMaybe('ip', ['netns', 'pids', NS])).out.split(/\s+/).filter(Boolean);
    if (!pids.length) break;
    await shMaybe('kill', ['-9', ...pids]);
    await new Promise((r) => setTimeout(r, 200));
  }
  sshd?.kill('SIGKILL');
  await shMaybe('ip', ['netns', 'del', NS]);
  for (const l of [MGMT.host, UL.host]) await shMaybe('ip', ['link', 'del', l]);
  rmSync(dir, { recursive: true, force: true });
}

function writeLab(): void {
  writeFileSync(
    FILE,
    `# a simulated chassis and a remote one (test/integration/remote-chassis.test.ts)
name: ${LAB}
chassis:
  hv1: {}
  r1:
    kind: remote
    ssh: root@${MGMT.remoteIp}
    encap_ip: ${REMOTE_ENCAP}
    uplink: ${UL.remote}
    ssh_key: ${join(dir, 'id')}
    known_hosts: ${join(dir, 'known_hosts')}
underlay: { subnet: ${SUBNET}.0/24, mtu: 1600, uplink: ${UL.host} }
networks:
  a: { subnet: 10.94.1.0/24 }
  b: { subnet: 10.94.2.0/24 }
routers:
  r: { links: [a, b] }
nodes:
  n1: { chassis: hv1, interfaces: [a] }
  n2: { chassis: r1, interfaces: [a] }
  n3: { chassis: r1, interfaces: [b] }
`,
  );
}

const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const port = Number(process.argv[1]);
net.createServer((s) => { let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => s.end(String(n))); }).listen(port, '0.0.0.0');
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
} else {
  const s = net.connect(port, ip, () => { s.end(Buffer.alloc(size, 9)); });
  let r = ''; s.on('data', (d) => (r += d)); s.on('end', () => { console.log('pushed ' + r); process.exit(0); });
  s.on('error', (e) => fail(e.code));
}
`;
const servers: { kill: () => void }[] = [];

async function inNode(node: keyof typeof IP, script: string, args: string[]): Promise<string> {
  const pid = await containerPid(`labctl.${LAB}.${node}`);
  return sh('nsenter', ['-t', String(pid), '-n', process.execPath, '-e', script, ...args], 30_000);
}
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
async function ping(from: keyof typeof IP, to: string, count = 3): Promise<number> {
  const pid = await containerPid(`labctl.${LAB}.${from}`);
  const r = await shMaybe('nsenter', [
    '-t',
    String(pid),
    '-n',
    'ping',
    '-n',
    '-c',
    String(count),
    '-i',
    '0.2',
    '-W',
    '1',
    to,
  ]);
  return Number(/(\d+) received/.exec(r.out)?.[1] ?? 0);
}

/** The remote's geneve ports (read over the test's own ssh from the remote's OVS). */
async function remoteTunnels(): Promise<{ name: string; remote: string }[]> {
  const r = await onRemote([
    'ovs-vsctl',
    '--timeout=10',
    '--format=json',
    '--data=json',
    '--columns=name,options',
    'find',
    'Interface',
    'type=geneve',
  ]);
  const t = JSON.parse(r.out) as { data: [string, ['map', [string, string][]]][] };
  return t.data.map(([name, opts]) => ({ name, remote: Object.fromEntries(opts[1]).remote_ip ?? '' }));
}

/** Bytes through the remote's underlay link as its kernel counts them (independent of OVS). */
async function remoteUplinkBytes(): Promise<number> {
  const j = JSON.parse(await sh('ip', ['-n', NS, '-j', '-s', 'link', 'show', 'dev', UL.remote]));
  return j[0].stats64.rx.bytes + j[0].stats64.tx.bytes;
}

/** What of the lab is left: on this machine (residue + namespaces + run dir) and on the remote. */
async function leftovers() {
  const netns = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[];
  const rOvs = await onRemote([
    'ovs-vsctl',
    '--timeout=10',
    '--format=csv',
    '--no-headings',
    '--columns=name',
    'find',
    'Interface',
    `external_ids:labctl-lab=${LAB}`,
  ]);
  const rBr = await onRemote([
    'ovs-vsctl',
    '--timeout=10',
    '--format=csv',
    '--no-headings',
    '--columns=name',
    'find',
    'Bridge',
    `external_ids:labctl-lab=${LAB}`,
  ]);
  const rKeys = await onRemote(['ovs-vsctl', '--timeout=10', 'get', 'Open_vSwitch', '.', 'external_ids']);
  const rSsl = await onRemote(['ovs-vsctl', '--timeout=10', 'get-ssl']);
  const rLinks = JSON.parse((await onRemote(['ip', '-j', 'link', 'show'])).out || '[]') as {
    ifname: string;
    ifalias?: string;
  }[];
  const rGeneve = await onRemote([
    'ovs-vsctl',
    '--timeout=10',
    '--format=csv',
    '--no-headings',
    '--columns=name',
    'find',
    'Interface',
    'type=geneve',
  ]);
  return {
    ...(await residue(LAB)),
    netns: netns.map((n) => n.name).filter((n) => n === `labctl.${LAB}` || n.startsWith(`labctl.${LAB}.`)),
    runDir: existsSync(RUN),
    remote: {
      ports: rOvs.out.split('\n').filter(Boolean),
      bridges: rBr.out.split('\n').filter(Boolean),
      geneve: rGeneve.out.split('\n').filter(Boolean),
      chassisKeys: /system-id|ovn-remote|ovn-encap-ip|labctl-lab/.test(rKeys.out),
      ssl: rSsl.out.trim(),
      veths: rLinks
        .filter((l) => l.ifalias === `labctl:${LAB}` || l.ifname.startsWith('lv'))
        .map((l) => l.ifname),
      certDir: (await onRemote(['test', '-e', `/var/lib/labctl/chassis/${LAB}`])).ok,
    },
    // the underlay uplink is given back to this machine's namespace
    uplinkHome: (await shMaybe('ip', ['link', 'show', 'dev', UL.host])).ok,
  };
}
const NOTHING = {
  containers: [],
  ovs: 0,
  links: [],
  nb: 0,
  state: false,
  netns: [],
  runDir: false,
  remote: { ports: [], bridges: [], geneve: [], chassisKeys: false, ssl: '', veths: [], certDir: false },
  uplinkHome: true,
};

describe.runIf(ok)('remote chassis over ssh with SB over SSL and RBAC', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    await removeRemote().catch(() => undefined);
    mkdirSync(dir, { recursive: true });
    await makeRemote();
    writeLab();
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) s.kill();
    await labctl(['down', '--lab', LAB]);
    await removeRemote();
  }, 180_000);

  it('host install/check/start over ssh: the remote gets its own OVS and ovn-controller; unknown host keys are refused', async () => {
    // a known_hosts without the remote: refused (strict by default), nothing started
    const empty = join(dir, 'empty_known_hosts');
    writeFileSync(empty, '');
    const refused = await labctl([
      'host',
      'check',
      '--ssh',
      `root@${MGMT.remoteIp}`,
      '--ssh-key',
      join(dir, 'id'),
      '--known-hosts',
      empty,
    ]);
    expect(refused.exitCode, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/not in .*empty_known_hosts/);
    expect(readFileSync(empty, 'utf8')).toBe('');
    // a wrong key for the host: refused even with --ssh-accept-new
    const otherPub = readFileSync(join(dir, 'id.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(empty, `${MGMT.remoteIp} ${otherPub}\n`);
    const wrong = await labctl([
      'host',
      'check',
      '--ssh',
      `root@${MGMT.remoteIp}`,
      '--ssh-key',
      join(dir, 'id'),
      '--known-hosts',
      empty,
      '--ssh-accept-new',
    ]);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/does not match/);

    const before = await labctl(['host', 'check', '--chassis', 'r1', '-f', FILE, '--json']);
    expect(before.exitCode).toBe(2);
    const b = JSON.parse(before.stdout) as { steps: { id: string; ok: boolean }[] };
    expect(b.steps.find((s) => s.id === 'ovn-controller')?.ok).toBe(false);
    expect(b.steps.find((s) => s.id === 'ssh')?.ok).toBe(true);

    const inst = await labctl(['host', 'install', '--chassis', 'r1', '-f', FILE]);
    expect(inst.exitCode, inst.stderr + inst.stdout).toBe(0);
    const start = await labctl(['host', 'start', '--chassis', 'r1', '-f', FILE]);
    expect(start.exitCode, start.stderr + start.stdout).toBe(0);
    const after = await labctl(['host', 'check', '--chassis', 'r1', '-f', FILE, '--json']);
    expect(after.exitCode, after.stdout).toBe(0);
    // the remote's daemons are its own: their pidfiles are in its private /run, not the host's
    const pid = (await onRemote(['cat', '/run/ovn/ovn-controller.pid'])).out;
    expect(Number(pid)).toBeGreaterThan(1);
    expect(readFileSync('/run/ovn/ovn-controller.pid', 'utf8').trim()).not.toBe(pid);
    // idempotent
    const again = await labctl(['host', 'start', '--chassis', 'r1', '-f', FILE, '--json']);
    expect(
      (JSON.parse(again.stdout) as { steps: { status: string }[] }).steps.every((s) => s.status === 'ok'),
    ).toBe(true);
  }, 120_000);

  it('up binds the remote node ports on the remote chassis, over SSL with RBAC (plaintext refused)', async () => {
    const r = await labctl(['up', '-f', FILE], { timeoutMs: 240_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const out = await sh('ovn-sbctl', [
      `--db=${SB}`,
      '--timeout=10',
      '--format=json',
      '--data=json',
      '--columns=name,_uuid',
      'list',
      'Chassis',
    ]);
    const ch = new Map((JSON.parse(out).data as [string, [string, string]][]).map(([n, u]) => [u[1], n]));
    const pb = JSON.parse(
      await sh('ovn-sbctl', [
        `--db=${SB}`,
        '--timeout=10',
        '--format=json',
        '--data=json',
        '--columns=logical_port,chassis',
        'list',
        'Port_Binding',
      ]),
    ).data as [string, [string, unknown]][];
    const on = Object.fromEntries(
      pb.map(([lp, c]) => [lp, c[0] === 'uuid' ? ch.get(c[1] as string) : undefined]),
    );
    expect(on[`${LAB}.n1.eth1`]).toBe(`hv1.${LAB}`);
    expect(on[`${LAB}.n2.eth1`]).toBe(`r1.${LAB}`);
    expect(on[`${LAB}.n3.eth1`]).toBe(`r1.${LAB}`);

    // the SB's one Connection: SSL, role ovn-controller (RBAC)
    const conn = await sh('ovn-sbctl', [`--db=${SB}`, '--timeout=10', 'get-connection']);
    expect(conn).toBe(`read-write role="ovn-controller" pssl:6642:${CENTRAL_IP}`);
    // the remote's ovn-controller talks ssl: and is connected; its certificate's CN is its chassis name
    const remote = await onRemote([
      'ovs-vsctl',
      '--timeout=10',
      'get',
      'Open_vSwitch',
      '.',
      'external_ids:ovn-remote',
    ]);
    expect(remote.out.replaceAll('"', '')).toBe(`ssl:${CENTRAL_IP}:6642`);
    expect((await onRemote(['ovn-appctl', '-t', 'ovn-controller', 'connection-status'])).out).toBe(
      'connected',
    );
    const subject = await sh('openssl', [
      'x509',
      '-noout',
      '-subject',
      '-in',
      join(RUN, 'pki', `r1.${LAB}-cert.pem`),
    ]);
    expect(subject).toMatch(new RegExp(`CN ?= ?r1\\.${LAB}$`));
    // what the remote holds: its own key/cert and the lab CA, copied over ssh
    expect((await onRemote(['test', '-s', `/var/lib/labctl/chassis/${LAB}/privkey.pem`])).ok).toBe(true);
    // only an SSL listener on 6642: a plaintext OVSDB client from the remote gets nowhere
    const listeners = await sh('ip', ['netns', 'exec', `labctl.${LAB}`, 'ss', '-Hltn']);
    expect(listeners.split('\n').filter((l) => l.includes(':6642'))).toHaveLength(1);
    const plain = await onRemote(
      ['ovsdb-client', '--timeout=5', 'list-dbs', `tcp:${CENTRAL_IP}:6642`],
      20_000,
    );
    expect(plain.ok).toBe(false);
    // an SSL client with a certificate of another CA is refused too
    const alien = join(dir, 'alien');
    mkdirSync(alien);
    await sh('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=alien',
      '-days',
      '1',
      '-keyout',
      join(alien, 'k.pem'),
      '-out',
      join(alien, 'c.pem'),
    ]);
    const foreign = await shMaybe(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'ovsdb-client',
        '--timeout=5',
        '-p',
        join(alien, 'k.pem'),
        '-c',
        join(alien, 'c.pem'),
        '-C',
        join(RUN, 'pki', 'ca', 'switchca', 'cacert.pem'),
        'list-dbs',
        `ssl:${CENTRAL_IP}:6642`,
      ],
      20_000,
    );
    expect(foreign.ok).toBe(false);
  }, 300_000);

  it('ICMP, UDP and TCP pass between a node on the remote and one on the simulated chassis, through the tunnel', async () => {
    // warm-up: the first packet towards a newly seen chassis is lost to tunnel ARP
    await ping('n1', IP.n2, 2);
    const t0 = await remoteTunnels();
    expect(t0.map((t) => t.remote)).toContain(`${SUBNET}.1`);
    const b0 = await remoteUplinkBytes();
    expect(await ping('n1', IP.n2)).toBe(3); // switched: hv1 → r1
    expect(await ping('n2', IP.n1)).toBe(3); // r1 → hv1
    expect(await ping('n1', IP.n3)).toBe(3); // routed: hv1 → r1 (network b)
    await startServer('n1', 7401);
    await startServer('n3', 7402);
    expect(await inNode('n2', CLIENT, [IP.n1, '7401', 'udp', '64'])).toBe('udp 64');
    expect(await inNode('n2', CLIENT, [IP.n1, '7401', 'udp', '1472'])).toBe('udp 1472');
    expect(await inNode('n1', CLIENT, [IP.n3, '7402', 'udp', '1472'])).toBe('udp 1472');
    const size = 2 * 1024 * 1024;
    expect(await inNode('n2', CLIENT, [IP.n1, '7401', 'push', String(size)])).toBe(`pushed ${size}`);
    expect(await inNode('n1', CLIENT, [IP.n3, '7402', 'push', String(size)])).toBe(`pushed ${size}`);
    // both transfers crossed the underlay: over 4 MB more through the remote's uplink
    expect((await remoteUplinkBytes()) - b0).toBeGreaterThan(2 * size);
  }, 180_000);

  it('status --json and doctor see the remote chassis over ssh; a killed remote ovn-controller is chassis-down, --fix restarts it', async () => {
    const st = await labctl(['status', '--lab', LAB, '--json']);
    expect(st.exitCode, st.stderr).toBe(0);
    const lab = JSON.parse(st.stdout).labs[0] as {
      ready: boolean;
      chassis: { name: string; kind: string; ssh?: string; daemons: Record<string, number | null> }[];
    };
    expect(lab.ready).toBe(true);
    const r1 = lab.chassis.find((c) => c.name === 'r1');
    const pid = Number((await onRemote(['cat', '/run/ovn/ovn-controller.pid'])).out);
    expect(r1).toMatchObject({ kind: 'remote', ssh: `root@${MGMT.remoteIp}` });
    expect(r1?.daemons['ovn-controller']).toBe(pid);

    type Doc = {
      ok: boolean;
      checks: { id: string; subject: string; status: string; cause?: string; followsFrom?: string }[];
    };
    const doctor = async (args: string[] = []) => {
      const r = await labctl(['doctor', '-f', FILE, '--json', ...args], { timeoutMs: 240_000 });
      expect(r.stdout, r.stderr).toMatch(/^\{/);
      return JSON.parse(r.stdout) as Doc;
    };
    const green = await doctor();
    const mine = green.checks.filter((c) => c.subject === 'chassis r1').map((c) => [c.id, c.status]);
    expect(mine).toEqual(
      expect.arrayContaining([
        ['chassis.daemons', 'pass'],
        ['chassis.registered', 'pass'],
        ['tunnel.ports', 'pass'],
        ['tunnel.underlay', 'pass'],
      ]),
    );
    expect(
      green.ok,
      JSON.stringify(green.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')),
    ).toBe(true);

    expect((await onRemote(['kill', String(pid)])).ok).toBe(true);
    const broken = await doctor();
    expect(broken.ok).toBe(false);
    const roots = broken.checks.filter(
      (c) => (c.status === 'fail' || c.status === 'error') && !c.followsFrom,
    );
    expect(roots.map((c) => [c.id, c.subject, c.cause])).toContainEqual([
      'chassis.daemons',
      'chassis r1',
      'chassis-down',
    ]);
    const fixed = await doctor(['--fix']);
    expect(
      fixed.ok,
      JSON.stringify(fixed.checks.filter((c) => c.status !== 'pass' && c.status !== 'skip')),
    ).toBe(true);
    const again = Number((await onRemote(['cat', '/run/ovn/ovn-controller.pid'])).out);
    expect(again).toBeGreaterThan(1);
    expect(again).not.toBe(pid);
  }, 300_000);

  it('down removes everything of the lab, here and on the remote', async () => {
    const r = await labctl(['down', '--lab', LAB], { timeoutMs: 180_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(await leftovers()).toEqual(NOTHING);
    // the remote's daemons keep running (host start made them, not up)
    expect((await onRemote(['ovn-appctl', '-t', 'ovn-controller', 'version'])).ok).toBe(true);
  }, 240_000);

  it('down after a SIGKILLed up still cleans the remote (from the record written before touching it)', async () => {
    const child = execa(process.execPath, [join(ROOT, 'dist', 'labctl.mjs'), 'up', '-f', FILE], {
      reject: false,
      env: { CI: 'true' },
      stdin: 'ignore',
    });
    // kill once the remote carries the lab's mark (up is configuring it), bounded
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const k = await onRemote([
        'ovs-vsctl',
        '--timeout=5',
        '--if-exists',
        'get',
        'Open_vSwitch',
        '.',
        'external_ids:labctl-lab',
      ]);
      if (k.out.includes(LAB)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    await child;
    const r = await labctl(['down', '--lab', LAB], { timeoutMs: 180_000 });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(await leftovers()).toEqual(NOTHING);
  }, 240_000);
});

describe.runIf(ok)('down with a remote chassis ssh cannot reach', () => {
  const GONE = 'rc-gone';
  const runDir = join(process.env.LABCTL_RUN_DIR ?? '/run/labctl', 'labs', GONE);
  afterAll(() => {
    rmSync(runDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes this machine’s part, keeps the record and exits 2; --forget-remotes gives up on it', async () => {
    await buildOnce();
    // what up records before it touches a remote: here one that cannot be reached (no key, TEST-NET address)
    mkdirSync(runDir, { recursive: true });
    const record = {
      chassis: [
        { name: 'far', systemId: `far.${GONE}`, ssh: 'root@198.51.100.12', sshKey: join(dir, 'missing-key') },
      ],
    };
    writeFileSync(join(runDir, 'remote.json'), JSON.stringify(record));
    const first = await labctl(['down', '--lab', GONE]);
    expect(first.exitCode).toBe(2);
    expect(first.stderr).toContain(
      `lab ${GONE} is down on this machine, but not on remote chassis far (root@198.51.100.12)`,
    );
    expect(JSON.parse(readFileSync(join(runDir, 'remote.json'), 'utf8'))).toMatchObject(record);
    const forget = await labctl(['down', '--lab', GONE, '--forget-remotes']);
    expect(forget.exitCode, forget.stderr).toBe(0);
    expect(existsSync(runDir)).toBe(false);
  }, 60_000);
});
