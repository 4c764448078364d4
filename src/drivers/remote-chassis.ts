/**
 * Remote chassis (docs/multichassis.md "Remote chassis"): a real machine reached over ssh (drivers/ssh.ts) whose
 * own OVS and ovn-controller (started by `labctl host start --chassis NAME`, host/remote.ts) join the lab's central.
 *
 * - The lab's SB is served to remote chassis over SSL only, with OVN RBAC: a lab CA (ovs-pki, in the lab's runtime
 *   directory, so `down` removes it), an SB certificate, and per remote chassis a certificate whose CN is its
 *   system-id; the SB's Connection row is `pssl:6642:<central_ip>` with role=ovn-controller. No TCP listener.
 * - Keys and certificates are copied to the remote over the ssh session into /var/lib/labctl/chassis/<lab>/.
 * - Every command on the remote is an argv array (quoted by ssh.ts); names are validated before they get there.
 * - What labctl changes on the remote is recorded first in <run dir>/labs/<lab>/remote.json, so `down` finds and
 *   undoes it even after a crash and without the lab file.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { LabctlError } from '../errors.js';
import { run } from '../exec.js';
import { assertArg } from '../names.js';
import { centralPaths, chassisNaming, labRunDir } from '../plan/chassis-naming.js';
import { EXTID_LAB, LABEL_CHASSIS, type PlanChassis, type PlanUnderlay } from '../plan/types.js';
import { chassisOvsArgs } from './chassis-ovs.js';
import { type ContainerDriver, dockerContainers } from './containers.js';
import { loadDockerode } from './docker-client.js';
import type { HostDriver } from './host.js';
import { localLinks } from './links.js';
import { joinCommands, localOvs } from './ovs.js';
import type { RelayDriver } from './relay.js';
import { dockerOverSsh, parseSshTarget, type SshSession, type SshTarget, sshSession } from './ssh.js';

/** The SB's SSL port (OVN's usual one); remote chassis connect to ssl:<central_ip>:SB_SSL_PORT. */
export const SB_SSL_PORT = 6642;
/** Where a remote chassis keeps the lab's key, certificate and CA certificate. */
export const remoteLabDir = (lab: string) => `/var/lib/labctl/chassis/${lab}`;

const labName = (lab: string) => assertArg(lab, 'lab name', /^[a-z0-9-]+$/);

export function remoteTargetOf(
  ch: Pick<PlanChassis, 'ssh' | 'sshKey' | 'knownHosts' | 'hostKey'>,
): SshTarget {
  if (!ch.ssh) throw new Error('remote chassis without ssh');
  return parseSshTarget(ch.ssh, {
    ...(ch.sshKey ? { key: ch.sshKey } : {}),
    ...(ch.knownHosts ? { knownHosts: ch.knownHosts } : {}),
    ...(ch.hostKey === 'accept-new' || process.env.LABCTL_SSH_ACCEPT_NEW === '1' ? { acceptNew: true } : {}),
  });
}

// ---- the lab's PKI and the central's SSL listener

export function pkiPaths(lab: string) {
  const dir = join(labRunDir(lab), 'pki');
  return {
    dir,
    caDir: join(dir, 'ca'),
    caCert: join(dir, 'ca', 'switchca', 'cacert.pem'),
    key: (name: string) => join(dir, `${name}-privkey.pem`),
    cert: (name: string) => join(dir, `${name}-cert.pem`),
  };
}

/** The lab CA, the SB's certificate and one per remote chassis (CN = its system-id). Idempotent. */
export async function ensurePki(lab: string, systemIds: string[]): Promise<void> {
  const p = pkiPaths(labName(lab));
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  const pki = (args: string[]) =>
    run('ovs-pki', ['-d', p.caDir, '-l', join(p.dir, 'ovs-pki.log'), ...args], {
      cwd: p.dir,
      timeoutMs: 60_000,
    });
  if (!existsSync(p.caCert)) {
    rmSync(p.caDir, { recursive: true, force: true });
    await pki(['init']);
  }
  for (const name of ['sb', ...systemIds]) {
    assertArg(name, 'certificate name', /^[a-z0-9][a-z0-9.-]*$/);
    if (existsSync(p.cert(name))) continue;
    // a half-made request of an interrupted run would make ovs-pki refuse
    for (const f of [p.key(name), join(p.dir, `${name}-req.pem`)]) rmSync(f, { force: true });
    await pki(['-u', 'req+sign', name, 'switch']);
  }
}

