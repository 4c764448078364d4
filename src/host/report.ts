/**
 * The host report: raw facts gathered by probe.ts (commands run concurrently, each bounded) and their evaluation
 * into one row per component, lowest layer first. evaluateHost() is pure, so every decision it makes — which
 * component is broken, which cause code, which fix — is unit-tested without touching a daemon.
 */
import { hostname as osHostname } from 'node:os';
import {
  CHASSIS_KEYS,
  type ChassisKey,
  DEFAULT_BRIDGE,
  isEmbeddedRemote,
  LOCAL_SB_REMOTE,
  normalizeRemote,
} from './constants.js';
import type { KernelModuleState } from './system.js';

export type HostCheckId =
  | 'root'
  | 'tools'
  | 'tools.optional'
  | 'kernel.openvswitch'
  | 'dockerd'
  | 'ovsdb-server'
  | 'ovs-vswitchd'
  | 'ovn-nb'
  | 'ovn-sb'
  | 'ovn-northd'
  | 'ovn-controller'
  | 'chassis.system-id'
  | 'chassis.ovn-remote'
  | 'chassis.encap'
  | 'chassis.datapath-type'
  | 'br-int'
  | 'sb-connection'
  | 'chassis.registered';

export type HostLayer = 'prerequisites' | 'daemons' | 'chassis' | 'southbound';

/**
 * Cause codes of design.md, plus the host-only additions documented in docs/host.md:
 * not-root, tools-missing, ovn-nb-down, ovn-sb-down, bridge-missing.
 */
export type HostCause =
  | 'not-root'
  | 'tools-missing'
  | 'docker-unreachable'
  | 'ovsdb-down'
  | 'ovs-vswitchd-down'
  | 'ovn-nb-down'
  | 'ovn-sb-down'
  | 'ovn-northd-down'
  | 'ovn-controller-down'
  | 'sb-disconnected'
  | 'chassis-not-registered'
  | 'chassis-id-mismatch'
  | 'encap-missing'
  | 'datapath-unsupported'
  | 'bridge-missing';

export interface HostCheck {
  id: HostCheckId;
  /** what the row is about, for people ("ovs-vswitchd", "chassis keys: encap") */
  title: string;
  layer: HostLayer;
  /** false for information that never fails the host (optional tools, the kernel module) */
  required: boolean;
  ok: boolean;
  detail: string;
  /** set when !ok */
  cause?: HostCause;
  /** set when !ok: the command that fixes it */
  fix?: string;
  /** set when the row could not be checked because a lower one failed (its id); cause and fix are that row's */
  blockedBy?: HostCheckId;
}

export interface HostReport {
  /** every required row ok */
  ok: boolean;
  /** this host's chassis name (external_ids:system-id), when ovsdb-server answers and it is set */
  chassis?: string;
  hostname: string;
  root: boolean;
  /** the southbound remote the report checked (expected, else configured, else the embedded one) */
  remote: string;
  /** NB, SB and ovn-northd are expected on this host */
  embedded: boolean;
  kernelModule: KernelModuleState;
  /** dockerd answers /_ping but not /info: running, but deadlocked (starting another one would not help) */
  dockerHung: boolean;
  /** the datapath type bridges must use here: system only with the kernel module */
  datapath: 'system' | 'netdev';
  /** the chassis keys as found on the Open_vSwitch row (only the keys that are set) */
  keys: Partial<Record<ChassisKey, string>>;
  bridge: { name: string; exists: boolean; datapathType?: string };
  checks: HostCheck[];
}

/** What the caller expects of the host (a lab's `ovn:` block); unset fields are only checked for presence. */
export interface HostExpectations {
  remote?: string;
  nb?: string;
  encap?: { type: string; ip: string };
  datapath?: 'auto' | 'system' | 'netdev';
  bridge?: string;
}

export interface CommandProbe {
  ok: boolean;
  /** stdout when ok, else the error (stderr's last line or "timed out") */
  detail: string;
}

