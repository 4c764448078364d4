/**
 * The host report: raw facts gathered by probe.ts (commands run concurrently, each bounded) and their evaluation
 * into one row per component, lowest layer first. evaluateHost() is pure, so every decision it makes — which
 * component is broken, which cause code, which fix — is unit-tested without touching a daemon. It goes section by
 * section (prerequisites, daemons, chassis keys, southbound); cause codes come from the one cause table and each
 * fix is data (FixAction), its printed line derived from it.
 */
import { hostname as osHostname } from 'node:os';
import { type Cause, type FixAction, fixText } from '../doctor/causes.js';
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

/** The cause codes a host row gives: a part of the one cause table (src/doctor/causes.ts). */
export type HostCause = Extract<
  Cause,
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
  | 'bridge-missing'
>;

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
  /** set when !ok: the command that fixes it (fixText(action)) */
  fix?: string;
  /** set when !ok: the fix as data, for `labctl doctor --fix` (src/doctor/causes.ts FixAction) */
  action?: FixAction;
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
  /** crashes: its monitor restarted it after a crash (count, and how the last one died) */
  vswitchd: CommandProbe & { crashes?: { count: number; last: string } };
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

const START: FixAction = { kind: 'host-start' };
const INSTALL: FixAction = { kind: 'command', argv: ['labctl', 'host', 'install'] };

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

/** The rows of a report as they are built: pass, fail (cause and fix as data), blocked by a lower row. */
class Rows {
  readonly list: HostCheck[] = [];

  add(c: HostCheck): HostCheck {
    this.list.push(c);
    return c;
  }

  pass(id: HostCheckId, title: string, layer: HostLayer, detail: string, required = true): HostCheck {
    return this.add({ id, title, layer, required, ok: true, detail });
  }

  fail(
    id: HostCheckId,
    title: string,
    layer: HostLayer,
    detail: string,
    cause: HostCause,
    action: FixAction,
  ) {
    return this.add({
      id,
      title,
      layer,
      required: true,
      ok: false,
      detail,
      cause,
      fix: fixText(action),
      action,
    });
  }

  /** not checkable because `by` failed: its cause and fix are `by`'s */
  blocked(id: HostCheckId, title: string, layer: HostLayer, by: HostCheck): HostCheck {
    return this.add({
      id,
      title,
      layer,
      required: true,
      ok: false,
      detail: `not checked: ${by.title} failed`,
      ...causeOf(by),
      blockedBy: by.id,
    });
  }
}

const causeOf = (c: HostCheck): Pick<HostCheck, 'cause' | 'fix' | 'action'> => ({
  ...(c.cause ? { cause: c.cause } : {}),
  ...(c.fix ? { fix: c.fix } : {}),
  ...(c.action ? { action: c.action } : {}),
});

/** What every section of the evaluation shares. */
interface Scene {
  facts: HostFacts;
  expect: HostExpectations;
  keys: Partial<Record<ChassisKey, string>>;
  remote: string;
  embedded: boolean;
  bridgeName: string;
  bridgeRow?: { name: string; datapathType: string };
  /** the fix when the OVN central does not answer: start it here, or check the remote one */
  centralFix: FixAction;
}