/**
 * The central's SB over SSL for remote chassis: the underlay bridge gets central_ip, the SB its key, certificate and
 * CA, and one Connection `pssl:6642:<central_ip>` with role=ovn-controller (RBAC). set-connection replaces every
 * other Connection row, so nothing else listens.
 */
export async function ensureCentralSsl(lab: string, underlay: PlanUnderlay): Promise<void> {
  const ip = underlay.centralIp;
  if (!ip) throw new Error(`lab ${lab} has remote chassis but no central_ip`);
  assertArg(ip, 'central address', /^[0-9.]+$/);
  await run(
    'ip',
    [
      '-n',
      underlay.netns,
      'addr',
      'replace',
      `${ip}/${underlay.prefix}`,
      'dev',
      chassisNaming.underlayBridge,
    ],
    {
      timeoutMs: 10_000,
    },
  );
  // The SB's TCP replies leave through the bridge: their checksums must be complete (not left to an offload), or the
  // remote's userspace datapath hands its kernel segments with bad checksums, which it drops (ICMP still passes).
  await run(
    'ip',
    ['netns', 'exec', underlay.netns, 'ethtool', '-K', chassisNaming.underlayBridge, 'tx', 'off'],
    {
      timeoutMs: 10_000,
    },
  );
  const p = pkiPaths(lab);
  const sb = ['--timeout=10', `--db=unix:${centralPaths(lab).sbSock}`];
  await run('ovn-sbctl', [...sb, 'set-ssl', p.key('sb'), p.cert('sb'), p.caCert], { timeoutMs: 15_000 });
  await run('ovn-sbctl', [...sb, 'set-connection', 'role=ovn-controller', sbSslTarget(ip, true)], {
    timeoutMs: 15_000,
  });
}

export const sbSslTarget = (ip: string, listen = false) =>
  listen ? `pssl:${SB_SSL_PORT}:${ip}` : `ssl:${ip}:${SB_SSL_PORT}`;

/** The host interface given as underlay.uplink joins the underlay bridge (moved into the lab's namespace). */
export async function ensureUnderlayUplink(underlay: PlanUnderlay): Promise<void> {
  const dev = underlay.uplink;
  if (!dev) return;
  assertArg(dev, 'interface name');
  const inNs = await run('ip', ['-n', underlay.netns, 'link', 'show', 'dev', dev], {
    reject: false,
    timeoutMs: 10_000,
  });
  if (inNs.exitCode !== 0) {
    const r = await run('ip', ['link', 'set', 'dev', dev, 'netns', underlay.netns], {
      reject: false,
      timeoutMs: 10_000,
    });
    if (r.exitCode !== 0)
      throw new LabctlError(
        'environment',
        `cannot move underlay.uplink ${dev} into ${underlay.netns}: ${r.stderr.trim()}`,
        {
          hint: `ip link show ${dev}   (underlay.uplink must be an interface of this host)`,
        },
      );
  }
  await run('ip', ['-n', underlay.netns, '-batch', '-'], {
    input: `link set dev ${dev} mtu ${underlay.mtu}\nlink set dev ${dev} master ${chassisNaming.underlayBridge}\nlink set dev ${dev} up\n`,
    timeoutMs: 10_000,
  });
}

/** Give the underlay uplink back to this host's namespace (before the lab's namespace is deleted). */
export async function releaseUnderlayUplink(netns: string, dev: string): Promise<void> {
  assertArg(dev, 'interface name');
  await run('ip', ['-n', netns, 'link', 'set', 'dev', dev, 'nomaster'], { reject: false, timeoutMs: 10_000 });
  await run('ip', ['-n', netns, 'link', 'set', 'dev', dev, 'netns', '1'], {
    reject: false,
    timeoutMs: 10_000,
  });
}

