/**
 * Test helpers for integration tests: run the built CLI, read the real daemons, probe from inside a container's
 * network namespace with the host's own node binary (the test checks packets itself, not through labctl).
 */

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { STATE_DIR } from '../../src/apply/state.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The CLI as installed (package.json "bin"): the bundle of dist/src that scripts/bundle.mjs writes. */
export const CLI = join(ROOT, 'dist', 'labctl.mjs');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Build dist and the CLI bundle once per test file (what `npm run build` does; cheap when up to date). */
export async function buildOnce(): Promise<void> {
  if (process.env.LABCTL_SKIP_BUILD && existsSync(CLI)) return;
  await execa('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, reject: false });
  const bundle = await execa(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], {
    cwd: ROOT,
    reject: false,
  });
  if (bundle.exitCode !== 0 || !existsSync(CLI))
    throw new Error(
      `build failed: dist/labctl.mjs missing (scripts/bundle.mjs: ${String(bundle.stderr).trim()})`,
    );
}

export async function labctl(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const r = await execa(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    reject: false,
    timeout: opts.timeoutMs ?? 180_000,
    env: { ...opts.env, CI: process.env.CI ?? '' },
    stdin: 'ignore',
  });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function sh(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  const r = await execa(file, args, { timeout: timeoutMs, stdin: 'ignore' });
  return String(r.stdout).trim();
}

export async function shMaybe(
  file: string,
  args: string[],
  timeoutMs = 30_000,
): Promise<{ ok: boolean; out: string; err: string }> {
  const r = await execa(file, args, { timeout: timeoutMs, reject: false, stdin: 'ignore' });
  return { ok: r.exitCode === 0, out: String(r.stdout).trim(), err: String(r.stderr).trim() };
}

export async function containerPid(name: string): Promise<number> {
  return Number(await sh('docker', ['inspect', '-f', '{{.State.Pid}}', name]));
}

/** Rows of an OVSDB table as JSON objects (ovs-vsctl / ovn-nbctl / ovn-sbctl find). */
export async function ovsdbFind(
  tool: 'ovs-vsctl' | 'ovn-nbctl' | 'ovn-sbctl',
  table: string,
  columns: string[],
  cond: string[] = [],
) {
  const out = await sh(tool, [
    '--timeout=10',
    '--format=json',
    '--data=json',
    `--columns=${columns.join(',')}`,
    'find',
    table,
    ...cond,
  ]);
  const doc = JSON.parse(out) as { headings: string[]; data: unknown[][] };
  const decode = (v: unknown): unknown => {
    if (!Array.isArray(v)) return v;
    if (v[0] === 'uuid') return v[1];
    if (v[0] === 'set') return (v[1] as unknown[]).map(decode);
    if (v[0] === 'map')
      return Object.fromEntries((v[1] as [unknown, unknown][]).map(([k, x]) => [k, decode(x)]));
    return v;
  };
  return doc.data.map((row) => Object.fromEntries(doc.headings.map((h, i) => [h, decode(row[i])]))) as Record<
    string,
    unknown
  >[];
}

const PROBE_SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const port = Number(process.argv[1]);
const t = net.createServer((s) => { s.on('data', (d) => { s.end('pong:' + d); }); s.on('error', () => {}); }).listen(port, '0.0.0.0');
const u = dgram.createSocket('udp4'); u.on('message', (m, r) => u.send('pong:' + m, r.port, r.address)); u.bind(port, '0.0.0.0');
setTimeout(() => process.exit(0), Number(process.argv[2]));
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
console.log('ready');
`;

const PROBE_CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [ip, port, proto] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
const done = (r) => { console.log(r); process.exit(0); };
setTimeout(() => done('timeout'), 3000);
if (proto === 'tcp') {
  const s = net.connect(port, ip, () => s.write('ping'));
  s.on('data', (d) => done(String(d)));
  s.on('error', (e) => done(e.code));
} else {
  const u = dgram.createSocket('udp4');
  u.on('message', (m) => done(String(m)));
  u.on('error', (e) => done(e.code));
  u.send('ping', port, ip);
}
`;

