/**
 * What `labctl host start` and `labctl host stop` would do, decided from a probe report without running anything.
 * Pure functions: given the same report and facts they return the same steps, with the exact commands (argv lists),
 * so idempotency ("everything is up → no command at all") and every branch are unit-tested.
 */
import { isIP } from 'node:net';
import { ovnCtlArgv, ovsdbServerStartArgv, ovsStopArgv, vswitchdArgv } from '../drivers/daemons.js';
import { setBridgeDatapathArgv, setChassisKeysArgv } from '../drivers/ovs-config.js';
import { envError, usageError } from '../errors.js';
import {
  CHASSIS_KEYS,
  type ChassisKey,
  DEFAULT_ENCAP_IP,
  DEFAULT_ENCAP_TYPE,
  isEmbeddedRemote,
  LOCAL_SB_REMOTE,
  normalizeRemote,
} from './constants.js';
import { check, type HostReport } from './report.js';

export { vswitchdArgv } from '../drivers/daemons.js';

import type { KernelModuleState } from './system.js';

export type Argv = readonly string[];
export type Datapath = 'auto' | 'system' | 'netdev';

export type HostStepId =
  | 'dockerd'
  | 'ovsdb-server'
  | 'datapath'
  | 'kernel-module'
  | 'ovs-vswitchd'
  | 'ovn-central'
  | 'chassis-keys'
  | 'br-int'
  | 'ovn-controller'
  | 'chassis'
  | 'neigh-table';

export interface HostStep {
  id: HostStepId;
  title: string;
  /** none: already as wanted; start/stop/set/load: runs `commands`; wait: checked later; skip: not this host's job */
  action: 'none' | 'start' | 'stop' | 'set' | 'load' | 'wait' | 'skip';
  detail: string;
  /** run in order; each must succeed */
  commands: Argv[];
  /** a daemon started detached with its output in a log file (dockerd without systemd) */
  spawn?: { argv: Argv; log: string };
}

export interface StartOptions {
  datapath?: Datapath;
  encapIp?: string;
  encapType?: string;
  /** southbound remote of an existing OVN central; default: keep the configured one, else the embedded central */
  remote?: string;
  /** where `datapath` came from, for the printed reason (default: the --datapath option) */
  datapathFrom?: 'option' | 'env';
}

export interface StartFacts {
  systemd: boolean;
  kernel: KernelModuleState;
  /** the Open_vSwitch row's external_ids read from the database file, when ovsdb-server is down */
  storedKeys?: Record<string, string>;
  /** the system-id to use when the host has none */
  newSystemId: string;
}

export type ChassisKeys = Record<ChassisKey, string>;

export function validateStartOptions(opts: StartOptions, kernel: KernelModuleState): void {
  if (opts.datapath && !['auto', 'system', 'netdev'].includes(opts.datapath)) {
    throw usageError(
      `--datapath must be auto, system or netdev, not ${opts.datapath}`,
      'labctl host start --datapath auto',
    );
  }
  if (opts.datapath === 'system' && !kernel.available) {
    throw envError(
      'datapath system needs the openvswitch kernel module, which this host does not have',
      'labctl host start --datapath netdev   (or auto: the userspace datapath is chosen when the module is absent)',
    );
  }
  if (opts.encapIp !== undefined && isIP(opts.encapIp) === 0) {
    throw usageError(
      `--encap-ip must be an IP address of this host, not ${opts.encapIp}`,
      'labctl host start --encap-ip 127.0.0.1',
    );
  }
  if (opts.encapType !== undefined && !['geneve', 'vxlan', 'stt'].includes(opts.encapType)) {
    throw usageError(
      `--encap-type must be geneve, vxlan or stt, not ${opts.encapType}`,
      'labctl host start --encap-type geneve',
    );
  }
}

/**
 * LABCTL_DATAPATH: the default for --datapath (auto when unset). For hosts that must never use the kernel datapath
 * even where the module is loaded — e.g. a privileged test container, which shares the host's kernel
 * (scripts/matrix.sh sets netdev).
 */