function evaluatePrerequisites(rows: Rows, { facts }: Scene): void {
  const kernel = facts.kernelModule;
  if (facts.root) rows.pass('root', 'running as root', 'prerequisites', 'uid 0');
  else
    rows.fail(
      'root',
      'running as root',
      'prerequisites',
      'labctl needs root (network namespaces, veths, OVS ports)',
      'not-root',
      { kind: 'advice', text: 'run labctl as root (sudo labctl …)' },
    );

  const missing = Object.entries(facts.tools)
    .filter(([, present]) => !present)
    .map(([t]) => t);
  if (missing.length === 0) rows.pass('tools', 'tools', 'prerequisites', Object.keys(facts.tools).join(', '));
  else
    rows.fail('tools', 'tools', 'prerequisites', `missing: ${missing.join(', ')}`, 'tools-missing', INSTALL);

  const optMissing = Object.entries(facts.optionalTools)
    .filter(([, p]) => !p)
    .map(([t]) => t);
  rows.add({
    id: 'tools.optional',
    title: 'optional tools',
    layer: 'prerequisites',
    required: false,
    ok: optMissing.length === 0,
    detail: optMissing.length
      ? `missing: ${optMissing.join(', ')} (conntrack: conntrack flushes in netns; debootstrap: image builds)`
      : Object.keys(facts.optionalTools).join(', '),
    ...(optMissing.length ? { cause: 'tools-missing' as const, fix: fixText(INSTALL), action: INSTALL } : {}),
  });

  rows.add({
    id: 'kernel.openvswitch',
    title: 'openvswitch kernel module',
    layer: 'prerequisites',
    required: false,
    ok: kernel.available,
    detail: kernel.available
      ? `${kernel.detail}: datapath system or netdev`
      : `${kernel.detail}: the userspace datapath (netdev) is used`,
  });
}

/** The daemons' rows; returns the ones later sections depend on. */
function evaluateDaemons(rows: Rows, { facts, remote, embedded, centralFix }: Scene) {
  if (facts.docker.ok) rows.pass('dockerd', 'dockerd API', 'daemons', facts.docker.detail);
  else
    rows.fail(
      'dockerd',
      'dockerd API',
      'daemons',
      facts.docker.detail,
      'docker-unreachable',
      facts.docker.hung
        ? { kind: 'advice', text: 'restart dockerd: kill $(cat /var/run/docker.pid), then labctl host start' }
        : START,
    );

  const ovsdb = facts.ovsdb.ok
    ? rows.pass('ovsdb-server', 'ovsdb-server', 'daemons', facts.ovsdb.detail)
    : rows.fail('ovsdb-server', 'ovsdb-server', 'daemons', facts.ovsdb.detail, 'ovsdb-down', START);

  if (facts.vswitchd.ok) {
    const c = facts.vswitchd.crashes;
    // a crash its monitor recovered from is not a failure now, but never hidden: what died and where to look
    const crashed = c
      ? `; restarted by its monitor after ${c.count} crash${c.count === 1 ? '' : 'es'} (last: ${c.last}; /var/log/openvswitch/ovs-vswitchd.log)`
      : '';
    rows.pass('ovs-vswitchd', 'ovs-vswitchd', 'daemons', `${facts.vswitchd.detail}${crashed}`);
  } else
    rows.fail('ovs-vswitchd', 'ovs-vswitchd', 'daemons', facts.vswitchd.detail, 'ovs-vswitchd-down', START);

  if (facts.nb === undefined) {
    rows.add({
      id: 'ovn-nb',
      title: 'OVN northbound DB',
      layer: 'daemons',
      required: false,
      ok: true,
      detail: `not checked: remote central (${remote}) and no NB address given`,
    });
  } else if (facts.nb.ok) rows.pass('ovn-nb', 'OVN northbound DB', 'daemons', facts.nb.detail);
  else
    rows.fail(
      'ovn-nb',
      'OVN northbound DB',
      'daemons',
      facts.nb.detail,
      embedded ? 'ovn-nb-down' : 'sb-disconnected',
      centralFix,
    );

  const sb = facts.sb.ok
    ? rows.pass('ovn-sb', 'OVN southbound DB', 'daemons', `${facts.sb.remote}: ${facts.sb.detail}`)
    : rows.fail(
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
    rows.add({
      id: 'ovn-northd',
      title: 'ovn-northd',
      layer: 'daemons',
      required: false,
      ok: true,
      detail: `not checked: runs with the remote central (${remote})`,
    });
  } else if (facts.northd.ok) {
    const status = facts.northd.status ? `, ${facts.northd.status.toLowerCase()}` : '';
    rows.pass('ovn-northd', 'ovn-northd', 'daemons', `${facts.northd.detail}${status}`);
  } else rows.fail('ovn-northd', 'ovn-northd', 'daemons', facts.northd.detail, 'ovn-northd-down', START);

  const controller = facts.controller.ok
    ? rows.pass('ovn-controller', 'ovn-controller', 'daemons', facts.controller.detail)
    : rows.fail(
        'ovn-controller',
        'ovn-controller',
        'daemons',
        facts.controller.detail,
        'ovn-controller-down',
        START,
      );
  return { ovsdb, sb, controller };
}

