/**
 * Simulated chassis (docs/multichassis.md): a multi-chassis lab's own OVN central and, per chassis, a network
 * namespace with its own ovsdb-server, ovs-vswitchd (datapath netdev) and ovn-controller, joined by geneve over
 * veths into a Linux bridge (the underlay) in the lab's own namespace. Nothing of the host's OVS/OVN is touched.
 *
 * Every process runs inside one of the lab's namespaces and is started with a pidfile under the lab's runtime
 * directory, so teardown finds each one by pidfile (checked against its command line) and then, as a net, every
 * process still inside a lab namespace (`ip netns pids`) — never by program name.
 *
 * Traps this works around (each measured, see ../shared/docs/multichassis.md):
 * - each chassis needs its own OVS_RUNDIR/OVN_RUNDIR: vswitchd listens on <rundir>/<bridge>.mgmt and
 *   ovn-controller 23.03 connects to unix:<OVS_RUNDIR>/br-int.mgmt; a shared one takes over the host's br-int.
 * - userspace tunnelling routes geneve only via an OVS port: the tunnel address lives on br-phy, whose port is the
 *   chassis's underlay veth.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from '../exec.js';
import { assertArg } from '../names.js';
import {
  centralPaths,
  chassisNaming,
  chassisPaths,
  isLabNetns,
  labRunDir,
  NETNS_PREFIX,
  RUN_DIR,
} from '../plan/chassis-naming.js';
import type { PlanChassis, PlanUnderlay } from '../plan/types.js';
import { chassisOvsArgs } from './chassis-ovs.js';

const VSWITCH_SCHEMA = [
  '/usr/share/openvswitch/vswitch.ovsschema',
  '/usr/local/share/openvswitch/vswitch.ovsschema',
];
const NB_SCHEMA = ['/usr/share/ovn/ovn-nb.ovsschema', '/usr/local/share/ovn/ovn-nb.ovsschema'];
const SB_SCHEMA = ['/usr/share/ovn/ovn-sb.ovsschema', '/usr/local/share/ovn/ovn-sb.ovsschema'];
/** Programs a simulated chassis needs on this machine. */
export const CHASSIS_PROGRAMS = [
  'ip',
  'ovsdb-tool',
  'ovsdb-server',
  'ovs-vsctl',
  'ovs-vswitchd',
  'ovs-appctl',
  'ovn-northd',
  'ovn-nbctl',
  'ovn-sbctl',
  'ovn-controller',
  'ovn-appctl',
];

const LOG_ARGS = ['-vconsole:off', '-vsyslog:off', '-vfile:info'];

export type ChassisDaemon = 'ovsdb-server' | 'ovs-vswitchd' | 'ovn-controller';
export type CentralDaemon = 'nb' | 'sb' | 'ovn-northd';
export const CHASSIS_DAEMONS: ChassisDaemon[] = ['ovsdb-server', 'ovs-vswitchd', 'ovn-controller'];
export const CENTRAL_DAEMONS: CentralDaemon[] = ['nb', 'sb', 'ovn-northd'];

function schema(candidates: string[]): string {
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`OVSDB schema not found (looked for ${candidates.join(', ')})`);
  return found;
}

const labName = (lab: string) => assertArg(lab, 'lab name', /^[a-z0-9-]+$/);

/** The pid a pidfile names, when that process is alive and was started for this lab (its argv names the lab dir). */
export function livePid(pidfile: string, lab: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidfile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return belongsToLab(pid, lab) ? pid : undefined;
}

function belongsToLab(pid: number, lab: string): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return argv.includes(`${labRunDir(lab)}/`);
  } catch {
    return false;
  }
}

const pidfileOf = (dir: string, daemon: string) => join(dir, `${daemon}.pid`);

/**
 * The namespaces of labs on this host (`labctl.<lab>` and `labctl.<lab>.<chassis>`), or of one lab: the names
 * `ip netns` keeps under /run/netns (read directly: `down` of every lab asks, and a spawn costs more).
 */
export async function listLabNetns(lab?: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => (lab === undefined ? n.startsWith(NETNS_PREFIX) : isLabNetns(lab, n)));
}

const NETNS_DIR = '/run/netns';

async function netnsExists(name: string): Promise<boolean> {
  return existsSync(join(NETNS_DIR, name));
}