/** Start a TCP+UDP echo server inside the netns of `pid`; returns a stop function. */
export async function startEchoServer(pid: number, port: number, lifetimeMs = 60_000): Promise<() => void> {
  const child = execa(
    'nsenter',
    ['-t', String(pid), '-n', process.execPath, '-e', PROBE_SERVER, String(port), String(lifetimeMs)],
    {
      reject: false,
      stdin: 'pipe',
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('echo server did not start')), 10_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return () => {
    child.stdin?.end();
    child.kill();
  };
}

/** One TCP or UDP exchange from inside the netns of `pid`; returns the reply ("pong:ping") or the failure. */
export async function probe(pid: number, ip: string, port: number, proto: 'tcp' | 'udp'): Promise<string> {
  return sh(
    'nsenter',
    ['-t', String(pid), '-n', process.execPath, '-e', PROBE_CLIENT, ip, String(port), proto],
    10_000,
  );
}

export async function ping(pid: number, ip: string): Promise<boolean> {
  return (await shMaybe('nsenter', ['-t', String(pid), '-n', 'ping', '-c', '1', '-W', '2', '-n', ip])).ok;
}

/**
 * Every northbound table labctl writes rows to (all carry external_ids:labctl-lab). A table this OVN's schema
 * does not have (older releases), or that has no external_ids there, counts as empty.
 */
export const NB_LABELLED_TABLES = [
  'Logical_Switch',
  'Logical_Switch_Port',
  'Logical_Router',
  'Logical_Router_Port',
  'ACL',
  'Logical_Router_Static_Route',
  'NAT',
  'Load_Balancer',
  'Port_Group',
  'Address_Set',
  'DHCP_Options',
  'DNS',
  'Logical_Router_Policy',
  'QoS',
] as const;

/** Rows of each NB table with external_ids:labctl-lab=<lab> (only the tables that have any). */
export async function nbRowsOfLab(lab: string): Promise<Record<string, number>> {
  const counts = await Promise.all(
    NB_LABELLED_TABLES.map(async (table) => {
      const r = await execa(
        'ovn-nbctl',
        [
          '--timeout=10',
          '--format=json',
          '--data=json',
          '--columns=_uuid',
          'find',
          table,
          `external_ids:labctl-lab=${lab}`,
        ],
        { timeout: 15_000, reject: false, stdin: 'ignore' },
      );
      if (r.exitCode !== 0) {
        // not in this schema, or without external_ids in it: nothing of the lab can be there
        if (/unknown table|does not contain a column/i.test(String(r.stderr))) return [table, 0] as const;
        throw new Error(`ovn-nbctl find ${table} failed: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`);
      }
      return [table, (JSON.parse(String(r.stdout)) as { data: unknown[] }).data.length] as const;
    }),
  );
  return Object.fromEntries(counts.filter(([, n]) => n > 0));
}

/**
 * Everything of a lab left on the host, by label and alias: containers (label labctl.lab), OVS Interface rows and
 * NB rows of every table labctl writes (external_ids:labctl-lab), host-side veths (alias labctl:<lab>) and the
 * state directory. Zero residue is `{ containers: [], ovs: 0, links: [], nb: 0, state: false }`; when NB rows
 * are left, nbTables names their tables (it is undefined otherwise, which toEqual ignores).
 */
export async function residue(lab: string) {
  const [containersOut, ovs, linksOut, nbTables] = await Promise.all([
    sh('docker', ['ps', '-a', '--filter', `label=labctl.lab=${lab}`, '--format', '{{.Names}}']),
    ovsdbFind('ovs-vsctl', 'Interface', ['name'], [`external_ids:labctl-lab=${lab}`]),
    sh('ip', ['-j', 'link', 'show']),
    nbRowsOfLab(lab),
  ]);
  const containers = containersOut.split('\n').filter(Boolean);
  const links = (JSON.parse(linksOut) as { ifname: string; ifalias?: string }[]).filter(
    (l) => l.ifalias === `labctl:${lab}`,
  );
  const nb = Object.values(nbTables).reduce((a, n) => a + n, 0);
  // The saved plan's directory (state.json) goes with the lab.
  const state = existsSync(join(STATE_DIR, 'labs', lab));
  return {
    containers,
    ovs: ovs.length,
    links: links.map((l) => l.ifname),
    nb,
    nbTables: nb ? nbTables : undefined,
    state,
  };
}

/** Requires the daemons; in CI a missing daemon is a failure, never a skip. */
export async function daemonsUp(): Promise<boolean> {
  const checks = await Promise.all([
    shMaybe('docker', ['info', '--format', '{{.ServerVersion}}'], 10_000),
    shMaybe('ovs-vsctl', ['--timeout=5', 'show'], 10_000),
    shMaybe('ovn-nbctl', ['--timeout=5', 'show'], 10_000),
  ]).catch(() => [{ ok: false }]);
  const ok = checks.every((c) => c.ok);
  if (!ok && process.env.CI)
    throw new Error(
      'CI=true but dockerd/OVS/OVN are not running: .ci/run must start them (labctl host start)',
    );
  return ok;
}