export function datapathFromEnv(env: Record<string, string | undefined> = process.env): Datapath | undefined {
  const v = env.LABCTL_DATAPATH?.trim();
  if (!v) return undefined;
  if (v === 'auto' || v === 'system' || v === 'netdev') return v;
  throw usageError(`LABCTL_DATAPATH must be auto, system or netdev, not ${v}`, 'export LABCTL_DATAPATH=auto');
}

/** The datapath host start uses, and why: printed, so `auto` always says what it picked. */
export interface DatapathChoice {
  datapath: 'system' | 'netdev';
  why: string;
}

/**
 * The datapath type for ovn-bridge-datapath-type. Without the kernel module: netdev, whatever was asked. With it:
 * what was asked; for auto the configured key (a running host is not switched under its labs), else the existing
 * bridge's netdev, else system — so a fresh host with the module gets the kernel datapath, one without gets the
 * userspace datapath.
 */
export function datapathChoice(
  requested: Datapath | undefined,
  kernel: KernelModuleState,
  currentKey: string | undefined,
  bridgeDatapathType: string | undefined,
  from: 'option' | 'env' = 'option',
): DatapathChoice {
  const asked =
    requested && requested !== 'auto'
      ? from === 'env'
        ? `LABCTL_DATAPATH=${requested}`
        : `--datapath ${requested}`
      : 'auto';
  if (!kernel.available) return { datapath: 'netdev', why: `${asked}: ${kernel.detail}` };
  if (requested === 'system' || requested === 'netdev')
    return { datapath: requested, why: `${asked}: ${kernel.detail}` };
  if (currentKey === 'system' || currentKey === 'netdev')
    return {
      datapath: currentKey,
      why: `auto: kept the configured ovn-bridge-datapath-type (${kernel.detail})`,
    };
  if (bridgeDatapathType === 'netdev')
    return { datapath: 'netdev', why: `auto: br-int already uses netdev (${kernel.detail})` };
  return { datapath: 'system', why: `auto: ${kernel.detail}` };
}

export function chooseDatapath(
  requested: Datapath | undefined,
  kernel: KernelModuleState,
  currentKey: string | undefined,
  bridgeDatapathType: string | undefined,
): 'system' | 'netdev' {
  return datapathChoice(requested, kernel, currentKey, bridgeDatapathType).datapath;
}

/** The chassis keys this host should have: existing values are kept unless an option asks otherwise. */
export function desiredChassisKeys(
  current: Record<string, string | undefined>,
  opts: StartOptions,
  kernel: KernelModuleState,
  newSystemId: string,
  bridgeDatapathType?: string,
): ChassisKeys {
  const cur = (k: ChassisKey) => (current[k] ? current[k] : undefined);
  return {
    'system-id': cur('system-id') ?? newSystemId,
    'ovn-remote': opts.remote ?? cur('ovn-remote') ?? LOCAL_SB_REMOTE,
    'ovn-encap-type': opts.encapType ?? cur('ovn-encap-type') ?? DEFAULT_ENCAP_TYPE,
    'ovn-encap-ip': opts.encapIp ?? cur('ovn-encap-ip') ?? DEFAULT_ENCAP_IP,
    'ovn-bridge-datapath-type': chooseDatapath(
      opts.datapath,
      kernel,
      cur('ovn-bridge-datapath-type'),
      bridgeDatapathType,
    ),
  };
}

/** The keys whose value differs (ovn-remote compared with /run ≡ /var/run). */
export function keyDiff(
  current: Record<string, string | undefined>,
  desired: ChassisKeys,
): Partial<ChassisKeys> {
  const out: Partial<ChassisKeys> = {};
  for (const k of CHASSIS_KEYS) {
    const have = current[k];
    const same =
      k === 'ovn-remote' && have
        ? normalizeRemote(have) === normalizeRemote(desired[k])
        : have === desired[k];
    if (!same) out[k] = desired[k];
  }
  return out;
}

/** The command that sets the keys that differ on the Open_vSwitch row (ovs-vsctl --no-wait, values quoted). */
export function setKeysCommand(diff: Partial<ChassisKeys>): Argv {
  return setChassisKeysArgv(diff as Record<string, string>);
}