// ---- the record down works from

export interface RemoteRecord {
  name: string;
  systemId: string;
  ssh: string;
  sshKey?: string;
  knownHosts?: string;
  hostKey?: 'strict' | 'accept-new';
  uplink?: string;
}

export interface RemoteFile {
  chassis: RemoteRecord[];
  underlay?: { netns: string; uplink?: string };
}

/** What down needs to reach a remote chassis again (remote.json, or the saved plan when that file is gone). */
export function remoteRecordOf(c: PlanChassis): RemoteRecord {
  return {
    name: c.name,
    systemId: c.systemId,
    ssh: c.ssh!,
    ...(c.sshKey ? { sshKey: c.sshKey } : {}),
    ...(c.knownHosts ? { knownHosts: c.knownHosts } : {}),
    ...(c.hostKey ? { hostKey: c.hostKey } : {}),
    ...(c.uplink ? { uplink: c.uplink } : {}),
  };
}

const recordFile = (lab: string) => join(labRunDir(lab), 'remote.json');

export function saveRemoteRecord(lab: string, chassis: PlanChassis[], underlay: PlanUnderlay): void {
  mkdirSync(labRunDir(labName(lab)), { recursive: true, mode: 0o700 });
  const rec: RemoteFile = {
    chassis: chassis.filter((c) => c.kind === 'remote').map(remoteRecordOf),
    underlay: { netns: underlay.netns, ...(underlay.uplink ? { uplink: underlay.uplink } : {}) },
  };
  writeFileSync(recordFile(lab), `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
}

export function writeRemoteRecord(lab: string, rec: RemoteFile): void {
  mkdirSync(labRunDir(labName(lab)), { recursive: true, mode: 0o700 });
  writeFileSync(recordFile(lab), `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
}

export function loadRemoteRecord(lab: string): RemoteFile | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(labName(lab)), 'utf8')) as RemoteFile;
  } catch {
    return undefined;
  }
}

// ---- one remote chassis

const OVS_TIMEOUT = '--timeout=20';

/** Do the remote's ovsdb-server, ovs-vswitchd and ovn-controller answer? The names of those that do not. */
export async function remoteDaemonsDown(s: SshSession): Promise<string[]> {
  const probes: [string, string, string[]][] = [
    ['ovsdb-server', 'ovs-appctl', ['-T', '5', '-t', 'ovsdb-server', 'version']],
    ['ovs-vswitchd', 'ovs-appctl', ['-T', '5', '-t', 'ovs-vswitchd', 'version']],
    ['ovn-controller', 'ovn-appctl', ['-T', '5', '-t', 'ovn-controller', 'version']],
  ];
  const up = await Promise.all(
    probes.map(
      async ([, file, args]) =>
        (await s.run(file, args, { reject: false, timeoutMs: 10_000 })).exitCode === 0,
    ),
  );
  const down = probes.filter((_, i) => !up[i]).map(([name]) => name);
  return down;
}

/**
 * Before anything of the lab is made: the remote answers over ssh and its daemons run. Errors name the chassis and
 * the command that fixes it.
 */
export async function preflightRemote(ch: PlanChassis, labFile: string): Promise<void> {
  let down: string[];
  try {
    down = await remoteDaemonsDown(sshSession(remoteTargetOf(ch)));
  } catch (err) {
    const e = err as Error & { hint?: string };
    throw new LabctlError('environment', `remote chassis ${ch.name} (${ch.ssh}): ${e.message}`, {
      hint: e.hint ?? `labctl host check --chassis ${ch.name} -f ${labFile}`,
      cause: err,
    });
  }
  if (down.length)
    throw new LabctlError(
      'environment',
      `remote chassis ${ch.name} (${ch.ssh}): ${down.join(', ')} not running`,
      {
        hint: `labctl host start --chassis ${ch.name} -f ${labFile}   (labctl host install … first on a new machine)`,
      },
    );
}

