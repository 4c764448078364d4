/**
 * `labctl host check | install | start | stop`: the prerequisites and the embedded control plane (docs/host.md).
 * check: one row per component, exit 0 when every required row is ok, 2 otherwise.
 */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { type HostControlResult, startHost, stopHost } from '../host/control.js';
import { installHost } from '../host/install.js';
import type { Datapath } from '../host/plan.js';
import { probeHost } from '../host/probe.js';
import type { HostCheck, HostReport } from '../host/report.js';
import { printJson } from './output.js';

const EXIT_ENV = 2;

function status(c: HostCheck): string {
  if (c.ok) return 'ok';
  if (!c.required) return c.id === 'kernel.openvswitch' ? 'absent' : 'warn';
  return c.blockedBy ? 'skip' : 'FAIL';
}

export function renderHostReport(report: HostReport): string {
  const rows = report.checks.map((c) => [status(c), c.title, c.detail] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${status(c).padEnd(w0)}  ${c.title.padEnd(w1)}  ${c.detail}`);
    if (!c.ok && c.required && !c.blockedBy) {
      lines.push(`${''.padEnd(w0)}  ${''.padEnd(w1)}  cause: ${c.cause}   fix: ${c.fix}`);
    }
  }
  const failed = report.checks.filter((c) => c.required && !c.ok && !c.blockedBy);
  lines.push('');
  lines.push(
    report.ok
      ? `host ready: chassis ${report.chassis ?? '?'}, datapath ${report.datapath}, southbound ${report.remote}`
      : `host not ready: ${failed.map((c) => c.title).join(', ')}; fix: ${failed[0]?.fix ?? 'labctl host start'}`,
  );
  return `${lines.join('\n')}\n`;
}

function controlJson(r: HostControlResult) {
  return {
    ok: r.ok,
    changed: r.changed,
    chassis: r.report.chassis,
    ...(r.datapath ? { datapath: r.datapath } : {}),
    steps: r.steps,
    report: r.report,
  };
}

export function registerHost(program: Command): void {
  const host = program
    .command('host')
    .description('prerequisites and the embedded OVS/OVN control plane of this host');

  host
    .command('check')
    .description(
      'what is present and running: dockerd, OVS, OVN central and controller, chassis keys, br-int, tools',
    )
    .option('--json', 'print the report as JSON')
    .option('--remote <remote>', 'southbound remote to check against (default: the configured ovn-remote)')
    .action(async (opts: { json?: boolean; remote?: string } & RemoteOpts) => {
      if (isRemote(opts)) return remoteAction('check', opts);
      const report = await probeHost(opts.remote ? { remote: opts.remote } : {});
      if (opts.json) printJson(report);
      else process.stdout.write(renderHostReport(report));
      if (!report.ok) process.exitCode = EXIT_ENV;
    });

  host
    .command('install')
    .description(
      'Debian/Ubuntu: apt-get install the missing packages (docker.io, openvswitch-switch, ovn-central, ovn-host, …)',
    )
    .action(async (opts: RemoteOpts) => {
      if (isRemote(opts)) return remoteAction('install', opts);
      await installHost({ log: (l) => process.stdout.write(`${l}\n`) });
    });

  host
    .command('start')
    .description(
      'start whatever is not running (dockerd, ovsdb-server, ovs-vswitchd, OVN central, ovn-controller); idempotent',
    )
    .option(
      '--datapath <type>',
      'auto | system | netdev (system needs the openvswitch kernel module; default: LABCTL_DATAPATH, else auto)',
    )
    .option('--encap-ip <ip>', 'tunnel endpoint address of this chassis (default: keep, else 127.0.0.1)')
    .option('--encap-type <type>', 'geneve | vxlan | stt (default: keep, else geneve)')
    .option(
      '--remote <remote>',
      'southbound DB of an existing OVN central (default: keep, else the embedded one)',
    )
    .option('--json', 'print the steps and the final report as JSON')
    .action(
      async (
        opts: {
          datapath?: Datapath;
          encapIp?: string;
          encapType?: string;
          remote?: string;
          json?: boolean;
        } & RemoteOpts,
      ) => {
        if (isRemote(opts)) return remoteAction('start', opts);
        const result = await startHost({
          ...(opts.datapath ? { datapath: opts.datapath } : {}),
          ...(opts.encapIp ? { encapIp: opts.encapIp } : {}),
          ...(opts.encapType ? { encapType: opts.encapType } : {}),
          ...(opts.remote ? { remote: opts.remote } : {}),
          log: opts.json ? undefined : (l) => process.stdout.write(`${l}\n`),
        });
        if (opts.json) printJson(controlJson(result));
        else
          process.stdout.write(
            `host ready: chassis ${result.report.chassis}, datapath ${result.datapath?.datapath ?? result.report.datapath}${result.changed ? '' : ' (nothing to do)'}\n`,
          );
      },
    );

  for (const name of ['check', 'install', 'start'])
    remoteOptions(host.commands.find((c) => c.name() === name)!);

  host
    .command('stop')
    .description(
      'stop ovn-controller, the OVN central, ovs-vswitchd and ovsdb-server (and dockerd with --docker)',
    )
    .option('--docker', 'also stop dockerd')
    .option('--json', 'print the steps as JSON')
    .action(async (opts: { docker?: boolean; json?: boolean }) => {
      const result = await stopHost({
        docker: Boolean(opts.docker),
        log: opts.json ? undefined : (l) => process.stdout.write(`${l}\n`),
      });
      if (opts.json) printJson({ ok: result.ok, changed: result.changed, steps: result.steps });
    });
}

interface RemoteOpts {
  chassis?: string;
  file?: string;
  ssh?: string;
  sshKey?: string;
  knownHosts?: string;
  sshAcceptNew?: boolean;
  json?: boolean;
}

const isRemote = (o: RemoteOpts) => Boolean(o.chassis || o.ssh);

/** The remote forms of check/install/start (docs/multichassis.md "Remote chassis"). */
function remoteOptions(cmd: Command): void {
  cmd
    .option('--chassis <name>', 'act on remote chassis NAME of the lab file (-f) over ssh')
    .option('-f, --file <file>', 'lab file naming the chassis (with --chassis)', 'lab.yml')
    .option('--ssh <user@host[:port]>', 'act on this machine over ssh (a remote chassis to be)')
    .option('--ssh-key <file>', 'private key for --ssh (default: ssh-agent, then ~/.ssh/id_*)')
    .option('--known-hosts <file>', 'known_hosts file (default ~/.ssh/known_hosts)')
    .option('--ssh-accept-new', 'record an unknown host key on first use (a changed key is still refused)');
  if (!cmd.options.some((o) => o.long === '--json')) cmd.option('--json', 'print the steps as JSON');
}

async function remoteAction(action: 'check' | 'install' | 'start', opts: RemoteOpts): Promise<void> {
  const [{ parseSshTarget, sshSession }, rc, remote] = await Promise.all([
    import('../drivers/ssh.js'),
    import('../drivers/remote-chassis.js'),
    import('../host/remote.js'),
  ]);
  let target: ReturnType<typeof parseSshTarget>;
  if (opts.chassis) {
    const { loadLabFile } = await import('../lab/load.js');
    const lab = loadLabFile(opts.file ?? 'lab.yml');
    const ch = lab.chassis?.find((c) => c.name === opts.chassis);
    if (ch?.kind !== 'remote')
      throw usageError(
        `lab ${lab.name} has no remote chassis ${opts.chassis}`,
        `its remote chassis: ${
          (lab.chassis ?? [])
            .filter((c) => c.kind === 'remote')
            .map((c) => c.name)
            .join(', ') || 'none'
        }`,
      );
    target = rc.remoteTargetOf(ch);
    if (opts.sshAcceptNew) target.acceptNew = true;
  } else
    target = parseSshTarget(opts.ssh!, {
      ...(opts.sshKey ? { key: opts.sshKey } : {}),
      ...(opts.knownHosts ? { knownHosts: opts.knownHosts } : {}),
      ...(opts.sshAcceptNew ? { acceptNew: true } : {}),
    });
  const s = sshSession(target);
  const log = opts.json ? undefined : (l: string) => process.stdout.write(`${l}\n`);
  const steps =
    action === 'install'
      ? await remote.remoteInstall(s, log)
      : action === 'start'
        ? await remote.remoteStart(s, log)
        : await remote.remoteCheck(s);
  const ok = steps.every((x) => x.ok);
  if (opts.json) printJson({ ok, host: target.host, user: target.user, action, steps });
  else process.stdout.write(remote.renderRemoteSteps(target.host, steps));
  if (!ok) process.exitCode = EXIT_ENV;
}