async function ensureNetns(name: string): Promise<void> {
  assertArg(name, 'network namespace name');
  if (!(await netnsExists(name))) {
    const r = await run('ip', ['netns', 'add', name], { timeoutMs: 10_000, reject: false });
    if (r.exitCode !== 0 && !/File exists/.test(r.stderr))
      throw new Error(`ip netns add ${name}: ${r.stderr.trim()}`);
  }
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
}

/** Run a program inside a namespace (daemons detach; their pidfile is written before the parent returns). */
function inNetns(netns: string, file: string, args: string[], env?: Record<string, string>) {
  return run('ip', ['netns', 'exec', netns, file, ...args], {
    timeoutMs: 30_000,
    ...(env ? { env } : {}),
  });
}

async function createDb(file: string, schemaPath: string): Promise<void> {
  if (existsSync(file)) return;
  await run('ovsdb-tool', ['create', file, schemaPath], { timeoutMs: 10_000 });
}

/** Wait (bounded) until a unix socket exists. */
async function waitForSocket(path: string, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${what} did not open ${path} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The underlay: the lab's namespace with a Linux bridge the chassis's uplinks join. */
export async function ensureUnderlay(lab: string, underlay: PlanUnderlay): Promise<void> {
  labName(lab);
  mkdirSync(labRunDir(lab), { recursive: true, mode: 0o700 });
  await ensureNetns(underlay.netns);
  const br = chassisNaming.underlayBridge;
  const have = await run('ip', ['-n', underlay.netns, 'link', 'show', 'dev', br], {
    reject: false,
    timeoutMs: 10_000,
  });
  if (have.exitCode !== 0)
    await run(
      'ip',
      ['-n', underlay.netns, 'link', 'add', br, 'mtu', String(underlay.mtu), 'type', 'bridge'],
      {
        timeoutMs: 10_000,
      },
    );
  await run('ip', ['-n', underlay.netns, 'link', 'set', br, 'up'], { timeoutMs: 10_000 });
  // HA gateways' external networks: one more bridge each, which every chassis joins (the provider network)
  for (const x of underlay.external ?? []) {
    const xb = assertArg(x.bridge, 'interface name');
    const haveX = await run('ip', ['-n', underlay.netns, 'link', 'show', 'dev', xb], {
      reject: false,
      timeoutMs: 10_000,
    });
    if (haveX.exitCode !== 0)
      await run('ip', ['-n', underlay.netns, 'link', 'add', xb, 'type', 'bridge'], { timeoutMs: 10_000 });
    await run('ip', ['-n', underlay.netns, 'link', 'set', xb, 'up'], { timeoutMs: 10_000 });
  }
}

/** A veth from a chassis namespace into a bridge of the underlay namespace (made when missing), both ends up. */
async function ensureVethInto(
  ns: string,
  inner: string,
  underlayNs: string,
  outer: string,
  bridge: string,
  mtu?: number,
): Promise<void> {
  assertArg(inner, 'interface name');
  assertArg(outer, 'interface name');
  const have = await run('ip', ['-n', ns, 'link', 'show', 'dev', inner], {
    reject: false,
    timeoutMs: 10_000,
  });
  if (have.exitCode !== 0) {
    // a half-made pair of an interrupted run: its underlay end goes first
    await run('ip', ['-n', underlayNs, 'link', 'del', 'dev', outer], { reject: false, timeoutMs: 10_000 });
    const m = mtu ? ['mtu', String(mtu)] : [];
    await run(
      'ip',
      [
        'link',
        'add',
        inner,
        'netns',
        ns,
        ...m,
        'type',
        'veth',
        'peer',
        'name',
        outer,
        'netns',
        underlayNs,
        ...m,
      ],
      { timeoutMs: 10_000 },
    );
  }
  await run('ip', ['-n', underlayNs, '-batch', '-'], {
    input: `link set dev ${outer} master ${bridge}\nlink set dev ${outer} up\n`,
    timeoutMs: 10_000,
  });
  await run('ip', ['-n', ns, 'link', 'set', 'dev', inner, 'up'], { timeoutMs: 10_000 });
}

/** The lab's OVN central: NB and SB ovsdb-servers and ovn-northd on unix sockets, inside the underlay namespace. */
export async function ensureCentral(lab: string, netns: string): Promise<void> {
  const c = centralPaths(labName(lab));
  mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  await Promise.all([createDb(c.nbDb, schema(NB_SCHEMA)), createDb(c.sbDb, schema(SB_SCHEMA))]);
  const db = async (name: 'nb' | 'sb', file: string, sock: string) => {
    if (livePid(pidfileOf(c.dir, name), lab)) return;
    rmSync(sock, { force: true });
    await inNetns(netns, 'ovsdb-server', [
      file,
      `--remote=punix:${sock}`,
      // the SB's SSL listener for remote chassis, configured in the database (drivers/remote-chassis.ts)
      ...(name === 'sb'
        ? [
            '--remote=db:OVN_Southbound,SB_Global,connections',
            '--private-key=db:OVN_Southbound,SSL,private_key',
            '--certificate=db:OVN_Southbound,SSL,certificate',
            '--ca-cert=db:OVN_Southbound,SSL,ca_cert',
          ]
        : []),
      `--pidfile=${pidfileOf(c.dir, name)}`,
      `--unixctl=${join(c.dir, `${name}.ctl`)}`,
      `--log-file=${join(c.dir, `${name}.log`)}`,
      ...LOG_ARGS,
      '--detach',
      '--no-chdir',
    ]);
    await waitForSocket(sock, `the ${name.toUpperCase()} ovsdb-server of lab ${lab}`);
  };
  await Promise.all([db('nb', c.nbDb, c.nbSock), db('sb', c.sbDb, c.sbSock)]);
  // NB_Global must exist before northd has something to do (ovn-nbctl init is idempotent).
  await run('ovn-nbctl', ['--timeout=10', `--db=unix:${c.nbSock}`, '--no-wait', 'init'], {
    timeoutMs: 15_000,
  });
  if (!livePid(pidfileOf(c.dir, 'ovn-northd'), lab))
    await inNetns(netns, 'ovn-northd', [
      `--ovnnb-db=unix:${c.nbSock}`,
      `--ovnsb-db=unix:${c.sbSock}`,
      `--pidfile=${pidfileOf(c.dir, 'ovn-northd')}`,
      `--unixctl=${join(c.dir, 'ovn-northd.ctl')}`,
      `--log-file=${join(c.dir, 'ovn-northd.log')}`,
      ...LOG_ARGS,
      '--detach',
      '--no-chdir',
    ]);
}

const BFD_OPTIONS = { minRx: 'bfd-min-rx', minTx: 'bfd-min-tx', mult: 'bfd-mult' } as const;

/**
 * The tunnels' BFD timers (HA gateways' failure detection): NB_Global options of the lab's own central, which
 * northd copies to the SB and every ovn-controller puts on its tunnels' bfd column. Unset ones go back to OVS's
 * defaults (min_rx 1000 ms, min_tx 100 ms, mult 3).
 */
export async function setTunnelBfd(lab: string, bfd: PlanUnderlay['bfd']): Promise<void> {
  const c = centralPaths(labName(lab));
  const set: string[] = [];
  const remove: string[][] = [];
  for (const [key, opt] of Object.entries(BFD_OPTIONS) as [keyof typeof BFD_OPTIONS, string][]) {
    const v = bfd?.[key];
    if (v !== undefined) set.push(`options:${opt}=${Math.trunc(v)}`);
    else remove.push(['--', 'remove', 'NB_Global', '.', 'options', opt]);
  }
  await run(
    'ovn-nbctl',
    [
      '--timeout=10',
      `--db=unix:${c.nbSock}`,
      '--no-wait',
      ...(set.length ? ['set', 'NB_Global', '.', ...set] : ['sync']),
      ...remove.flat(),
    ],
    { timeoutMs: 15_000 },
  );
}

/**
 * One simulated chassis: its namespace, its uplink into the underlay, its OVS (br-int, br-phy with the encap
 * address) and its ovn-controller pointed at the lab's SB. Idempotent: what runs is left alone.
 */
export async function ensureChassis(lab: string, ch: PlanChassis, underlay: PlanUnderlay): Promise<void> {
  labName(lab);
  if (!ch.netns) throw new Error(`chassis ${ch.name} is not simulated`);
  const ns = ch.netns;
  const p = chassisPaths(lab, ch.name);
  mkdirSync(p.dir, { recursive: true, mode: 0o700 });
  await ensureNetns(ns);
  // The uplink: a veth from the chassis namespace into the underlay bridge, with the underlay's MTU on both ends.
  const up = chassisNaming.uplink;
  const port = assertArg(chassisNaming.underlayPort(ch.name), 'interface name');
  await ensureVethInto(ns, up, underlay.netns, port, chassisNaming.underlayBridge, underlay.mtu);
  for (const x of underlay.external ?? [])
    await ensureVethInto(ns, x.uplink, underlay.netns, `${x.portPrefix}${ch.name}`, x.bridge);
  await startChassisDaemons(lab, ch, underlay);
}

const rundirEnv = (dir: string) => ({ OVS_RUNDIR: dir, OVN_RUNDIR: dir, OVS_DBDIR: dir });

/** ovsdb-server, ovs-vswitchd and ovn-controller of one chassis (the ones not running), configured. */
export async function startChassisDaemons(
  lab: string,
  ch: PlanChassis,
  underlay: PlanUnderlay,
): Promise<void> {
  const ns = ch.netns!;
  const p = chassisPaths(lab, ch.name);
  const central = centralPaths(lab);
  await createDb(p.confDb, schema(VSWITCH_SCHEMA));
  const vsctl = (args: string[]) =>
    run('ovs-vsctl', ['--timeout=20', `--db=unix:${p.dbSock}`, ...args], { timeoutMs: 25_000 });
  if (!livePid(pidfileOf(p.dir, 'ovsdb-server'), lab)) {
    rmSync(p.dbSock, { force: true });
    await inNetns(ns, 'ovsdb-server', [
      p.confDb,
      `--remote=punix:${p.dbSock}`,
      `--pidfile=${pidfileOf(p.dir, 'ovsdb-server')}`,
      `--unixctl=${join(p.dir, 'ovsdb-server.ctl')}`,
      `--log-file=${join(p.dir, 'ovsdb-server.log')}`,
      ...LOG_ARGS,
      '--detach',
      '--no-chdir',
    ]);
    await waitForSocket(p.dbSock, `ovsdb-server of chassis ${ch.name}`);
    await vsctl(['--no-wait', 'init']);
  }
  if (!livePid(pidfileOf(p.dir, 'ovs-vswitchd'), lab))
    await inNetns(
      ns,
      'ovs-vswitchd',
      [
        `unix:${p.dbSock}`,
        `--pidfile=${pidfileOf(p.dir, 'ovs-vswitchd')}`,
        `--unixctl=${p.vswitchdCtl}`,
        `--log-file=${join(p.dir, 'ovs-vswitchd.log')}`,
        ...LOG_ARGS,
        '--detach',
        '--no-chdir',
      ],
      rundirEnv(p.dir),
    );
  // Waits for vswitchd to apply it, so br-phy's device exists for its address below.
  await vsctl(
    chassisOvsArgs({
      systemId: ch.systemId,
      ovnRemote: `unix:${central.sbSock}`,
      encapIp: ch.encapIp,
      datapath: 'netdev',
      uplink: chassisNaming.uplink,
      mtu: underlay.mtu,
    }),
  );
  // HA gateways' external networks: an OVS bridge per network holding the uplink into its bridge, mapped to the
  // network's localnet port (ovn-bridge-mappings)
  const external = underlay.external ?? [];
  if (external.length)
    await vsctl([
      'set',
      'Open_vSwitch',
      '.',
      `external_ids:ovn-bridge-mappings="${external.map((x) => `${x.physnet}:${x.ovsBridge}`).join(',')}"`,
      ...external.flatMap((x) => [
        '--',
        '--may-exist',
        'add-br',
        x.ovsBridge,
        '--',
        'set',
        'Bridge',
        x.ovsBridge,
        'datapath_type=netdev',
        '--',
        '--may-exist',
        'add-port',
        x.ovsBridge,
        x.uplink,
      ]),
    ]);
  await run('ip', ['-n', ns, '-batch', '-'], {
    input: `addr replace ${ch.encapIp}/${underlay.prefix} dev br-phy\nlink set dev br-phy up\n${external
      .map((x) => `link set dev ${x.ovsBridge} up\n`)
      .join('')}`,
    timeoutMs: 10_000,
  });
  if (!livePid(pidfileOf(p.dir, 'ovn-controller'), lab))
    await inNetns(
      ns,
      'ovn-controller',
      [
        `unix:${p.dbSock}`,
        `--pidfile=${pidfileOf(p.dir, 'ovn-controller')}`,
        `--log-file=${join(p.dir, 'ovn-controller.log')}`,
        ...LOG_ARGS,
        '--detach',
        '--no-chdir',
      ],
      rundirEnv(p.dir),
    );
}

/** Which of a chassis's daemons run (alive, started for this lab). */
export function chassisDaemons(lab: string, chassis: string): Record<ChassisDaemon, number | undefined> {
  const dir = chassisPaths(lab, chassis).dir;
  return {
    'ovsdb-server': livePid(pidfileOf(dir, 'ovsdb-server'), lab),
    'ovs-vswitchd': livePid(pidfileOf(dir, 'ovs-vswitchd'), lab),
    'ovn-controller': livePid(pidfileOf(dir, 'ovn-controller'), lab),
  };
}

export function centralDaemons(lab: string): Record<CentralDaemon, number | undefined> {
  const dir = centralPaths(lab).dir;
  return {
    nb: livePid(pidfileOf(dir, 'nb'), lab),
    sb: livePid(pidfileOf(dir, 'sb'), lab),
    'ovn-northd': livePid(pidfileOf(dir, 'ovn-northd'), lab),
  };
}

/** ovn-controller's control socket (23.03 has no --unixctl: <OVN_RUNDIR>/ovn-controller.<pid>.ctl). */
export function controllerCtl(lab: string, chassis: string): string | undefined {
  const pid = chassisDaemons(lab, chassis)['ovn-controller'];
  return pid ? join(chassisPaths(lab, chassis).dir, `ovn-controller.${pid}.ctl`) : undefined;
}

/** Stop processes: SIGTERM, then SIGKILL for those still alive after a bounded wait. */
async function stopPids(pids: number[], waitMs = 3000): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids)
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  const deadline = Date.now() + waitMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(alive))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
}