/**
 * Configure one remote chassis for the lab: the lab's key, certificate and CA copied over; its OVS's SSL settings,
 * system-id, ovn-remote (ssl: to the central), encap; br-int, and with uplink: br-phy carrying encap_ip (userspace
 * datapath). Refuses a machine that another lab configured. Idempotent.
 */
export async function ensureRemoteChassis(
  lab: string,
  ch: PlanChassis,
  underlay: PlanUnderlay,
  s: SshSession,
  hostFix: string,
): Promise<void> {
  labName(lab);
  const down = await remoteDaemonsDown(s);
  if (down.length)
    throw new LabctlError(
      'environment',
      `remote chassis ${ch.name} (${ch.ssh}): ${down.join(', ')} not running`,
      {
        hint: hostFix,
      },
    );
  const vsctl = (args: string[]) => s.run('ovs-vsctl', [OVS_TIMEOUT, ...args], { timeoutMs: 25_000 });
  const owner = (
    await vsctl(['--if-exists', 'get', 'Open_vSwitch', '.', `external_ids:${EXTID_LAB}`])
  ).stdout.replaceAll('"', '');
  if (owner && owner !== lab)
    throw new LabctlError(
      'environment',
      `remote chassis ${ch.name} (${ch.ssh}) is a chassis of lab ${owner}`,
      {
        hint: `labctl down --lab ${owner}   (one lab per remote machine at a time)`,
      },
    );
  const dir = remoteLabDir(lab);
  const p = pkiPaths(lab);
  const key = `${dir}/privkey.pem`;
  const cert = `${dir}/cert.pem`;
  const ca = `${dir}/cacert.pem`;
  // mark the machine first: down undoes what carries the mark, even if the rest of this is interrupted
  await vsctl(['--no-wait', 'set', 'Open_vSwitch', '.', `external_ids:${EXTID_LAB}=${lab}`]);
  await s.writeFile(key, readFileSync(p.key(ch.systemId)), 0o600);
  await s.writeFile(cert, readFileSync(p.cert(ch.systemId)), 0o644);
  await s.writeFile(ca, readFileSync(p.caCert), 0o644);
  const datapath = ch.uplink ? 'netdev' : 'system';
  await vsctl([
    'set-ssl',
    key,
    cert,
    ca,
    '--',
    ...chassisOvsArgs({
      systemId: ch.systemId,
      ovnRemote: sbSslTarget(underlay.centralIp!),
      encapIp: ch.encapIp,
      datapath,
      ...(ch.uplink ? { uplink: ch.uplink } : {}),
      mtu: underlay.mtu,
      lab,
    }),
  ]);
  if (ch.uplink)
    await s.run('ip', ['-batch', '-'], {
      input: `link set dev ${ch.uplink} mtu ${underlay.mtu}\nlink set dev ${ch.uplink} up\naddr replace ${ch.encapIp}/${underlay.prefix} dev br-phy\nlink set dev br-phy up\n`,
      timeoutMs: 10_000,
    });
  // br-phy is a tap into the userspace datapath: the remote's own TCP (ovn-controller's SSL to the SB) must leave it
  // with full checksums (the checksum trap of ../shared/docs/multichassis.md, on the machine's own traffic)
  if (ch.uplink) await s.run('ethtool', ['-K', 'br-phy', 'tx', 'off'], { timeoutMs: 10_000 });
}

export interface RemoteTeardown {
  containers: number;
  ovsPorts: number;
  veths: number;
}

/**
 * Undo what `up` did on a remote chassis: the lab's containers (by label, on the remote's Docker), OVS ports and
 * bridges carrying the lab's mark, veths with the lab's alias, the chassis keys of Open_vSwitch, the SSL settings
 * and the key/certificate directory. Tolerates a machine where some or all of it is already gone.
 */