const describeKeys = (k: Partial<ChassisKeys>) =>
  Object.entries(k)
    .map(([key, v]) => `${key}=${v}`)
    .join(', ');

/** The chassis-keys and br-int steps, from the live keys and bridge (also re-run after the daemons came up). */
export function planConfigSteps(
  currentKeys: Record<string, string | undefined>,
  bridge: { name: string; exists: boolean; datapathType?: string } | undefined,
  desired: ChassisKeys,
): HostStep[] {
  const diff = keyDiff(currentKeys, desired);
  const keysStep: HostStep = Object.keys(diff).length
    ? {
        id: 'chassis-keys',
        title: 'chassis keys',
        action: 'set',
        detail: `set ${describeKeys(diff)}`,
        commands: [setKeysCommand(diff)],
      }
    : {
        id: 'chassis-keys',
        title: 'chassis keys',
        action: 'none',
        detail: `unchanged (${describeKeys(desired)})`,
        commands: [],
      };
  let bridgeStep: HostStep;
  const want = desired['ovn-bridge-datapath-type'];
  if (!bridge) {
    bridgeStep = {
      id: 'br-int',
      title: 'br-int',
      action: 'wait',
      detail: 'checked once ovsdb-server runs',
      commands: [],
    };
  } else if (!bridge.exists) {
    bridgeStep = {
      id: 'br-int',
      title: bridge.name,
      action: 'wait',
      detail: `missing: ovn-controller creates it with datapath_type ${want}`,
      commands: [],
    };
  } else if ((bridge.datapathType || 'system') !== want) {
    bridgeStep = {
      id: 'br-int',
      title: bridge.name,
      action: 'set',
      detail: `datapath_type ${bridge.datapathType || 'system'} → ${want}`,
      commands: [setBridgeDatapathArgv(bridge.name, want)],
    };
  } else {
    bridgeStep = {
      id: 'br-int',
      title: bridge.name,
      action: 'none',
      detail: `datapath_type ${want}`,
      commands: [],
    };
  }
  return [keysStep, bridgeStep];
}

const ok = (report: HostReport, id: Parameters<typeof check>[1]) => check(report, id)?.ok === true;

/**
 * The start plan. `report` must have been probed against the southbound remote this host will use
 * (desired ovn-remote), so the NB/SB/northd rows say whether the embedded central runs.
 */
