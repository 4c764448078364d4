/**
 * probeHost: what is present and running on this host, one structured row per component (report.ts), gathered
 * concurrently with every command bounded (≤ 5 s). Nothing is changed. `labctl host check` prints it, the doctor's
 * host layer reuses it, and assertHostReady() — the first thing `labctl up` does — turns its lowest failure into
 * one error line with the fix.
 */
import { hostname } from 'node:os';
import {
  probeAppctl,
  probeNbConnection,
  probeOvsdbRows,
  probeSbRows,
  vswitchdCrashes,
} from '../drivers/daemon-probes.js';
import { DOCKER_SOCKET, loadDockerode } from '../drivers/docker-client.js';
import { readSystemId } from '../drivers/ovs-config.js';
import { map, parseTables, str } from '../drivers/ovsdb-json.js';
import { envError } from '../errors.js';
import { which } from '../exec.js';
import type { PlanOvn } from '../plan/types.js';
import {
  isEmbeddedRemote,
  LOCAL_SB_REMOTE,
  normalizeRemote,
  OPTIONAL_TOOLS,
  PROBE_TIMEOUT_MS,
  REQUIRED_TOOLS,
} from './constants.js';
import {
  evaluateHost,
  firstFailure,
  type HostExpectations,
  type HostFacts,
  type HostReport,
} from './report.js';
import { isRoot, kernelModuleState } from './system.js';

export type { HostCheck, HostCheckId, HostExpectations, HostReport } from './report.js';
export { firstFailure } from './report.js';

export interface ProbeOptions extends HostExpectations {
  /** Docker socket (default: LABCTL_DOCKER_SOCKET or /var/run/docker.sock) */
  dockerSocket?: string;
}

const firstLine = (s: string) => s.split('\n')[0]?.trim() ?? '';

/**
 * dockerd answers /_ping from a goroutine of its own, so a daemon whose network controller is deadlocked (a known
 * Docker 20.10 libnetwork bug under many concurrent container exits: every create, start and /info then hangs)
 * still pings. /info takes that lock: answering ping but not /info within the bound means "hung", not "up".
 */
async function probeDockerApi(socketPath: string): Promise<HostFacts['docker']> {
  const Docker = await loadDockerode();
  const docker = new Docker({ socketPath, timeout: PROBE_TIMEOUT_MS });
  try {
    await docker.ping();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const why =
      e.code === 'ENOENT'
        ? 'no socket'
        : e.code === 'ECONNREFUSED'
          ? 'connection refused'
          : e.code === 'EACCES'
            ? 'permission denied'
            : firstLine(e.message ?? String(err));
    return { ok: false, detail: `no answer on ${socketPath} (${why})` };
  }
  try {
    const info = (await docker.info()) as { ServerVersion?: string; ContainersRunning?: number };
    return {
      ok: true,
      detail: `Docker ${info.ServerVersion ?? '?'} on ${socketPath} (${info.ContainersRunning ?? '?'} containers running)`,
    };
  } catch (err) {
    const why = firstLine((err as Error).message ?? String(err));
    return {
      ok: false,
      hung: true,
      detail: `answers /_ping on ${socketPath} but not /info within ${PROBE_TIMEOUT_MS / 1000} s (${why}): dockerd is hung`,
    };
  }
}

async function probeOvsdb(): Promise<HostFacts['ovsdb']> {
  const r = await probeOvsdbRows();
  if (!r.ok) return r;
  try {
    const [ovsRows, bridgeRows] = parseTables(r.detail);
    const row = ovsRows?.[0];
    const ovsVersion = row ? str(row, 'ovs_version') : '';
    return {
      ok: true,
      detail: `answers${ovsVersion ? ` (Open vSwitch ${ovsVersion})` : ''}`,
      externalIds: row ? map(row, 'external_ids') : {},
      ovsVersion,
      bridges: (bridgeRows ?? []).map((b) => ({
        name: str(b, 'name'),
        datapathType: str(b, 'datapath_type'),
      })),
    };
  } catch (err) {
    return { ok: false, detail: `unreadable answer from ovs-vsctl: ${(err as Error).message}` };
  }
}

async function probeSb(remote: string): Promise<HostFacts['sb']> {
  const r = await probeSbRows(remote);
  if (!r.ok) return { ...r, remote };
  try {
    const [chassisRows, encapRows] = parseTables(r.detail);
    const chassis = (chassisRows ?? []).map((c) => ({ name: str(c, 'name'), hostname: str(c, 'hostname') }));
    return {
      ok: true,
      detail: `answers (${chassis.length} chassis)`,
      remote,
      chassis,
      encaps: (encapRows ?? []).map((e) => ({
        type: str(e, 'type'),
        ip: str(e, 'ip'),
        chassis: str(e, 'chassis_name'),
      })),
    };
  } catch (err) {
    return { ok: false, detail: `unreadable answer from ovn-sbctl: ${(err as Error).message}`, remote };
  }
}