export async function teardownRemoteChassis(lab: string, rec: RemoteRecord): Promise<RemoteTeardown> {
  labName(lab);
  const target = remoteTargetOf(rec);
  const s = sshSession(target);
  const docker = await remoteDocker(target);
  const containers = dockerContainers(docker);
  const cs = await containers.list(lab);
  for (const c of cs) await containers.remove(c.id);
  const vsctl = (args: string[]) =>
    s.run('ovs-vsctl', [OVS_TIMEOUT, ...args], { timeoutMs: 25_000, reject: false });
  const ovs = localOvs(undefined, s.run);
  const ports = await ovs.listLabInterfaces(lab).catch(() => []);
  const owner = (
    await vsctl(['--if-exists', 'get', 'Open_vSwitch', '.', `external_ids:${EXTID_LAB}`])
  ).stdout.replaceAll('"', '');
  const cmds: string[][] = ports.map((p) => ['--if-exists', 'del-port', assertArg(p.name, 'port name')]);
  if (owner === lab) {
    for (const br of ['br-int', 'br-phy']) {
      const mark = (
        await vsctl(['--if-exists', 'get', 'Bridge', br, `external_ids:${EXTID_LAB}`])
      ).stdout.replaceAll('"', '');
      if (mark === lab) cmds.push(['--if-exists', 'del-br', br]);
    }
    cmds.push(['del-ssl']);
    cmds.push([
      'remove',
      'Open_vSwitch',
      '.',
      'external_ids',
      'system-id',
      'hostname',
      'ovn-remote',
      'ovn-encap-type',
      'ovn-encap-ip',
      EXTID_LAB,
    ]);
  }
  if (cmds.length) {
    const r = await vsctl(['--no-wait', ...joinCommands(cmds)]);
    if (r.exitCode !== 0) throw new Error(`ovs-vsctl on ${rec.ssh}: ${r.stderr.trim()}`);
  }
  const links = localLinks(undefined, { run: s.run, perl: false });
  const veths = (await links.hostLinks('lv').catch(() => [])).filter((l) => l.alias === `labctl:${lab}`);
  await links.deleteHostLinks(veths.map((v) => v.name));
  await s.run('rm', ['-rf', '--', remoteLabDir(lab)], { timeoutMs: 10_000 });
  // the parent too, when no other lab's directory is left in it
  await s.run('rmdir', ['--ignore-fail-on-non-empty', '--', '/var/lib/labctl/chassis'], {
    reject: false,
    timeoutMs: 10_000,
  });
  return { containers: cs.length, ovsPorts: ports.length, veths: veths.length };
}

// ---- drivers

const dockers = new Map<string, Promise<Docker>>();

/** The remote's Docker through dockerode over ssh (one client per target). */
export function remoteDocker(t: SshTarget): Promise<Docker> {
  const id = `${t.user}@${t.host}:${t.port}`;
  let d = dockers.get(id);
  if (!d) {
    d = (async () => {
      quietUrlWarning();
      const Docker = await loadDockerode();
      const docker = new Docker(dockerOverSsh(t) as Docker.DockerOptions);
      try {
        await docker.ping();
      } catch (err) {
        throw new LabctlError(
          'environment',
          `Docker on ${t.host} does not answer over ssh (${(err as Error).message})`,
          {
            hint: `ssh ${t.user}@${t.host} docker system dial-stdio   (the docker CLI and a running dockerd are needed there; a non-root user must be in group docker)`,
          },
        );
      }
      return docker;
    })();
    d.catch(() => dockers.delete(id));
    dockers.set(id, d);
  }
  return d;
}

/**
 * docker-modem formats the ssh host through url.parse, which warns (DEP0170) about "ssh:<host>:<port>" on stderr
 * on every command: that one warning is dropped, every other warning still prints.
 */
function quietUrlWarning(): void {
  const emit = process.emitWarning.bind(process) as (...a: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const code = typeof args[1] === 'object' ? (args[1] as { code?: string } | null)?.code : args[2];
    if (code === 'DEP0170') return;
    emit(...args);
  }) as typeof process.emitWarning;
}

function noRelays(chassis: string): RelayDriver {
  const refuse = (): never => {
    throw new LabctlError('invalid-lab', `impairments are not supported on remote chassis ${chassis}`, {
      hint: 'drop impair: from the lab file (docs/impairments.md)',
    });
  };
  return { list: () => [], start: async () => refuse(), update: () => refuse(), stop: async () => {} };
}