export function planHostStart(
  report: HostReport,
  facts: StartFacts,
  opts: StartOptions = {},
): { steps: HostStep[]; desired: ChassisKeys; datapath: DatapathChoice } {
  validateStartOptions(opts, facts.kernel);
  const ovsdbUp = ok(report, 'ovsdb-server');
  const currentKeys: Record<string, string | undefined> = ovsdbUp ? report.keys : (facts.storedKeys ?? {});
  const choice = datapathChoice(
    opts.datapath,
    facts.kernel,
    currentKeys['ovn-bridge-datapath-type'] || undefined,
    ovsdbUp ? report.bridge.datapathType : undefined,
    opts.datapathFrom,
  );
  const desired = desiredChassisKeys(
    currentKeys,
    opts,
    facts.kernel,
    facts.newSystemId,
    ovsdbUp ? report.bridge.datapathType : undefined,
  );
  const steps: HostStep[] = [];
  const already = (id: HostStepId, title: string, detail = 'already running'): HostStep => ({
    id,
    title,
    action: 'none',
    detail,
    commands: [],
  });
  /** Start a daemon: through its systemd unit, or by the command itself when there is no systemd. */
  const start = (id: HostStepId, title: string, argv: Argv, detail = argv.join(' ')): HostStep => ({
    id,
    title,
    action: 'start',
    detail,
    commands: [argv],
  });

  // dockerd
  if (ok(report, 'dockerd')) steps.push(already('dockerd', 'dockerd'));
  else if (report.dockerHung)
    // a second dockerd would only fail on the first one's pidfile; the final check reports it with the fix
    steps.push({
      id: 'dockerd',
      title: 'dockerd',
      action: 'skip',
      detail: 'running but hung (answers /_ping, not /info): restart it by hand',
      commands: [],
    });
  else if (facts.systemd) steps.push(start('dockerd', 'dockerd', ['systemctl', 'start', 'docker']));
  else
    steps.push({
      id: 'dockerd',
      title: 'dockerd',
      action: 'start',
      detail: 'dockerd, detached, log in /var/log/labctl/dockerd.log',
      commands: [],
      spawn: { argv: ['dockerd'], log: '/var/log/labctl/dockerd.log' },
    });

  // ovsdb-server (ovs-ctl sets external_ids:system-id on start: pass the existing one so it is kept)
  if (ovsdbUp) steps.push(already('ovsdb-server', 'ovsdb-server'));
  else if (facts.systemd)
    steps.push(start('ovsdb-server', 'ovsdb-server', ['systemctl', 'start', 'ovsdb-server']));
  else steps.push(start('ovsdb-server', 'ovsdb-server', ovsdbServerStartArgv(desired['system-id'])));

  // the datapath choice, said for people (auto included)
  steps.push({
    id: 'datapath',
    title: 'datapath',
    action: 'none',
    detail: `${choice.datapath} (${choice.why})`,
    commands: [],
  });

  // the kernel module, only when the system datapath is wanted and it is loadable but not loaded
  if (desired['ovn-bridge-datapath-type'] === 'system' && facts.kernel.available && !facts.kernel.loaded) {
    steps.push({
      id: 'kernel-module',
      title: 'openvswitch module',
      action: 'load',
      detail: 'modprobe openvswitch',
      commands: [['modprobe', 'openvswitch']],
    });
  }

  // ovs-vswitchd: never through ovs-ctl without the module (it tries to load it and fails)
  if (ok(report, 'ovs-vswitchd')) steps.push(already('ovs-vswitchd', 'ovs-vswitchd'));
  else if (facts.systemd && facts.kernel.available)
    steps.push(start('ovs-vswitchd', 'ovs-vswitchd', ['systemctl', 'start', 'ovs-vswitchd']));
  else
    steps.push(
      start(
        'ovs-vswitchd',
        'ovs-vswitchd',
        vswitchdArgv(),
        `${vswitchdArgv().join(' ')}${facts.kernel.available ? '' : ' (userspace datapath: no kernel module)'}`,
      ),
    );

  // OVN central: NB, SB and ovn-northd, unless the southbound remote is another host's
  if (!isEmbeddedRemote(desired['ovn-remote'])) {
    steps.push({
      id: 'ovn-central',
      title: 'ovn-central',
      action: 'skip',
      detail: `remote central ${desired['ovn-remote']}`,
      commands: [],
    });
  } else if (ok(report, 'ovn-nb') && ok(report, 'ovn-sb') && ok(report, 'ovn-northd') && report.embedded) {
    steps.push(already('ovn-central', 'ovn-central', 'already running (NB, SB, ovn-northd)'));
  } else {
    const names = { 'ovn-nb': 'NB', 'ovn-sb': 'SB', 'ovn-northd': 'ovn-northd' } as const;
    const down = (Object.keys(names) as (keyof typeof names)[]).filter(
      (id) => !report.embedded || !ok(report, id),
    );
    const argv: Argv = facts.systemd ? ['systemctl', 'start', 'ovn-central'] : ovnCtlArgv('start_northd');
    steps.push(
      start(
        'ovn-central',
        'ovn-central',
        argv,
        `${argv.join(' ')} (${down.map((d) => names[d]).join(', ')} not running)`,
      ),
    );
  }

  // chassis keys and the integration bridge
  steps.push(...planConfigSteps(currentKeys, ovsdbUp ? report.bridge : undefined, desired));

  // ovn-controller
  if (ok(report, 'ovn-controller')) steps.push(already('ovn-controller', 'ovn-controller'));
  else {
    const argv: Argv = facts.systemd ? ['systemctl', 'start', 'ovn-host'] : ovnCtlArgv('start_controller');
    steps.push(start('ovn-controller', 'ovn-controller', argv));
  }

  // registration: nothing to wait for when nothing changed and it is registered with the right encap
  const changed = steps.some((s) => s.action !== 'none' && s.action !== 'skip');
  if (!changed && ok(report, 'chassis.registered') && ok(report, 'sb-connection')) {
    steps.push(
      already(
        'chassis',
        'chassis',
        `${desired['system-id']} registered (${desired['ovn-encap-type']} ${desired['ovn-encap-ip']})`,
      ),
    );
  } else {
    steps.push({
      id: 'chassis',
      title: 'chassis',
      action: 'wait',
      detail: `wait until ${desired['system-id']} is registered in SB and ${report.bridge.name} uses datapath_type ${desired['ovn-bridge-datapath-type']}`,
      commands: [],
    });
  }
  return { steps, desired, datapath: choice };
}

