/**
 * labctl up / down / status on the real daemons: Docker, OVS (userspace datapath) and OVN. The test checks the
 * result itself — container settings through Docker, rows through ovs-vsctl/ovn-nbctl/ovn-sbctl, packets with
 * its own probes inside the containers' network namespaces — never through labctl's own checks.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOnce,
  CLI,
  containerPid,
  daemonsUp,
  labctl,
  ovsdbFind,
  ping,
  probe,
  ROOT,
  residue,
  sh,
  shMaybe,
  startEchoServer,
} from '../helpers/labctl.js';

const FIX = join(ROOT, 'test', 'fixtures', 'integration');
const up = await daemonsUp();
const tmp = mkdtempSync(join(tmpdir(), 'labctl-it-'));
const LAB_FILE = join(tmp, 'it-up.yml');
copyFileSync(join(FIX, 'it-up.yml'), LAB_FILE);

async function ids(lab: string): Promise<Record<string, string>> {
  const out = await sh('docker', [
    'ps',
    '-a',
    '--filter',
    `label=labctl.lab=${lab}`,
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

/** Each node's eth1 IPv4 addresses, read inside its container. */
async function nodeAddresses(nodes: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of nodes) {
    const pid = await containerPid(`labctl.it-up.${n}`);
    const j = JSON.parse(
      await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1']),
    );
    out[n] = j[0].addr_info.map((a: { local: string }) => a.local).join(',');
  }
  return out;
}

/** The lab's logical switch ports and their addresses, read from NB. */
async function lspAddresses(): Promise<Record<string, string>> {
  const rows = await ovsdbFind(
    'ovn-nbctl',
    'Logical_Switch_Port',
    ['name', 'addresses'],
    ['external_ids:labctl-lab=it-up'],
  );
  return Object.fromEntries(rows.map((r) => [r.name as string, String(r.addresses)]));
}

