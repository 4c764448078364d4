/**
 * `labctl host check | install | start | stop`: the prerequisites and the embedded control plane (docs/host.md).
 * check: one row per component, exit 0 when every required row is ok, 2 otherwise.
 */
import type { Command } from 'commander';
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
    .action(async (opts: { json?: boolean; remote?: string }) => {
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
    .action(async () => {
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
      async (opts: {
        datapath?: Datapath;
        encapIp?: string;
        encapType?: string;
        remote?: string;
        json?: boolean;
      }) => {
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