/** The HostDriver of a remote chassis: its Docker over ssh, `ip`/`ethtool`/`nsenter` and its OVS over ssh. */
export function remoteHost(ch: PlanChassis, scoped: boolean): HostDriver {
  const t = remoteTargetOf(ch);
  const s = sshSession(t);
  const images = new Map<string, Promise<void>>();
  // connected on first use
  const d = async () =>
    dockerContainers(await remoteDocker(t), scoped ? { [LABEL_CHASSIS]: ch.name } : undefined);
  const containers: ContainerDriver = {
    list: async (lab) => (await d()).list(lab),
    create: async (node) => {
      // the image on the remote's own Docker (built or pulled there when missing), once per image
      let img = images.get(node.image);
      if (!img) {
        img = (async () => {
          const { ensureImage } = await import('../images/ensure-image.js');
          await ensureImage(await remoteDocker(t), node.image, node.build ? { build: node.build } : {});
        })();
        images.set(node.image, img);
        img.catch(() => images.delete(node.image));
      }
      await img;
      return (await d()).create(node);
    },
    start: async (id) => (await d()).start(id),
    pid: async (id) => (await d()).pid(id),
    remove: async (id) => (await d()).remove(id),
  };
  return {
    name: ch.name,
    containers,
    links: localLinks(undefined, { run: s.run, perl: false }),
    ovs: localOvs(undefined, s.run),
    chassis: async () => ch.systemId,
    relays: noRelays(ch.name),
    // its own ovs-vswitchd at the default paths on that machine, reached over ssh (conntrack flushes after a move)
    datapath: { runner: s.run },
  };
}

/** A remote chassis's daemons and SB connection, as the doctor reads them over ssh. */
export async function remoteChassisState(
  ch: PlanChassis,
): Promise<{ down: string[]; sb: string | undefined }> {
  const s = sshSession(remoteTargetOf(ch));
  const down = await remoteDaemonsDown(s);
  if (down.includes('ovn-controller')) return { down, sb: undefined };
  const r = await s.run('ovn-appctl', ['-T', '3', '-t', 'ovn-controller', 'connection-status'], {
    reject: false,
    timeoutMs: 8_000,
  });
  return { down, sb: r.exitCode === 0 ? r.stdout.trim() : undefined };
}

/** The runner of a remote chassis (its ssh session). */
export const remoteRunner = (ch: PlanChassis) => sshSession(remoteTargetOf(ch)).run;

/** The OVS database of a remote chassis, on that machine (labctl status --json). */
export const REMOTE_OVS_DB = 'unix:/var/run/openvswitch/db.sock';

/** The remote's OVS database, over ssh. */
export const remoteOvs = (ch: PlanChassis) => localOvs(undefined, remoteRunner(ch));

/** Pids of a remote chassis's daemons (from their pidfiles), for those that answer. */
export async function remoteDaemonPids(
  ch: PlanChassis,
): Promise<Record<'ovsdb-server' | 'ovs-vswitchd' | 'ovn-controller', number | undefined>> {
  const s = sshSession(remoteTargetOf(ch));
  const files = {
    'ovsdb-server': '/var/run/openvswitch/ovsdb-server.pid',
    'ovs-vswitchd': '/var/run/openvswitch/ovs-vswitchd.pid',
    'ovn-controller': '/var/run/ovn/ovn-controller.pid',
  } as const;
  const [down, cat] = await Promise.all([
    remoteDaemonsDown(s),
    // `path:pid` per readable pidfile
    s.run('grep', ['-H', '', ...Object.values(files)], { reject: false, timeoutMs: 10_000 }),
  ]);
  const byFile = new Map(
    cat.stdout
      .split('\n')
      .map((l) => [l.slice(0, l.lastIndexOf(':')), Number(l.slice(l.lastIndexOf(':') + 1))]),
  );
  const out: Record<string, number | undefined> = {};
  for (const [d, f] of Object.entries(files)) out[d] = down.includes(d) ? undefined : byFile.get(f);
  return out as Record<keyof typeof files, number | undefined>;
}