export interface StopOptions {
  docker?: boolean;
}

/** The stop plan: OVN first, then OVS, then (only with --docker) dockerd; components not running are left alone. */
export function planHostStop(
  report: HostReport,
  facts: { systemd: boolean },
  opts: StopOptions = {},
): HostStep[] {
  const steps: HostStep[] = [];
  const notRunning = (id: HostStepId, title: string): HostStep => ({
    id,
    title,
    action: 'none',
    detail: 'not running',
    commands: [],
  });

  if (ok(report, 'ovn-controller'))
    steps.push({
      id: 'ovn-controller',
      title: 'ovn-controller',
      action: 'stop',
      detail: facts.systemd
        ? 'systemctl stop ovn-host ovn-controller'
        : ovnCtlArgv('stop_controller').join(' '),
      commands: [
        facts.systemd ? ['systemctl', 'stop', 'ovn-host', 'ovn-controller'] : ovnCtlArgv('stop_controller'),
      ],
    });
  else steps.push(notRunning('ovn-controller', 'ovn-controller'));

  const centralUp =
    report.embedded && (ok(report, 'ovn-nb') || ok(report, 'ovn-sb') || ok(report, 'ovn-northd'));
  if (!report.embedded)
    steps.push({
      id: 'ovn-central',
      title: 'ovn-central',
      action: 'skip',
      detail: `remote central ${report.remote}`,
      commands: [],
    });
  else if (centralUp)
    steps.push({
      id: 'ovn-central',
      title: 'ovn-central',
      action: 'stop',
      detail: facts.systemd
        ? 'systemctl stop ovn-central'
        : `${ovnCtlArgv('stop_northd').join(' ')} (ovn-northd, NB, SB)`,
      commands: [facts.systemd ? ['systemctl', 'stop', 'ovn-central'] : ovnCtlArgv('stop_northd')],
    });
  else steps.push(notRunning('ovn-central', 'ovn-central'));

  const vswitchdUp = ok(report, 'ovs-vswitchd');
  const ovsdbUp = ok(report, 'ovsdb-server');
  if (vswitchdUp || ovsdbUp) {
    // ovs-ctl stop also stops an ovs-vswitchd started by hand (pidfile), which systemd does not know about
    const commands: Argv[] = facts.systemd
      ? [['systemctl', 'stop', 'openvswitch-switch', 'ovs-vswitchd', 'ovsdb-server'], ovsStopArgv()]
      : [ovsStopArgv()];
    steps.push({
      id: 'ovs-vswitchd',
      title: 'ovs-vswitchd + ovsdb-server',
      action: 'stop',
      detail: commands.map((c) => c.join(' ')).join('; '),
      commands,
    });
  } else steps.push(notRunning('ovs-vswitchd', 'ovs-vswitchd + ovsdb-server'));

  if (!opts.docker)
    steps.push({
      id: 'dockerd',
      title: 'dockerd',
      action: 'skip',
      detail: 'left running (--docker stops it)',
      commands: [],
    });
  else if (!ok(report, 'dockerd')) steps.push(notRunning('dockerd', 'dockerd'));
  else if (facts.systemd)
    steps.push({
      id: 'dockerd',
      title: 'dockerd',
      action: 'stop',
      detail: 'systemctl stop docker.socket docker',
      commands: [['systemctl', 'stop', 'docker.socket', 'docker']],
    });
  else
    steps.push({
      id: 'dockerd',
      title: 'dockerd',
      action: 'stop',
      detail: 'SIGTERM to the pid in /var/run/docker.pid',
      commands: [],
    });
  return steps;
}
