/**
 * `labctl host install|start|check` on a remote chassis, over ssh (drivers/ssh.ts; docs/multichassis.md "Remote
 * chassis"). The machine gets Open vSwitch and ovn-controller (Debian/Ubuntu packages), and its ovsdb-server,
 * ovs-vswitchd and ovn-controller run at their default paths: through systemd where the machine runs it, else
 * started directly with pidfiles (ovs-vswitchd directly, never ovs-ctl, which would load the kernel module). Every
 * command is an argv array; `up` then configures the chassis for a lab (drivers/remote-chassis.ts).
 */

import type { SshSession } from '../drivers/ssh.js';
import { LabctlError } from '../errors.js';

export interface RemoteStep {
  id: string;
  ok: boolean;
  status: 'ok' | 'started' | 'installed' | 'missing' | 'down' | 'failed';
  detail: string;
}

/** Debian packages a remote chassis needs (docker CLI + engine are the machine owner's: checked, not installed). */
export const REMOTE_PACKAGES = ['openvswitch-switch', 'ovn-host', 'iproute2', 'ethtool', 'util-linux'];
const PROGRAMS = [
  'ovsdb-tool',
  'ovsdb-server',
  'ovs-vswitchd',
  'ovs-vsctl',
  'ovs-appctl',
  'ovn-controller',
  'ovn-appctl',
  'ip',
  'ethtool',
  'nsenter',
  'install',
];

const RUN = { ovs: '/var/run/openvswitch', ovn: '/var/run/ovn' };
const DB = '/etc/openvswitch/conf.db';
const DB_SOCK = `unix:${RUN.ovs}/db.sock`;
const SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';
const LOG_ARGS = ['-vconsole:off', '-vsyslog:off', '-vfile:info'];

async function missingPrograms(s: SshSession): Promise<string[]> {
  // one `which` for all (a program, run with an argv like everything else; `command -v` is a shell builtin)
  const r = await s.run('which', PROGRAMS, { reject: false, timeoutMs: 10_000 });
  const found = new Set(r.stdout.split('\n').map((l) => l.trim().split('/').pop()));
  return PROGRAMS.filter((p) => !found.has(p));
}