/** Everything probe.ts gathers; evaluateHost() turns it into rows. */
export interface HostFacts {
  root: boolean;
  hostname?: string;
  tools: Record<string, boolean>;
  optionalTools: Record<string, boolean>;
  kernelModule: KernelModuleState;
  /** hung: answers /_ping but not /info (daemon deadlocked) */
  docker: CommandProbe & { hung?: boolean };
  ovsdb: CommandProbe & {
    externalIds?: Record<string, string>;
    ovsVersion?: string;
    bridges?: { name: string; datapathType: string }[];
  };
  vswitchd: CommandProbe;
  /** undefined: not checked (remote central without an NB address) */
  nb?: CommandProbe;
  sb: CommandProbe & {
    remote: string;
    chassis?: { name: string; hostname: string }[];
    encaps?: { type: string; ip: string; chassis: string }[];
  };
  /** undefined: not checked (remote central) */
  northd?: CommandProbe & { status?: string };
  controller: CommandProbe;
  /** ovn-appctl connection-status output; undefined when ovn-controller does not answer */
  connection?: CommandProbe;
}

const START = 'labctl host start';
const INSTALL = 'labctl host install';

/** The datapath type this host can run bridges with, given the kernel module and an optional preference. */
export function usableDatapath(kernel: KernelModuleState, preferred?: string): 'system' | 'netdev' {
  if (!kernel.available) return 'netdev';
  return preferred === 'netdev' ? 'netdev' : 'system';
}

/** datapath_type values a bridge may have on this host ('' means system). */
export function datapathUsable(datapathType: string | undefined, kernel: KernelModuleState): boolean {
  if (datapathType === 'netdev') return true;
  return kernel.available; // '' / 'system' need the kernel module
}