describe.runIf(up)('labctl up / down on the real daemons', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', 'it-up']);
    await labctl(['down', '--lab', 'it-other']);
  });
  afterAll(async () => {
    await labctl(['down', '--lab', 'it-up']);
    await labctl(['down', '--lab', 'it-other']);
    await shMaybe('docker', ['rm', '-f', 'it-foreign']);
    await shMaybe('ovs-vsctl', ['--if-exists', 'del-port', 'br-int', 'itforeign0']);
    await shMaybe('ovn-nbctl', ['--if-exists', 'ls-del', 'it-foreign-switch']);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('brings up two routed networks: network_mode none, addresses, bound ports, offload off', async () => {
    const r = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(true);
    expect(out.containers.created.sort()).toEqual(['client', 'db', 'web']);

    const plan = JSON.parse((await labctl(['plan', '-f', LAB_FILE, '--json'])).stdout);
    const lsps = await ovsdbFind(
      'ovn-nbctl',
      'Logical_Switch_Port',
      ['name', 'addresses'],
      ['external_ids:labctl-lab=it-up'],
    );
    const lspNames = new Set(lsps.map((l) => l.name));
    const ifaces = await ovsdbFind(
      'ovs-vsctl',
      'Interface',
      ['name', 'external_ids', 'ofport', 'error'],
      ['external_ids:labctl-lab=it-up'],
    );
    expect(ifaces).toHaveLength(3);
    const bindings = await ovsdbFind('ovn-sbctl', 'Port_Binding', ['logical_port', 'chassis', 'up']);
    for (const iface of ifaces) {
      const ext = iface.external_ids as Record<string, string>;
      expect(lspNames.has(ext['iface-id'])).toBe(true);
      expect(ext['ovn-installed']).toBe('true');
      expect(iface.ofport as number).toBeGreaterThan(0);
      const pb = bindings.find((b) => b.logical_port === ext['iface-id']);
      expect(pb?.chassis, `binding of ${ext['iface-id']}`).toBeTruthy();
      expect(pb?.up).toBe(true);
    }

    for (const node of plan.nodes) {
      const info = JSON.parse(await sh('docker', ['inspect', node.container]))[0];
      expect(info.HostConfig.NetworkMode).toBe('none');
      expect(info.Config.Labels['labctl.lab']).toBe('it-up');
      const pid = info.State.Pid as number;
      const addrs = JSON.parse(
        await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'addr', 'show', 'dev', 'eth1']),
      )[0];
      expect(addrs.address).toBe(node.interfaces[0].mac);
      expect(
        addrs.addr_info
          .filter((a: { family: string }) => a.family === 'inet')
          .map((a: { local: string }) => a.local),
      ).toEqual([node.interfaces[0].ip]);
      const k = await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-k', 'eth1']);
      expect(k).toMatch(/^tx-checksumming: off/m);
      const routes = await sh('nsenter', ['-t', String(pid), '-n', 'ip', 'route', 'show', 'default']);
      expect(routes).toContain(`via ${node.interfaces[0].gateway}`);
    }
  });

  it('passes ICMP, UDP and TCP on one switch and across the router (probed by the test)', async () => {
    const [web, db, client] = await Promise.all(
      ['web', 'db', 'client'].map((n) => containerPid(`labctl.it-up.${n}`)),
    );
    const stop = await startEchoServer(web!, 7001);
    try {
      const plan = JSON.parse((await labctl(['plan', '-f', LAB_FILE, '--json'])).stdout);
      const webIp = plan.nodes.find((n: { name: string }) => n.name === 'web').interfaces[0].ip;
      for (const from of [db!, client!]) {
        expect(await ping(from, webIp)).toBe(true);
        expect(await probe(from, webIp, 7001, 'tcp')).toBe('pong:ping');
        expect(await probe(from, webIp, 7001, 'udp')).toBe('pong:ping');
      }
      // A port nobody serves answers with RST: the probe can tell a listener apart from a path.
      expect(await probe(client!, webIp, 7999, 'tcp')).toBe('ECONNREFUSED');
    } finally {
      stop();
    }
  });

  it('changes nothing on a second up, and keeps containers when a node is added', async () => {
    const before = await ids('it-up');
    const again = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).changed).toBe(false);
    expect(await ids('it-up')).toEqual(before);
    // What up reads from the real daemons matches the plan exactly: the dry run lists nothing.
    const dry = await labctl(['up', '--dry-run', '-f', LAB_FILE, '--json']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).changes).toEqual([]);

    writeFileSync(LAB_FILE, `${readFileSync(LAB_FILE, 'utf8')}  cache:\n    interfaces: [vpc-b]\n`);
    const added = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(added.exitCode, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout).containers.created).toEqual(['cache']);
    const after = await ids('it-up');
    for (const [node, id] of Object.entries(before)) expect(after[node]).toBe(id);
    const cache = await containerPid('labctl.it-up.cache');
    expect(await ping(cache, '10.61.1.10')).toBe(true);
  });

  it('re-plumbs the links of a container Docker restarted', async () => {
    await sh('docker', ['restart', '-t', '1', 'labctl.it-up.db']);
    const r = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).changes.join('\n')).toMatch(/plumb db\.eth1 .*\(the pair is broken\)/);
    expect(await ping(await containerPid('labctl.it-up.db'), '10.61.1.10')).toBe(true);
  });

  it('recreates a container whose configuration changed, with fresh links in the same OVS port name', async () => {
    const before = await ids('it-up');
    const text = readFileSync(LAB_FILE, 'utf8');
    writeFileSync(LAB_FILE, text.replace('  db:\n', '  db:\n    env: { ROLE: database }\n'));
    try {
      const r = await labctl(['up', '-f', LAB_FILE, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).containers.recreated).toEqual(['db']);
      const after = await ids('it-up');
      expect(after.db).not.toBe(before.db);
      expect(after.web).toBe(before.web);
      // The new container's end is eth1 with its planned MAC and offload off; the host end is bound again.
      const plan = JSON.parse((await labctl(['plan', '-f', LAB_FILE, '--json'])).stdout);
      const dbIface = plan.nodes.find((n: { name: string }) => n.name === 'db').interfaces[0];
      const pid = await containerPid('labctl.it-up.db');
      const link = JSON.parse(
        await sh('nsenter', ['-t', String(pid), '-n', 'ip', '-j', 'addr', 'show', 'eth1']),
      );
      expect(link[0].address).toBe(dbIface.mac);
      expect(link[0].addr_info.map((a: { local: string }) => a.local)).toContain(dbIface.ip);
      const k = await sh('nsenter', ['-t', String(pid), '-n', 'ethtool', '-k', 'eth1']);
      expect(k).toMatch(/^tx-checksumming: off/m);
      const ports = await ovsdbFind('ovs-vsctl', 'Interface', ['name'], [`name=${dbIface.hostVeth}`]);
      expect(ports).toHaveLength(1);
      expect(await ping(pid, '10.61.1.10')).toBe(true);
      expect(await ping(await containerPid('labctl.it-up.client'), dbIface.ip)).toBe(true);
    } finally {
      writeFileSync(LAB_FILE, text);
    }
  });

  it('a node inserted above another: --dry-run lists only its changes and changes nothing; up keeps every other container and address', async () => {
    const text = readFileSync(LAB_FILE, 'utf8');
    expect(text).toContain('  db:\n    interfaces: [vpc-a]');
    const converge = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(converge.exitCode, converge.stderr).toBe(0);
    const before = await ids('it-up');
    const addrsBefore = await nodeAddresses(Object.keys(before));
    const nbBefore = await lspAddresses();
    writeFileSync(LAB_FILE, text.replace('  db:\n', '  b3:\n    interfaces: [vpc-a]\n  db:\n'));
    try {
      const dry = await labctl(['up', '--dry-run', '-f', LAB_FILE, '--json']);
      expect(dry.exitCode, dry.stderr).toBe(0);
      const changes = JSON.parse(dry.stdout).changes as { op: string; summary: string; node?: string }[];
      expect(changes.map((c) => c.summary)).toEqual([
        expect.stringMatching(/^add port it-up\.b3\.eth1 \(\S+ 10\.61\.1\.\d+\)$/),
        'create container labctl.it-up.b3',
        expect.stringMatching(/^plumb b3\.eth1 10\.61\.1\.\d+\/24 /),
      ]);
      expect(changes.every((c) => c.op === '+')).toBe(true);
      // the dry run touched nothing
      expect(await ids('it-up')).toEqual(before);
      expect(await lspAddresses()).toEqual(nbBefore);

      const r = await labctl(['up', '-f', LAB_FILE, '--json']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).containers.created).toEqual(['b3']);
      const after = await ids('it-up');
      for (const [node, id] of Object.entries(before)) expect(after[node], node).toBe(id);
      expect(await nodeAddresses(Object.keys(before))).toEqual(addrsBefore);
      const nbAfter = await lspAddresses();
      for (const [port, addr] of Object.entries(nbBefore)) expect(nbAfter[port], port).toBe(addr);
      const b3 = nbAfter['it-up.b3.eth1']!.split(' ')[1]!;
      expect(Object.values(addrsBefore)).not.toContain(b3);
      expect(await ping(await containerPid('labctl.it-up.b3'), '10.61.1.10')).toBe(true);
      const again = await labctl(['up', '--dry-run', '-f', LAB_FILE, '--json']);
      expect(JSON.parse(again.stdout).changes).toEqual([]);
    } finally {
      writeFileSync(LAB_FILE, text);
    }
    // and removing it again leaves the others alone too
    const removed = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).containers.removed).toEqual(['b3']);
    expect(await nodeAddresses(Object.keys(before))).toEqual(addrsBefore);
  });

  it('readdress of an allocated address changes only that node; the next up puts the allocated address back', async () => {
    const before = await nodeAddresses(['web', 'db', 'client']);
    const r = await labctl(['readdress', 'db', 'eth1', '10.61.1.77', '-f', LAB_FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await nodeAddresses(['web', 'db', 'client'])).toEqual({ ...before, db: '10.61.1.77' });
    expect((await lspAddresses())['it-up.db.eth1']).toMatch(/ 10\.61\.1\.77$/);
    const dry = await labctl(['up', '--dry-run', '-f', LAB_FILE, '--json']);
    expect((JSON.parse(dry.stdout).changes as { summary: string }[]).map((c) => c.summary)).toEqual([
      `readdress port it-up.db.eth1: 10.61.1.77 → ${before.db}`,
      `readdress db.eth1: 10.61.1.77/24 → ${before.db}/24`,
      'route db: default via 10.61.1.1 dev eth1',
      'flush conntrack of 10.61.1.77',
    ]);
    const back = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(await nodeAddresses(['web', 'db', 'client'])).toEqual(before);
  });

  it('an OVN transaction that fails inside up is an error saying what failed and what to run', async () => {
    const text = readFileSync(LAB_FILE, 'utf8');
    // A port nobody labelled holds the address the new node asks for: ovn-nbctl refuses the duplicate.
    await sh('ovn-nbctl', [
      'lsp-add',
      'it-up.vpc-a',
      'it-foreign-lsp',
      '--',
      'lsp-set-addresses',
      'it-foreign-lsp',
      '0a:00:00:00:00:77 10.61.1.77',
    ]);
    writeFileSync(LAB_FILE, `${text}  b4:\n    interfaces: [{ network: vpc-a, ip: 10.61.1.77 }]\n`);
    try {
      const r = await labctl(['up', '-f', LAB_FILE]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/OVN northbound transaction .*failed: .*duplicate/i);
      expect(r.stderr).toMatch(/fix: labctl doctor -f /);
      expect(r.stderr).not.toMatch(/internal error|this is a bug/i);
    } finally {
      await shMaybe('ovn-nbctl', ['--if-exists', 'lsp-del', 'it-foreign-lsp']);
      writeFileSync(LAB_FILE, text);
    }
    const healed = await labctl(['up', '-f', LAB_FILE, '--json']);
    expect(healed.exitCode, healed.stderr).toBe(0);
    expect(await ping(await containerPid('labctl.it-up.client'), '10.61.1.10')).toBe(true);
  });

  it('runs two labs side by side; downing one leaves the other working', async () => {
    const other = await labctl(['up', '-f', join(FIX, 'it-other.yml')]);
    expect(other.exitCode, other.stderr).toBe(0);
    const [ow, oc] = await Promise.all([
      containerPid('labctl.it-other.web'),
      containerPid('labctl.it-other.client'),
    ]);
    const otherPlan = JSON.parse((await labctl(['plan', '-f', join(FIX, 'it-other.yml'), '--json'])).stdout);
    const owIp = otherPlan.nodes[0].interfaces[0].ip;
    expect(await ping(oc, owIp)).toBe(true);
    expect(await ping(await containerPid('labctl.it-up.client'), '10.61.1.10')).toBe(true);

    const down = await labctl(['down', '--lab', 'it-other']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await residue('it-other')).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
    expect(await ping(await containerPid('labctl.it-up.client'), '10.61.1.10')).toBe(true);
    void ow;
  });

  it('down removes exactly the lab, leaving foreign objects alone, even with the lab file deleted', async () => {
    await sh('docker', [
      'run',
      '-d',
      '--name',
      'it-foreign',
      '--network',
      'none',
      '--label',
      'test=foreign',
      'labctl/node',
      'sleep',
      '600',
    ]);
    await sh('ovs-vsctl', [
      'add-port',
      'br-int',
      'itforeign0',
      '--',
      'set',
      'Interface',
      'itforeign0',
      'type=internal',
    ]);
    await sh('ovn-nbctl', ['ls-add', 'it-foreign-switch']);
    rmSync(LAB_FILE);
    const r = await labctl(['down', '--lab', 'it-up']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await residue('it-up')).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
    expect(await sh('docker', ['inspect', '-f', '{{.State.Running}}', 'it-foreign'])).toBe('true');
    expect(await sh('ovs-vsctl', ['list-ports', 'br-int'])).toContain('itforeign0');
    expect(await sh('ovn-nbctl', ['ls-list'])).toContain('it-foreign-switch');
    const again = await labctl(['down', '--lab', 'it-up']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('nothing to remove');
  });

  it('cleans up after an up killed half-way', async () => {
    copyFileSync(join(FIX, 'it-up.yml'), LAB_FILE);
    const child = execa(process.execPath, [CLI, 'up', '-f', LAB_FILE], {
      reject: false,
    });
    // Kill as soon as the first container exists: links, OVS ports or NB rows are then half made.
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const c = await shMaybe('docker', ['ps', '-aq', '--filter', 'label=labctl.lab=it-up']);
      if (c.out) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await child;
    rmSync(LAB_FILE);
    const r = await labctl(['down', '--lab', 'it-up']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await residue('it-up')).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  });

  it('serialises two concurrent ups of the same lab', async () => {
    copyFileSync(join(FIX, 'it-up.yml'), LAB_FILE);
    const [a, b] = await Promise.all([labctl(['up', '-f', LAB_FILE]), labctl(['up', '-f', LAB_FILE])]);
    expect([a.exitCode, b.exitCode], a.stderr + b.stderr).toEqual([0, 0]);
    expect(Object.keys(await ids('it-up')).sort()).toEqual(['client', 'db', 'web']);
    expect(await ping(await containerPid('labctl.it-up.client'), '10.61.1.10')).toBe(true);
    expect((await labctl(['down', '--lab', 'it-up'])).exitCode).toBe(0);
  });

  it('fails fast with the cause and the fix when Docker or OVS do not answer, creating nothing', async () => {
    copyFileSync(join(FIX, 'it-up.yml'), LAB_FILE);
    const noDocker = await labctl(['up', '-f', LAB_FILE], {
      env: { LABCTL_DOCKER_SOCKET: join(tmp, 'no-docker.sock') },
    });
    expect(noDocker.exitCode).toBe(2);
    expect(noDocker.stderr).toMatch(/Docker/);
    expect(noDocker.stderr).toMatch(/fix: .*labctl host start/);
    // OVS tools find their database through OVS_RUNDIR: an empty one is an ovsdb-server that does not answer.
    const noOvs = await labctl(['up', '-f', LAB_FILE], { env: { OVS_RUNDIR: tmp } });
    expect(noOvs.exitCode).toBe(2);
    expect(noOvs.stderr).toMatch(/ovsdb|Open vSwitch|OVS/i);
    expect(noOvs.stderr).toMatch(/fix: /);
    expect(await residue('it-up')).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  });
});
