/**
 * This host's chassis configuration in the local OVS database: the Open_vSwitch row's external_ids (system-id,
 * ovn-remote, ovn-encap-*, ovn-bridge-datapath-type), the bridges' datapath_type, and the same keys read from the
 * database file when ovsdb-server is down. The `…Argv` builders return the commands `labctl host start` plans
 * (commands as data: the plan shows them and a runner executes them); the other functions run ovs-vsctl or
 * ovsdb-tool themselves.
 */
import { existsSync } from 'node:fs';
import { run, which } from '../exec.js';
import { OVS_DB_FILE, PROBE_TIMEOUT_MS, TOOL_TIMEOUT_S } from '../host/constants.js';
import { map, parseTables, str } from './ovsdb-json.js';

export interface OvsConfig {
  keys: Record<string, string>;
  bridges: { name: string; datapathType: string }[];
}

/** Live keys and bridges from ovsdb-server (undefined when it does not answer). */
export async function readOvsConfig(): Promise<OvsConfig | undefined> {
  const r = await run(
    'ovs-vsctl',
    [
      '--timeout=5',
      '--format=json',
      '--data=json',
      '--',
      '--columns=external_ids',
      'list',
      'Open_vSwitch',
      '--',
      '--columns=name,datapath_type',
      'list',
      'Bridge',
    ],
    { reject: false, timeoutMs: 6000 },
  );
  if (r.exitCode !== 0) return undefined;
  const [ovs, bridges] = parseTables(r.stdout);
  return {
    keys: ovs?.[0] ? map(ovs[0], 'external_ids') : {},
    bridges: (bridges ?? []).map((b) => ({ name: str(b, 'name'), datapathType: str(b, 'datapath_type') })),
  };
}

/** external_ids:system-id of the Open_vSwitch row (this host's chassis name), or undefined. */
export async function readSystemId(): Promise<string | undefined> {
  const r = await run(
    'ovs-vsctl',
    [`--timeout=${TOOL_TIMEOUT_S}`, '--if-exists', 'get', 'Open_vSwitch', '.', 'external_ids:system-id'],
    {
      reject: false,
      timeoutMs: PROBE_TIMEOUT_MS,
    },
  );
  if (r.exitCode !== 0) return undefined;
  const v = r.stdout.trim().replace(/^"(.*)"$/, '$1');
  return v || undefined;
}

/**
 * `ovs-vsctl --no-wait set Open_vSwitch . external_ids:k="v" …` for these keys (values OVSDB-quoted).
 * --no-wait: the keys are written before ovs-vswitchd may run, and ovs-vsctl would otherwise wait for it to
 * reconfigure until its timeout.
 */
export function setChassisKeysArgv(keys: Record<string, string>): readonly string[] {
  return [
    'ovs-vsctl',
    '--timeout=10',
    '--no-wait',
    'set',
    'Open_vSwitch',
    '.',
    ...Object.entries(keys).map(([k, v]) => `external_ids:${k}=${JSON.stringify(v)}`),
  ];
}

/** `ovs-vsctl --no-wait set Bridge NAME datapath_type=TYPE`. */
export function setBridgeDatapathArgv(bridge: string, datapathType: string): readonly string[] {
  return ['ovs-vsctl', '--timeout=10', '--no-wait', 'set', 'Bridge', bridge, `datapath_type=${datapathType}`];
}

/** Set a bridge's datapath_type now; throws when ovs-vsctl fails. */
export async function setBridgeDatapathType(bridge: string, datapathType: string): Promise<void> {
  const [file, ...args] = setBridgeDatapathArgv(bridge, datapathType) as [string, ...string[]];
  await run(file, args);
}

/**
 * The Open_vSwitch row's external_ids as stored in the database file, for when ovsdb-server is down
 * (ovsdb-tool reads the file; nothing is written). undefined when there is no database yet.
 */
export async function readStoredOvsExternalIds(
  dbFile = OVS_DB_FILE,
): Promise<Record<string, string> | undefined> {
  if (!existsSync(dbFile) || !which('ovsdb-tool')) return undefined;
  const query = JSON.stringify([
    'Open_vSwitch',
    { op: 'select', table: 'Open_vSwitch', where: [], columns: ['external_ids'] },
  ]);
  const r = await run('ovsdb-tool', ['query', dbFile, query], { reject: false, timeoutMs: 10_000 });
  if (r.exitCode !== 0) return undefined;
  try {
    const doc = JSON.parse(r.stdout) as { rows?: { external_ids?: unknown }[] }[];
    const ids = doc[0]?.rows?.[0]?.external_ids;
    if (!ids) return {};
    // reuse the OVSDB value decoder: wrap the cell like a one-row table
    const rows = parseTables(JSON.stringify({ headings: ['external_ids'], data: [[ids]] }))[0] ?? [];
    return rows[0] ? map(rows[0], 'external_ids') : {};
  } catch {
    return undefined;
  }
}