export async function remoteInstall(
  s: SshSession,
  log: (l: string) => void = () => undefined,
): Promise<RemoteStep[]> {
  const steps: RemoteStep[] = [];
  // dpkg-query's own ${field} format, passed literally (single-quoted on the remote)
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format syntax, not a template
  const q = await s.run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Status}\\n', ...REMOTE_PACKAGES], {
    reject: false,
    timeoutMs: 20_000,
  });
  const installed = new Set(
    q.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, st]) => st === 'installed')
      .map(([p]) => p),
  );
  const missing = REMOTE_PACKAGES.filter((p) => !installed.has(p));
  if (missing.length) {
    log(`${s.target.host}: apt-get install ${missing.join(' ')}`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await s.run('apt-get', ['update', '-q'], { env, timeoutMs: 300_000 });
    const r = await s.run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
      env,
      timeoutMs: 600_000,
      reject: false,
    });
    if (r.exitCode !== 0)
      throw new LabctlError(
        'environment',
        `apt-get install on ${s.target.host} failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        {
          hint: `ssh ${s.target.user}@${s.target.host} apt-get install ${missing.join(' ')}`,
        },
      );
    steps.push({ id: 'packages', ok: true, status: 'installed', detail: missing.join(' ') });
  } else
    steps.push({ id: 'packages', ok: true, status: 'ok', detail: `${REMOTE_PACKAGES.join(' ')} installed` });
  const docker = await s.run('docker', ['version', '--format', '{{.Client.Version}}'], {
    reject: false,
    timeoutMs: 20_000,
  });
  steps.push({
    id: 'docker',
    ok: docker.exitCode === 0,
    status: docker.exitCode === 0 ? 'ok' : 'missing',
    detail:
      docker.exitCode === 0
        ? `docker CLI ${docker.stdout.trim()}`
        : 'docker CLI not found: install Docker there (docker.io)',
  });
  return steps;
}

const answers = async (s: SshSession, file: string, target: string) =>
  (await s.run(file, ['-T', '5', '-t', target, 'version'], { reject: false, timeoutMs: 10_000 })).exitCode ===
  0;

async function hasSystemd(s: SshSession): Promise<boolean> {
  return (
    (await s.run('test', ['-d', '/run/systemd/system'], { reject: false, timeoutMs: 10_000 })).exitCode === 0
  );
}

/** Start whatever of ovsdb-server, ovs-vswitchd and ovn-controller does not answer. Idempotent. */
export async function remoteStart(
  s: SshSession,
  log: (l: string) => void = () => undefined,
): Promise<RemoteStep[]> {
  const missing = await missingPrograms(s);
  if (missing.length)
    throw new LabctlError('environment', `${s.target.host} lacks ${missing.join(', ')}`, {
      hint: `labctl host install --ssh ${s.target.user}@${s.target.host}`,
    });
  const steps: RemoteStep[] = [];
  const systemd = await hasSystemd(s);
  const daemon = async (id: string, file: string, target: string, start: () => Promise<void>) => {
    if (await answers(s, file, target)) {
      steps.push({ id, ok: true, status: 'ok', detail: 'running' });
      return;
    }
    log(`${s.target.host}: starting ${id}`);
    await start();
    for (let i = 0; i < 40 && !(await answers(s, file, target)); i++)
      await new Promise((r) => setTimeout(r, 250));
    const ok = await answers(s, file, target);
    if (!ok)
      throw new LabctlError('environment', `${id} on ${s.target.host} did not start`, {
        hint: `ssh ${s.target.user}@${s.target.host} tail /var/log/${id.startsWith('ovn') ? 'ovn' : 'openvswitch'}/${id}.log`,
      });
    steps.push({ id, ok: true, status: 'started', detail: systemd ? 'systemd' : 'pidfile' });
  };
  const sh = (file: string, args: string[]) => s.run(file, args, { timeoutMs: 60_000 }).then(() => undefined);
  if (systemd) {
    await daemon('ovsdb-server', 'ovs-appctl', 'ovsdb-server', () =>
      sh('systemctl', ['start', 'ovsdb-server']),
    );
    await daemon('ovs-vswitchd', 'ovs-appctl', 'ovs-vswitchd', () =>
      sh('systemctl', ['start', 'ovs-vswitchd']),
    );
    await datapathType(s, steps);
    await daemon('ovn-controller', 'ovn-appctl', 'ovn-controller', () =>
      sh('systemctl', ['start', 'ovn-controller']),
    );
    return steps;
  }
  await sh('mkdir', ['-p', RUN.ovs, RUN.ovn, '/etc/openvswitch', '/var/log/openvswitch', '/var/log/ovn']);
  await daemon('ovsdb-server', 'ovs-appctl', 'ovsdb-server', async () => {
    if ((await s.run('test', ['-e', DB], { reject: false })).exitCode !== 0)
      await sh('ovsdb-tool', ['create', DB, SCHEMA]);
    await sh('ovsdb-server', [
      DB,
      `--remote=p${DB_SOCK}`,
      '--remote=db:Open_vSwitch,Open_vSwitch,manager_options',
      '--private-key=db:Open_vSwitch,SSL,private_key',
      '--certificate=db:Open_vSwitch,SSL,certificate',
      '--bootstrap-ca-cert=db:Open_vSwitch,SSL,ca_cert',
      '--pidfile',
      '--log-file',
      ...LOG_ARGS,
      '--detach',
      '--no-chdir',
    ]);
    await sh('ovs-vsctl', ['--no-wait', 'init']);
  });
  await daemon('ovs-vswitchd', 'ovs-appctl', 'ovs-vswitchd', () =>
    sh('ovs-vswitchd', [DB_SOCK, '--pidfile', '--log-file', ...LOG_ARGS, '--detach', '--no-chdir']),
  );
  await datapathType(s, steps);
  await daemon('ovn-controller', 'ovn-appctl', 'ovn-controller', () =>
    sh('ovn-controller', [DB_SOCK, '--pidfile', '--log-file', ...LOG_ARGS, '--detach', '--no-chdir']),
  );
  return steps;
}

/**
 * The bridges ovn-controller makes (br-int) need a datapath this machine has: without the openvswitch kernel module,
 * the userspace one (netdev). Set once, when unset; a lab's up may set it again (docs/multichassis.md).
 */
async function datapathType(s: SshSession, steps: RemoteStep[]): Promise<void> {
  const key = 'external_ids:ovn-bridge-datapath-type';
  const cur = await s.run('ovs-vsctl', ['--timeout=10', '--if-exists', 'get', 'Open_vSwitch', '.', key], {
    reject: false,
    timeoutMs: 15_000,
  });
  const have = cur.stdout.trim().replaceAll('"', '');
  if (have) {
    steps.push({ id: 'datapath', ok: true, status: 'ok', detail: have });
    return;
  }
  const kmod = (await s.run('test', ['-d', '/sys/module/openvswitch'], { reject: false })).exitCode === 0;
  const dp = kmod ? 'system' : 'netdev';
  await s.run('ovs-vsctl', ['--timeout=10', '--no-wait', 'set', 'Open_vSwitch', '.', `${key}=${dp}`], {
    timeoutMs: 15_000,
  });
  steps.push({
    id: 'datapath',
    ok: true,
    status: 'started',
    detail: `${dp} (kernel module ${kmod ? 'loaded' : 'absent'})`,
  });
}

/** ssh, programs, daemons, Docker, and the SB connection of the remote's ovn-controller. */
export async function remoteCheck(s: SshSession): Promise<RemoteStep[]> {
  const steps: RemoteStep[] = [];
  const who = await s.run('id', ['-u'], { reject: false, timeoutMs: 10_000 });
  steps.push({
    id: 'ssh',
    ok: who.exitCode === 0 && who.stdout.trim() === '0',
    status: who.exitCode === 0 && who.stdout.trim() === '0' ? 'ok' : 'failed',
    detail:
      who.exitCode === 0
        ? `as ${s.target.user}, commands run as uid ${who.stdout.trim()}`
        : who.stderr.trim(),
  });
  const missing = await missingPrograms(s);
  steps.push({
    id: 'programs',
    ok: !missing.length,
    status: missing.length ? 'missing' : 'ok',
    detail: missing.length ? `missing: ${missing.join(', ')}` : PROGRAMS.join(' '),
  });
  for (const [id, file] of [
    ['ovsdb-server', 'ovs-appctl'],
    ['ovs-vswitchd', 'ovs-appctl'],
    ['ovn-controller', 'ovn-appctl'],
  ] as const) {
    const ok = await answers(s, file, id);
    steps.push({ id, ok, status: ok ? 'ok' : 'down', detail: ok ? 'running' : 'not running' });
  }
  const conn = await s.run('ovn-appctl', ['-T', '5', '-t', 'ovn-controller', 'connection-status'], {
    reject: false,
    timeoutMs: 10_000,
  });
  const remote = await s.run(
    'ovs-vsctl',
    ['--timeout=5', '--if-exists', 'get', 'Open_vSwitch', '.', 'external_ids:ovn-remote'],
    {
      reject: false,
      timeoutMs: 10_000,
    },
  );
  const sb = remote.stdout.trim().replaceAll('"', '');
  steps.push({
    id: 'southbound',
    // informational until a lab configures the chassis
    ok: true,
    status: conn.stdout.trim() === 'connected' ? 'ok' : 'down',
    detail: sb ? `${sb}: ${conn.stdout.trim() || 'no answer'}` : 'no lab configured (ovn-remote unset)',
  });
  const docker = await s.run('docker', ['version', '--format', '{{.Server.Version}}'], {
    reject: false,
    timeoutMs: 20_000,
  });
  steps.push({
    id: 'docker',
    ok: docker.exitCode === 0,
    status: docker.exitCode === 0 ? 'ok' : 'down',
    detail:
      docker.exitCode === 0
        ? `dockerd ${docker.stdout.trim()}`
        : (docker.stderr.trim().split('\n')[0] ?? 'no answer'),
  });
  return steps;
}

export function renderRemoteSteps(host: string, steps: RemoteStep[]): string {
  const w = Math.max(...steps.map((s) => s.id.length));
  return `${steps.map((s) => `${s.ok ? 'ok  ' : 'FAIL'}  ${host}  ${s.id.padEnd(w)}  ${s.status === 'ok' ? '' : `${s.status}: `}${s.detail}`).join('\n')}\n`;
}
