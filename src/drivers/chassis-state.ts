/**
 * Reads of a multi-chassis lab's runtime for the doctor (checks/chassis-*.ts, checks/tunnel-*.ts): the SB's
 * Chassis rows and their encaps, each chassis's geneve tunnel ports, its underlay uplink, reachability of the other
 * chassis's tunnel addresses, and whether its ovn-controller is connected to the SB. Each read is bounded.
 */
import { type Runner, run } from '../exec.js';
import { centralPaths, chassisNaming, chassisPaths } from '../plan/chassis-naming.js';
import { joinCommands } from './ovs.js';
import { list, map, num, parseTables, str } from './ovsdb-json.js';
import { controllerCtl } from './sim-chassis.js';

export interface SbChassis {
  name: string;
  encapIps: string[];
}

export async function sbChassis(lab: string): Promise<SbChassis[]> {
  const r = await run(
    'ovn-sbctl',
    [
      '--timeout=10',
      `--db=unix:${centralPaths(lab).sbSock}`,
      '--format=json',
      '--data=json',
      ...joinCommands([
        ['--columns=name,encaps', 'list', 'Chassis'],
        ['--columns=_uuid,ip', 'list', 'Encap'],
      ]),
    ],
    { timeoutMs: 15_000 },
  );
  const [ch = [], enc = []] = parseTables(r.stdout);
  const ipOf = new Map(enc.map((e) => [str(e, '_uuid'), str(e, 'ip')]));
  return ch.map((c) => ({ name: str(c, 'name'), encapIps: list(c, 'encaps').map((u) => ipOf.get(u) ?? '') }));
}

export interface TunnelPort {
  name: string;
  remoteIp: string;
  ofport?: number;
  error: string;
  /** packets counted on the port (the userspace datapath counts per flow set-up, not per packet) */
  rx: number;
  tx: number;
}

export async function tunnelPorts(lab: string, chassis: string, remote?: Runner): Promise<TunnelPort[]> {
  // a remote chassis (remote given: its runner over ssh): the machine's own OVS database
  const r = await (remote ?? run)(
    'ovs-vsctl',
    [
      '--timeout=10',
      ...(remote ? [] : [`--db=unix:${chassisPaths(lab, chassis).dbSock}`]),
      '--format=json',
      '--data=json',
      '--columns=name,options,ofport,error,statistics',
      'find',
      'Interface',
      'type=geneve',
    ],
    { timeoutMs: 15_000 },
  );
  return (parseTables(r.stdout)[0] ?? []).map((row) => {
    const stats = map(row, 'statistics') as unknown as Record<string, number>;
    return {
      name: str(row, 'name'),
      remoteIp: map(row, 'options').remote_ip ?? '',
      ofport: num(row, 'ofport'),
      error: str(row, 'error'),
      rx: Number(stats.rx_packets ?? 0),
      tx: Number(stats.tx_packets ?? 0),
    };
  });
}

export interface Uplink {
  exists: boolean;
  up: boolean;
  operstate: string;
  mtu: number;
}

/** A chassis's underlay link (ul0 in its netns; a remote chassis's own uplink device over its runner). */
export async function uplinkState(netns: string, remote?: { run: Runner; dev: string }): Promise<Uplink> {
  const args = remote
    ? ['-j', 'link', 'show', 'dev', remote.dev]
    : ['-n', netns, '-j', 'link', 'show', 'dev', chassisNaming.uplink];
  const r = await (remote?.run ?? run)('ip', args, {
    timeoutMs: 10_000,
    reject: false,
  });
  if (r.exitCode !== 0) return { exists: false, up: false, operstate: 'missing', mtu: 0 };
  const [l] = JSON.parse(r.stdout) as { flags?: string[]; operstate: string; mtu: number }[];
  return {
    exists: true,
    up: (l?.flags ?? []).includes('UP'),
    operstate: l?.operstate ?? '',
    mtu: l?.mtu ?? 0,
  };
}

/**
 * Ping a tunnel address from a chassis's netns (from its br-phy address). Besides proving the underlay, this makes
 * OVS learn the peer's MAC (it snoops the ARP reply on br-phy), so the first packet of a probe is not lost.
 */
export async function underlayPing(
  netns: string,
  ip: string,
  remote?: Runner,
): Promise<{ ok: boolean; received: number }> {
  const ping = ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', ip];
  const opts = { timeoutMs: 10_000, reject: false };
  const r = remote
    ? await remote('ping', ping.slice(1), opts)
    : await run('ip', ['netns', 'exec', netns, ...ping], opts);
  const m = /(\d+) received/.exec(r.stdout);
  const received = m ? Number(m[1]) : 0;
  return { ok: received > 0, received };
}

/** ovn-controller's connection to the SB: "connected", something else, or undefined when it does not answer. */
export async function controllerStatus(lab: string, chassis: string): Promise<string | undefined> {
  const ctl = controllerCtl(lab, chassis);
  if (!ctl) return undefined;
  const r = await run('ovn-appctl', ['-T', '3', '-t', ctl, 'connection-status'], {
    timeoutMs: 6_000,
    reject: false,
  });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}