/** The chassis keys on the Open_vSwitch row and the integration bridge; returns the system-id row. */
function evaluateChassisKeys(rows: Rows, scene: Scene, ovsdb: HostCheck): HostCheck {
  const { facts, expect, keys, remote, bridgeName, bridgeRow } = scene;
  const kernel = facts.kernelModule;
  if (!facts.ovsdb.ok) {
    const systemId = rows.blocked('chassis.system-id', 'chassis key system-id', 'chassis', ovsdb);
    rows.blocked('chassis.ovn-remote', 'chassis key ovn-remote', 'chassis', ovsdb);
    rows.blocked('chassis.encap', 'chassis keys ovn-encap-type/ip', 'chassis', ovsdb);
    rows.blocked('chassis.datapath-type', 'chassis key ovn-bridge-datapath-type', 'chassis', ovsdb);
    rows.blocked('br-int', `integration bridge ${bridgeName}`, 'chassis', ovsdb);
    return systemId;
  }
  const chassis = keys['system-id'];
  const systemId = chassis
    ? rows.pass('chassis.system-id', 'chassis key system-id', 'chassis', chassis)
    : rows.fail(
        'chassis.system-id',
        'chassis key system-id',
        'chassis',
        'external_ids:system-id is not set on the Open_vSwitch row',
        'chassis-not-registered',
        START,
      );

  const configuredRemote = keys['ovn-remote'];
  if (!configuredRemote) {
    rows.fail(
      'chassis.ovn-remote',
      'chassis key ovn-remote',
      'chassis',
      'external_ids:ovn-remote is not set',
      'sb-disconnected',
      START,
    );
  } else if (expect.remote === undefined || normalizeRemote(configuredRemote) === remote) {
    rows.pass('chassis.ovn-remote', 'chassis key ovn-remote', 'chassis', configuredRemote);
  } else {
    rows.fail(
      'chassis.ovn-remote',
      'chassis key ovn-remote',
      'chassis',
      `ovn-remote is ${configuredRemote}, expected ${remote}`,
      'sb-disconnected',
      { kind: 'host-start', remote },
    );
  }

  const et = keys['ovn-encap-type'];
  const ei = keys['ovn-encap-ip'];
  const encapTitle = 'chassis keys ovn-encap-type/ip';
  if (!et || !ei) {
    const absent = [!et && 'ovn-encap-type', !ei && 'ovn-encap-ip'].filter(Boolean).join(' and ');
    rows.fail('chassis.encap', encapTitle, 'chassis', `${absent} not set`, 'encap-missing', START);
  } else if (expect.encap && (expect.encap.type !== et || expect.encap.ip !== ei)) {
    rows.fail(
      'chassis.encap',
      encapTitle,
      'chassis',
      `encap is ${et} ${ei}, the lab expects ${expect.encap.type} ${expect.encap.ip}`,
      'encap-missing',
      { kind: 'host-start', encap: expect.encap },
    );
  } else rows.pass('chassis.encap', encapTitle, 'chassis', `${et} ${ei}`);

  const dt = keys['ovn-bridge-datapath-type'];
  const dtTitle = 'chassis key ovn-bridge-datapath-type';
  if (expect.datapath === 'system' && !kernel.available) {
    rows.fail(
      'chassis.datapath-type',
      dtTitle,
      'chassis',
      'the lab asks for datapath system, but this host has no openvswitch kernel module',
      'datapath-unsupported',
      { kind: 'advice', text: 'set ovn.datapath: netdev (or auto) in the lab file' },
    );
  } else if (!dt && !kernel.available) {
    rows.fail(
      'chassis.datapath-type',
      dtTitle,
      'chassis',
      'not set: ovn-controller would create bridges with datapath system, which needs the missing kernel module',
      'datapath-unsupported',
      START,
    );
  } else if (dt && !datapathUsable(dt, kernel)) {
    rows.fail(
      'chassis.datapath-type',
      dtTitle,
      'chassis',
      `${dt} needs the openvswitch kernel module, which this host lacks`,
      'datapath-unsupported',
      { kind: 'host-start', datapath: 'netdev' },
    );
  } else if (expect.datapath && expect.datapath !== 'auto' && (dt || 'system') !== expect.datapath) {
    rows.fail(
      'chassis.datapath-type',
      dtTitle,
      'chassis',
      `datapath is ${dt || 'system'}, the lab asks for ${expect.datapath}`,
      'datapath-unsupported',
      { kind: 'host-start', datapath: expect.datapath },
    );
  } else rows.pass('chassis.datapath-type', dtTitle, 'chassis', dt || 'system (default)');

  const brTitle = `integration bridge ${bridgeName}`;
  if (!bridgeRow) {
    rows.fail(
      'br-int',
      brTitle,
      'chassis',
      `${bridgeName} does not exist (ovn-controller creates it)`,
      facts.controller.ok ? 'bridge-missing' : 'ovn-controller-down',
      START,
    );
  } else if (!datapathUsable(bridgeRow.datapathType, kernel)) {
    rows.fail(
      'br-int',
      brTitle,
      'chassis',
      `datapath_type ${bridgeRow.datapathType || 'system'} needs the openvswitch kernel module; every port would fail`,
      'datapath-unsupported',
      START,
    );
  } else rows.pass('br-int', brTitle, 'chassis', `datapath_type ${bridgeRow.datapathType || 'system'}`);
  return systemId;
}