export function evaluateHost(facts: HostFacts, expect: HostExpectations = {}): HostReport {
  const checks: HostCheck[] = [];
  const add = (c: HostCheck) => {
    checks.push(c);
    return c;
  };
  const fail = (
    id: HostCheckId,
    title: string,
    layer: HostLayer,
    detail: string,
    cause: HostCause,
    fix: string,
  ): HostCheck => add({ id, title, layer, required: true, ok: false, detail, cause, fix });
  const pass = (
    id: HostCheckId,
    title: string,
    layer: HostLayer,
    detail: string,
    required = true,
  ): HostCheck => add({ id, title, layer, required, ok: true, detail });
  const blocked = (id: HostCheckId, title: string, layer: HostLayer, by: HostCheck): HostCheck =>
    add({
      id,
      title,
      layer,
      required: true,
      ok: false,
      detail: `not checked: ${by.title} failed`,
      cause: by.cause,
      fix: by.fix,
      blockedBy: by.id,
    });

  const keys: Partial<Record<ChassisKey, string>> = {};
  for (const k of CHASSIS_KEYS) {
    const v = facts.ovsdb.externalIds?.[k];
    if (v !== undefined && v !== '') keys[k] = v;
  }
  const configuredRemote = keys['ovn-remote'];
  const remote = normalizeRemote(expect.remote ?? configuredRemote ?? LOCAL_SB_REMOTE);
  const embedded = isEmbeddedRemote(remote);
  const bridgeName = expect.bridge ?? facts.ovsdb.externalIds?.['ovn-bridge'] ?? DEFAULT_BRIDGE;
  const bridgeRow = facts.ovsdb.bridges?.find((b) => b.name === bridgeName);
  const kernel = facts.kernelModule;
  const centralFix = embedded ? START : `check that the OVN central answers: ovn-sbctl --db=${remote} show`;

  // ---- prerequisites
  if (facts.root) pass('root', 'running as root', 'prerequisites', 'uid 0');
  else
    fail(
      'root',
      'running as root',
      'prerequisites',
      'labctl needs root (network namespaces, veths, OVS ports)',
      'not-root',
      'run labctl as root (sudo labctl …)',
    );

  const missing = Object.entries(facts.tools)
    .filter(([, present]) => !present)
    .map(([t]) => t);
  if (missing.length === 0) pass('tools', 'tools', 'prerequisites', Object.keys(facts.tools).join(', '));
  else fail('tools', 'tools', 'prerequisites', `missing: ${missing.join(', ')}`, 'tools-missing', INSTALL);

  const optMissing = Object.entries(facts.optionalTools)
    .filter(([, p]) => !p)
    .map(([t]) => t);
  add({
    id: 'tools.optional',
    title: 'optional tools',
    layer: 'prerequisites',
    required: false,
    ok: optMissing.length === 0,
    detail: optMissing.length
      ? `missing: ${optMissing.join(', ')} (conntrack: conntrack flushes in netns; debootstrap: image builds)`
      : Object.keys(facts.optionalTools).join(', '),
    ...(optMissing.length ? { cause: 'tools-missing' as const, fix: INSTALL } : {}),
  });

  add({
    id: 'kernel.openvswitch',
    title: 'openvswitch kernel module',
    layer: 'prerequisites',
    required: false,
    ok: kernel.available,
    detail: kernel.available
      ? `${kernel.detail}: datapath system or netdev`
      : `${kernel.detail}: the userspace datapath (netdev) is used`,
  });

  // ---- daemons
  if (facts.docker.ok) pass('dockerd', 'dockerd API', 'daemons', facts.docker.detail);
  else
    fail(
      'dockerd',
      'dockerd API',
      'daemons',
      facts.docker.detail,
      'docker-unreachable',
      facts.docker.hung ? 'restart dockerd: kill $(cat /var/run/docker.pid), then labctl host start' : START,
    );

  const ovsdbRow = facts.ovsdb.ok
    ? pass('ovsdb-server', 'ovsdb-server', 'daemons', facts.ovsdb.detail)
    : fail('ovsdb-server', 'ovsdb-server', 'daemons', facts.ovsdb.detail, 'ovsdb-down', START);

  if (facts.vswitchd.ok) pass('ovs-vswitchd', 'ovs-vswitchd', 'daemons', facts.vswitchd.detail);
  else fail('ovs-vswitchd', 'ovs-vswitchd', 'daemons', facts.vswitchd.detail, 'ovs-vswitchd-down', START);

  if (facts.nb === undefined) {
    add({
      id: 'ovn-nb',
      title: 'OVN northbound DB',
      layer: 'daemons',
      required: false,
      ok: true,
      detail: `not checked: remote central (${remote}) and no NB address given`,
    });
  } else if (facts.nb.ok) pass('ovn-nb', 'OVN northbound DB', 'daemons', facts.nb.detail);
  else
    fail(
      'ovn-nb',
      'OVN northbound DB',
      'daemons',
      facts.nb.detail,
      embedded ? 'ovn-nb-down' : 'sb-disconnected',
      centralFix,
    );

  const sbRow = facts.sb.ok
    ? pass('ovn-sb', 'OVN southbound DB', 'daemons', `${facts.sb.remote}: ${facts.sb.detail}`)
    : fail(
        'ovn-sb',
        'OVN southbound DB',
        'daemons',
        facts.sb.detail.startsWith(facts.sb.remote)
          ? facts.sb.detail
          : `${facts.sb.remote}: ${facts.sb.detail}`,
        embedded ? 'ovn-sb-down' : 'sb-disconnected',
        centralFix,
      );

  if (facts.northd === undefined) {
    add({
      id: 'ovn-northd',
      title: 'ovn-northd',
      layer: 'daemons',
      required: false,
      ok: true,
      detail: `not checked: runs with the remote central (${remote})`,
    });
  } else if (facts.northd.ok) {
    const status = facts.northd.status ? `, ${facts.northd.status.toLowerCase()}` : '';
    pass('ovn-northd', 'ovn-northd', 'daemons', `${facts.northd.detail}${status}`);
  } else fail('ovn-northd', 'ovn-northd', 'daemons', facts.northd.detail, 'ovn-northd-down', START);

  const controllerRow = facts.controller.ok
    ? pass('ovn-controller', 'ovn-controller', 'daemons', facts.controller.detail)
    : fail(
        'ovn-controller',
        'ovn-controller',
        'daemons',
        facts.controller.detail,
        'ovn-controller-down',
        START,
      );

  // ---- chassis keys on the Open_vSwitch row
  const chassis = keys['system-id'];
  let systemIdRow: HostCheck;
  if (!facts.ovsdb.ok) {
    systemIdRow = blocked('chassis.system-id', 'chassis key system-id', 'chassis', ovsdbRow);
    blocked('chassis.ovn-remote', 'chassis key ovn-remote', 'chassis', ovsdbRow);
    blocked('chassis.encap', 'chassis keys ovn-encap-type/ip', 'chassis', ovsdbRow);
    blocked('chassis.datapath-type', 'chassis key ovn-bridge-datapath-type', 'chassis', ovsdbRow);
    blocked('br-int', `integration bridge ${bridgeName}`, 'chassis', ovsdbRow);
  } else {
    systemIdRow = chassis
      ? pass('chassis.system-id', 'chassis key system-id', 'chassis', chassis)
      : fail(
          'chassis.system-id',
          'chassis key system-id',
          'chassis',
          'external_ids:system-id is not set on the Open_vSwitch row',
          'chassis-not-registered',
          START,
        );

    if (!configuredRemote) {
      fail(
        'chassis.ovn-remote',
        'chassis key ovn-remote',
        'chassis',
        'external_ids:ovn-remote is not set',
        'sb-disconnected',
        START,
      );
    } else if (expect.remote === undefined || normalizeRemote(configuredRemote) === remote) {
      pass('chassis.ovn-remote', 'chassis key ovn-remote', 'chassis', configuredRemote);
    } else {
      fail(
        'chassis.ovn-remote',
        'chassis key ovn-remote',
        'chassis',
        `ovn-remote is ${configuredRemote}, expected ${remote}`,
        'sb-disconnected',
        `${START} --remote ${remote}`,
      );
    }

    const et = keys['ovn-encap-type'];
    const ei = keys['ovn-encap-ip'];
    if (!et || !ei) {
      const absent = [!et && 'ovn-encap-type', !ei && 'ovn-encap-ip'].filter(Boolean).join(' and ');
      fail(
        'chassis.encap',
        'chassis keys ovn-encap-type/ip',
        'chassis',
        `${absent} not set`,
        'encap-missing',
        START,
      );
    } else if (expect.encap && (expect.encap.type !== et || expect.encap.ip !== ei)) {
      fail(
        'chassis.encap',
        'chassis keys ovn-encap-type/ip',
        'chassis',
        `encap is ${et} ${ei}, the lab expects ${expect.encap.type} ${expect.encap.ip}`,
        'encap-missing',
        `${START} --encap-type ${expect.encap.type} --encap-ip ${expect.encap.ip}`,
      );
    } else pass('chassis.encap', 'chassis keys ovn-encap-type/ip', 'chassis', `${et} ${ei}`);

    const dt = keys['ovn-bridge-datapath-type'];
    if (expect.datapath === 'system' && !kernel.available) {
      fail(
        'chassis.datapath-type',
        'chassis key ovn-bridge-datapath-type',
        'chassis',
        'the lab asks for datapath system, but this host has no openvswitch kernel module',
        'datapath-unsupported',
        'set ovn.datapath: netdev (or auto) in the lab file',
      );
    } else if (!dt && !kernel.available) {
      fail(
        'chassis.datapath-type',
        'chassis key ovn-bridge-datapath-type',
        'chassis',
        'not set: ovn-controller would create bridges with datapath system, which needs the missing kernel module',
        'datapath-unsupported',
        START,
      );
    } else if (dt && !datapathUsable(dt, kernel)) {
      fail(
        'chassis.datapath-type',
        'chassis key ovn-bridge-datapath-type',
        'chassis',
        `${dt} needs the openvswitch kernel module, which this host lacks`,
        'datapath-unsupported',
        `${START} --datapath netdev`,
      );
    } else if (expect.datapath && expect.datapath !== 'auto' && (dt || 'system') !== expect.datapath) {
      fail(
        'chassis.datapath-type',
        'chassis key ovn-bridge-datapath-type',
        'chassis',
        `datapath is ${dt || 'system'}, the lab asks for ${expect.datapath}`,
        'datapath-unsupported',
        `${START} --datapath ${expect.datapath}`,
      );
    } else
      pass(
        'chassis.datapath-type',
        'chassis key ovn-bridge-datapath-type',
        'chassis',
        dt || 'system (default)',
      );

    if (!bridgeRow) {
      fail(
        'br-int',
        `integration bridge ${bridgeName}`,
        'chassis',
        `${bridgeName} does not exist (ovn-controller creates it)`,
        facts.controller.ok ? 'bridge-missing' : 'ovn-controller-down',
        START,
      );
    } else if (!datapathUsable(bridgeRow.datapathType, kernel)) {
      fail(
        'br-int',
        `integration bridge ${bridgeName}`,
        'chassis',
        `datapath_type ${bridgeRow.datapathType || 'system'} needs the openvswitch kernel module; every port would fail`,
        'datapath-unsupported',
        START,
      );
    } else
      pass(
        'br-int',
        `integration bridge ${bridgeName}`,
        'chassis',
        `datapath_type ${bridgeRow.datapathType || 'system'}`,
      );
  }

  // ---- southbound: connection and registration
  if (!facts.controller.ok || !facts.connection) {
    blocked('sb-connection', 'ovn-controller ↔ southbound', 'southbound', controllerRow);
  } else if (facts.connection.ok && facts.connection.detail.trim() === 'connected') {
    pass('sb-connection', 'ovn-controller ↔ southbound', 'southbound', 'connected');
  } else {
    fail(
      'sb-connection',
      'ovn-controller ↔ southbound',
      'southbound',
      facts.connection.ok ? facts.connection.detail.trim() || 'not connected' : facts.connection.detail,
      'sb-disconnected',
      facts.sb.ok ? START : centralFix,
    );
  }

  if (!facts.sb.ok) blocked('chassis.registered', 'chassis registered in SB', 'southbound', sbRow);
  else if (!chassis) blocked('chassis.registered', 'chassis registered in SB', 'southbound', systemIdRow);
  else {
    const row = facts.sb.chassis?.find((c) => c.name === chassis);
    const mine = (facts.sb.encaps ?? []).filter((e) => e.chassis === chassis);
    const et = keys['ovn-encap-type'];
    const ei = keys['ovn-encap-ip'];
    const clash = (facts.sb.encaps ?? []).find((e) => e.chassis !== chassis && e.type === et && e.ip === ei);
    const host = facts.hostname ?? osHostname();
    const sameHost = facts.sb.chassis?.find((c) => c.name !== chassis && c.hostname === host);
    if (!row) {
      if (clash) {
        fail(
          'chassis.registered',
          'chassis registered in SB',
          'southbound',
          `no chassis ${chassis} in SB; chassis ${clash.chassis} holds encap ${clash.type} ${clash.ip}, so this one cannot register`,
          'chassis-id-mismatch',
          `ovn-sbctl chassis-del ${clash.chassis}   (if that chassis is gone), or ${START} --encap-ip <another address>`,
        );
      } else if (sameHost) {
        fail(
          'chassis.registered',
          'chassis registered in SB',
          'southbound',
          `no chassis ${chassis} in SB, but chassis ${sameHost.name} has this hostname (${host}): system-id changed?`,
          'chassis-id-mismatch',
          START,
        );
      } else {
        fail(
          'chassis.registered',
          'chassis registered in SB',
          'southbound',
          `no chassis ${chassis} in SB (${facts.sb.remote})`,
          'chassis-not-registered',
          START,
        );
      }
    } else if (et && ei && !mine.some((e) => e.type === et && e.ip === ei)) {
      const have = mine.map((e) => `${e.type} ${e.ip}`).join(', ') || 'none';
      fail(
        'chassis.registered',
        'chassis registered in SB',
        'southbound',
        `chassis ${chassis} is registered with encap ${have}, not ${et} ${ei}`,
        'encap-missing',
        START,
      );
    } else {
      pass(
        'chassis.registered',
        'chassis registered in SB',
        'southbound',
        `${chassis} (${mine.map((e) => `${e.type} ${e.ip}`).join(', ') || 'no encap'})`,
      );
    }
  }

  // Without root, the daemons' sockets and pidfiles answer "permission denied": a symptom of the root row, not
  // a daemon that is down.
  const rootRow = checks.find((c) => c.id === 'root');
  if (!facts.root && rootRow) {
    for (const c of checks) {
      if (
        c.layer === 'daemons' &&
        !c.ok &&
        c.required &&
        /permission denied|EACCES|not permitted/i.test(c.detail)
      ) {
        c.blockedBy = 'root';
        c.cause = rootRow.cause;
        c.fix = rootRow.fix;
      }
    }
    for (const c of checks) {
      const by = c.blockedBy && c.blockedBy !== 'root' ? checks.find((x) => x.id === c.blockedBy) : undefined;
      if (by?.blockedBy === 'root') {
        c.cause = rootRow.cause;
        c.fix = rootRow.fix;
      }
    }
  }

  const report: HostReport = {
    ok: checks.every((c) => c.ok || !c.required),
    ...(chassis ? { chassis } : {}),
    hostname: facts.hostname ?? osHostname(),
    root: facts.root,
    remote,
    embedded,
    kernelModule: kernel,
    dockerHung: Boolean(facts.docker.hung),
    datapath: usableDatapath(kernel, keys['ovn-bridge-datapath-type']),
    keys,
    bridge: {
      name: bridgeName,
      exists: Boolean(bridgeRow),
      ...(bridgeRow ? { datapathType: bridgeRow.datapathType } : {}),
    },
    checks,
  };
  return report;
}

/** The lowest broken required row: the root cause every other failure follows from. */
export function firstFailure(report: HostReport): HostCheck | undefined {
  return (
    report.checks.find((c) => c.required && !c.ok && !c.blockedBy) ??
    report.checks.find((c) => c.required && !c.ok)
  );
}

export function check(report: HostReport, id: HostCheckId): HostCheck | undefined {
  return report.checks.find((c) => c.id === id);
}