/** Gather the raw facts (concurrently). */
export async function gatherHostFacts(opts: ProbeOptions = {}): Promise<HostFacts> {
  const tools = Object.fromEntries(REQUIRED_TOOLS.map((t) => [t, Boolean(which(t))]));
  const optionalTools = Object.fromEntries(OPTIONAL_TOOLS.map((t) => [t, Boolean(which(t))]));
  const ovsdbP = probeOvsdb();
  // The SB to look at: the expected remote, else the one ovn-controller is configured with, else the embedded one.
  const remoteP = opts.remote
    ? Promise.resolve(normalizeRemote(opts.remote))
    : ovsdbP.then((o) => normalizeRemote(o.externalIds?.['ovn-remote'] || LOCAL_SB_REMOTE));
  const embeddedP = remoteP.then(isEmbeddedRemote);
  const nbP = embeddedP.then((embedded) => {
    const nb = opts.nb ?? (embedded ? undefined : null);
    if (nb === null) return undefined; // remote central, NB address unknown: not checked
    return probeNbConnection(nb).then((r) =>
      r.ok ? { ok: true, detail: `answers${nb ? ` on ${nb}` : ''}` } : r,
    );
  });
  const northdP = embeddedP.then(async (embedded) => {
    if (!embedded) return undefined;
    const [version, status] = await Promise.all([
      probeAppctl('ovn-appctl', 'ovn-northd', 'version'),
      probeAppctl('ovn-appctl', 'ovn-northd', 'status'),
    ]);
    return version.ok && status.ok
      ? { ...version, status: status.detail.replace(/^Status:\s*/i, 'status ') }
      : version;
  });
  const controllerP = probeAppctl('ovn-appctl', 'ovn-controller', 'version');
  const connectionP = controllerP.then((c) =>
    c.ok ? probeAppctl('ovn-appctl', 'ovn-controller', 'connection-status') : undefined,
  );

  const [kernelModule, docker, ovsdb, vswitchd, nb, sb, northd, controller, connection] = await Promise.all([
    kernelModuleState(),
    probeDockerApi(opts.dockerSocket ?? DOCKER_SOCKET),
    ovsdbP,
    probeAppctl('ovs-appctl', 'ovs-vswitchd', 'version').then((v) => {
      const crashes = vswitchdCrashes();
      return crashes ? { ...v, crashes } : v;
    }),
    nbP,
    remoteP.then(probeSb),
    northdP,
    controllerP,
    connectionP,
  ]);
  const facts: HostFacts = {
    root: isRoot(),
    hostname: hostname(),
    tools,
    optionalTools,
    kernelModule,
    docker,
    ovsdb,
    vswitchd,
    sb,
    controller,
  };
  if (nb) facts.nb = nb;
  if (northd) facts.northd = northd;
  if (connection) facts.connection = connection;
  return facts;
}

export async function probeHost(opts: ProbeOptions = {}): Promise<HostReport> {
  return evaluateHost(await gatherHostFacts(opts), opts);
}

/** The expectations a lab's `ovn:` block puts on the host (no remote = the embedded central on this host). */
export function expectationsFor(ovn: PlanOvn): HostExpectations {
  return {
    remote: ovn.remote ?? LOCAL_SB_REMOTE,
    ...(ovn.nb ? { nb: ovn.nb } : {}),
    encap: { type: ovn.encap.type, ip: ovn.encap.ip },
    datapath: ovn.datapath,
    bridge: ovn.bridge,
  };
}

/** One line for an error: the lowest broken component, what is wrong, and how many more rows fail. */
export function describeFailure(report: HostReport): { message: string; fix: string } | undefined {
  const bad = firstFailure(report);
  if (!bad) return undefined;
  const others = report.checks.filter((c) => c.required && !c.ok && c !== bad).length;
  const more = others
    ? ` (+${others} more failing host check${others > 1 ? 's' : ''}: labctl host check)`
    : '';
  return {
    message: `host not ready: ${bad.title}: ${bad.detail} [${bad.cause}]${more}`,
    fix: bad.fix ?? 'labctl host start',
  };
}

/**
 * Called first by `labctl up`: fast (probes run concurrently, each ≤ 5 s), touches nothing, and throws an
 * environment error (exit 2) naming the lowest broken component and the command that fixes it.
 */
export async function assertHostReady(ovn: PlanOvn): Promise<void> {
  if (!isRoot()) {
    throw envError(
      'labctl must run as root: it creates network namespaces, veth pairs and OVS ports',
      'run labctl as root (sudo labctl …)',
    );
  }
  const report = await probeHost(expectationsFor(ovn));
  const failure = describeFailure(report);
  if (failure) throw envError(failure.message, failure.fix);
}

/** This host's chassis name (external_ids:system-id on the Open_vSwitch row), or undefined when it has none. */
export async function localChassisName(): Promise<string | undefined> {
  return readSystemId();
}

/** This host's chassis name; an environment error when ovsdb-server does not answer or no system-id is set. */
export async function getChassisName(): Promise<string> {
  const name = await localChassisName();
  if (!name) {
    throw envError(
      'this host has no OVN chassis name (external_ids:system-id) or ovsdb-server does not answer',
      'labctl host start',
    );
  }
  return name;
}