/** Stop one chassis's daemons (some or all), found by their pidfiles. */
export async function stopChassisDaemons(
  lab: string,
  chassis: string,
  which: ChassisDaemon[] = CHASSIS_DAEMONS,
): Promise<number> {
  const running = chassisDaemons(lab, chassis);
  const pids = which.map((d) => running[d]).filter((p): p is number => p !== undefined);
  await stopPids(pids);
  return pids.length;
}

export interface Teardown {
  processes: number;
  namespaces: number;
}

/**
 * Remove everything of a lab's simulated chassis: processes (by pidfile, then whatever still runs inside one of
 * its namespaces), namespaces (their veths go with them), and the runtime directory (databases, sockets, logs).
 */
export async function teardownChassisLab(lab: string): Promise<Teardown> {
  labName(lab);
  const dir = labRunDir(lab);
  const pids = new Set<number>();
  if (existsSync(dir))
    for (const sub of readdirSync(dir, { withFileTypes: true }))
      if (sub.isDirectory())
        for (const f of readdirSync(join(dir, sub.name)))
          if (f.endsWith('.pid')) {
            const pid = livePid(join(dir, sub.name, f), lab);
            if (pid) pids.add(pid);
          }
  const namespaces = await listLabNetns(lab);
  for (const ns of namespaces) for (const pid of await netnsPids(ns)) pids.add(pid);
  await stopPids([...pids]);
  // a second look: anything that got into a namespace meanwhile (a daemon an interrupted up was starting)
  const late = new Set<number>();
  for (const ns of namespaces) for (const pid of await netnsPids(ns)) late.add(pid);
  if (late.size) await stopPids([...late], 1000);
  for (const ns of namespaces) {
    const r = await run('ip', ['netns', 'del', ns], { reject: false, timeoutMs: 10_000 });
    if (r.exitCode !== 0 && (await netnsExists(ns)))
      throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  rmSync(dir, { recursive: true, force: true });
  return { processes: pids.size + late.size, namespaces: namespaces.length };
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await run('ip', ['netns', 'pids', ns], { reject: false, timeoutMs: 10_000 });
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1);
}

/** Does this lab have anything of a multi-chassis runtime on this host (directory or namespaces)? */
export async function chassisRuntimeExists(lab: string): Promise<boolean> {
  return existsSync(labRunDir(labName(lab))) || (await listLabNetns(lab)).length > 0;
}

/** Labs with a multi-chassis runtime directory on this host. */
export function runtimeLabs(): string[] {
  const dir = join(RUN_DIR, 'labs');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** What a simulated chassis needs from this machine; the missing ones. */
export function missingChassisPrerequisites(): string[] {
  const missing = CHASSIS_PROGRAMS.filter((p) => !which(p));
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun');
  return missing;
}
