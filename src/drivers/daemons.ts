/**
 * The OVS and OVN daemons of the embedded control plane: the commands that start and stop them without systemd
 * (ovs-ctl for ovsdb-server only, ovs-vswitchd directly: ovs-ctl would try to load the kernel module; ovn-ctl for
 * the central and ovn-controller; platform.md), and whether each answers on its control socket. The argv
 * builders are data for `labctl host start|stop`'s plan; the answer checks run the tool, bounded.
 */
import { run } from '../exec.js';
import { OVN_CTL, OVS_CTL } from '../host/constants.js';

type Argv = readonly string[];

/** ovsdb-server alone; ovs-ctl sets external_ids:system-id on start, so the existing one is passed to be kept. */
export function ovsdbServerStartArgv(systemId: string): Argv {
  return [OVS_CTL, '--no-ovs-vswitchd', `--system-id=${systemId}`, 'start'];
}

/** ovs-ctl stop: ovsdb-server and an ovs-vswitchd started by hand (its pidfile). */
export function ovsStopArgv(): Argv {
  return [OVS_CTL, 'stop'];
}

/**
 * ovs-vswitchd, detached, under its own monitor process (--monitor, as ovs-ctl runs it): a crash (SIGABRT, SIGSEGV…)
 * restarts it at once instead of leaving every lab dead. Measured here: OVS 3.1's userspace conntrack can abort on
 * `conn->conn_type == CT_CONN_TYPE_DEFAULT` in conn_update_state() under NAT (seen once in a day of CI runs);
 * `ovs-appctl exit` and SIGTERM/SIGKILL still stop it for good (the monitor restarts only after a crash signal).
 */
export function vswitchdArgv(): Argv {
  return [
    'ovs-vswitchd',
    '--pidfile',
    '--detach',
    '--monitor',
    '--log-file',
    '-vconsole:emer',
    '-vsyslog:err',
    '-vfile:info',
  ];
}

/** ovn-ctl start_northd | stop_northd (NB, SB and ovn-northd) and start_controller | stop_controller. */
export function ovnCtlArgv(
  command: 'start_northd' | 'stop_northd' | 'start_controller' | 'stop_controller',
): Argv {
  return [OVN_CTL, command];
}

const answers = (file: string, args: string[]) => async () =>
  (await run(file, args, { reject: false, timeoutMs: 3000 })).exitCode === 0;

/** Each daemon's "does it answer" check, for waiting after a start. */
export const daemonAnswers = {
  ovsdbServer: answers('ovs-vsctl', ['--timeout=2', 'show']),
  ovsVswitchd: answers('ovs-appctl', ['-T', '2', '-t', 'ovs-vswitchd', 'version']),
  /** NB, SB and ovn-northd, one after the other */
  ovnCentral: async () =>
    (await answers('ovn-nbctl', ['--timeout=2', 'get-connection'])()) &&
    (await answers('ovn-sbctl', ['--timeout=2', 'get-connection'])()) &&
    (await answers('ovn-appctl', ['-T', '2', '-t', 'ovn-northd', 'version'])()),
  ovnController: answers('ovn-appctl', ['-T', '2', '-t', 'ovn-controller', 'version']),
} satisfies Record<string, () => Promise<boolean>>;