/** ovn-controller's southbound connection and this chassis' registration. */
function evaluateSouthbound(
  rows: Rows,
  { facts, keys, centralFix }: Scene,
  dep: { controller: HostCheck; sb: HostCheck; systemId: HostCheck },
): void {
  if (!facts.controller.ok || !facts.connection) {
    rows.blocked('sb-connection', 'ovn-controller ↔ southbound', 'southbound', dep.controller);
  } else if (facts.connection.ok && facts.connection.detail.trim() === 'connected') {
    rows.pass('sb-connection', 'ovn-controller ↔ southbound', 'southbound', 'connected');
  } else {
    rows.fail(
      'sb-connection',
      'ovn-controller ↔ southbound',
      'southbound',
      facts.connection.ok ? facts.connection.detail.trim() || 'not connected' : facts.connection.detail,
      'sb-disconnected',
      facts.sb.ok ? START : centralFix,
    );
  }

  const title = 'chassis registered in SB';
  const chassis = keys['system-id'];
  if (!facts.sb.ok) return void rows.blocked('chassis.registered', title, 'southbound', dep.sb);
  if (!chassis) return void rows.blocked('chassis.registered', title, 'southbound', dep.systemId);
  const row = facts.sb.chassis?.find((c) => c.name === chassis);
  const mine = (facts.sb.encaps ?? []).filter((e) => e.chassis === chassis);
  const et = keys['ovn-encap-type'];
  const ei = keys['ovn-encap-ip'];
  const clash = (facts.sb.encaps ?? []).find((e) => e.chassis !== chassis && e.type === et && e.ip === ei);
  const host = facts.hostname ?? osHostname();
  const sameHost = facts.sb.chassis?.find((c) => c.name !== chassis && c.hostname === host);
  if (!row) {
    if (clash)
      rows.fail(
        'chassis.registered',
        title,
        'southbound',
        `no chassis ${chassis} in SB; chassis ${clash.chassis} holds encap ${clash.type} ${clash.ip}, so this one cannot register`,
        'chassis-id-mismatch',
        {
          kind: 'advice',
          text: `ovn-sbctl chassis-del ${clash.chassis}   (if that chassis is gone), or ${fixText(START)} --encap-ip <another address>`,
        },
      );
    else if (sameHost)
      rows.fail(
        'chassis.registered',
        title,
        'southbound',
        `no chassis ${chassis} in SB, but chassis ${sameHost.name} has this hostname (${host}): system-id changed?`,
        'chassis-id-mismatch',
        START,
      );
    else
      rows.fail(
        'chassis.registered',
        title,
        'southbound',
        `no chassis ${chassis} in SB (${facts.sb.remote})`,
        'chassis-not-registered',
        START,
      );
  } else if (et && ei && !mine.some((e) => e.type === et && e.ip === ei)) {
    const have = mine.map((e) => `${e.type} ${e.ip}`).join(', ') || 'none';
    rows.fail(
      'chassis.registered',
      title,
      'southbound',
      `chassis ${chassis} is registered with encap ${have}, not ${et} ${ei}`,
      'encap-missing',
      START,
    );
  } else {
    rows.pass(
      'chassis.registered',
      title,
      'southbound',
      `${chassis} (${mine.map((e) => `${e.type} ${e.ip}`).join(', ') || 'no encap'})`,
    );
  }
}

