/**
 * The local Open vSwitch database (one per host): the integration bridge's ports and their external_ids.
 * Reads use `find` with JSON output; writes are batched into one ovs-vsctl transaction.
 */
import { type Runner, run as runLocal } from '../exec.js';
import { EXTID_LAB } from '../plan/types.js';
import { list, map, num, parseTables, q, type Row, str } from './ovsdb-json.js';

export interface OvsInterface {
  name: string;
  externalIds: Record<string, string>;
  ofport?: number;
  error: string;
  bridge?: string;
}

export interface OvsDriver {
  /** Interfaces carrying external_ids:labctl-lab=<lab> (every lab when lab is undefined). */
  listLabInterfaces(lab?: string): Promise<OvsInterface[]>;
  /** Run ovs-vsctl commands (each an argv list) in one transaction. */
  /**
   * Run ovs-vsctl commands in one transaction. noWait: do not wait for ovs-vswitchd to reconfigure (callers that
   * prove readiness another way, e.g. ovn-installed, save ~150 ms per transaction).
   */
  transact(commands: string[][], opts?: { noWait?: boolean }): Promise<void>;
  /** Interfaces whose iface-id is one of these (any owner), e.g. to find a foreign port with our iface-id. */
  findByIfaceId(ifaceIds: string[]): Promise<OvsInterface[]>;
}

export const OVS_TIMEOUT_S = 20;

export function toInterface(row: Row): OvsInterface {
  return {
    name: str(row, 'name'),
    externalIds: map(row, 'external_ids'),
    ofport: num(row, 'ofport'),
    error: str(row, 'error'),
  };
}

/** Join commands with `--` the way ovs-vsctl and ovn-nbctl take several commands in one transaction. */
export function joinCommands(commands: string[][]): string[] {
  const out: string[] = [];
  commands.forEach((c, i) => {
    if (i > 0) out.push('--');
    out.push(...c);
  });
  return out;
}

/** The host's OVS database, or (db given, e.g. unix:/run/labctl/labs/L/hv1/db.sock) a simulated chassis's. */
export function localOvs(db?: string, run: Runner = runLocal): OvsDriver {
  const dbArgs = db === undefined ? [] : [`--db=${db}`];
  const vsctl = (args: string[], timeoutMs = OVS_TIMEOUT_S * 1000 + 5000) =>
    run('ovs-vsctl', [`--timeout=${OVS_TIMEOUT_S}`, ...dbArgs, ...args], { timeoutMs });
  return {
    async listLabInterfaces(lab) {
      const cond =
        lab === undefined ? `external_ids:${EXTID_LAB}!=""` : `external_ids:${EXTID_LAB}=${q(lab)}`;
      const r = await vsctl([
        '--format=json',
        '--data=json',
        '--columns=name,external_ids,ofport,error',
        'find',
        'Interface',
        cond,
      ]);
      return (parseTables(r.stdout)[0] ?? [])
        .map(toInterface)
        .filter((i) => lab !== undefined || i.externalIds[EXTID_LAB]);
    },
    async findByIfaceId(ifaceIds) {
      if (!ifaceIds.length) return [];
      const r = await vsctl([
        '--format=json',
        '--data=json',
        '--columns=name,external_ids,ofport,error',
        'list',
        'Interface',
      ]);
      const want = new Set(ifaceIds);
      return (parseTables(r.stdout)[0] ?? [])
        .map(toInterface)
        .filter((i) => want.has(i.externalIds['iface-id'] ?? ''));
    },
    async transact(commands, opts = {}) {
      if (!commands.length) return;
      await vsctl([...(opts.noWait ? ['--no-wait'] : []), ...joinCommands(commands)]);
    },
  };
}

export { list };