/**
 * Without root, the daemons' sockets and pidfiles answer "permission denied": a symptom of the root row, not a
 * daemon that is down (and so is every row blocked by such a symptom).
 */
function attributeToRoot(rows: HostCheck[], facts: HostFacts): void {
  const rootRow = rows.find((c) => c.id === 'root');
  if (facts.root || !rootRow) return;
  for (const c of rows) {
    if (
      c.layer === 'daemons' &&
      !c.ok &&
      c.required &&
      /permission denied|EACCES|not permitted/i.test(c.detail)
    ) {
      c.blockedBy = 'root';
      Object.assign(c, causeOf(rootRow));
    }
  }
  for (const c of rows) {
    const by = c.blockedBy && c.blockedBy !== 'root' ? rows.find((x) => x.id === c.blockedBy) : undefined;
    if (by?.blockedBy === 'root') Object.assign(c, causeOf(rootRow));
  }
}

/** The report's rows from the raw facts, lowest layer first. Pure. */
export function evaluateHost(facts: HostFacts, expect: HostExpectations = {}): HostReport {
  const keys: Partial<Record<ChassisKey, string>> = {};
  for (const k of CHASSIS_KEYS) {
    const v = facts.ovsdb.externalIds?.[k];
    if (v !== undefined && v !== '') keys[k] = v;
  }
  const remote = normalizeRemote(expect.remote ?? keys['ovn-remote'] ?? LOCAL_SB_REMOTE);
  const embedded = isEmbeddedRemote(remote);
  const bridgeName = expect.bridge ?? facts.ovsdb.externalIds?.['ovn-bridge'] ?? DEFAULT_BRIDGE;
  const bridgeRow = facts.ovsdb.bridges?.find((b) => b.name === bridgeName);
  const scene: Scene = {
    facts,
    expect,
    keys,
    remote,
    embedded,
    bridgeName,
    ...(bridgeRow ? { bridgeRow } : {}),
    centralFix: embedded
      ? START
      : { kind: 'advice', text: `check that the OVN central answers: ovn-sbctl --db=${remote} show` },
  };
  const rows = new Rows();
  evaluatePrerequisites(rows, scene);
  const { ovsdb, sb, controller } = evaluateDaemons(rows, scene);
  const systemId = evaluateChassisKeys(rows, scene, ovsdb);
  evaluateSouthbound(rows, scene, { controller, sb, systemId });
  const checks = rows.list;
  attributeToRoot(checks, facts);

  const chassis = keys['system-id'];
  const kernel = facts.kernelModule;
  return {
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
