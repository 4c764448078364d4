/**
 * The two scripted baselines: hand-wiring (bench/hand-wire.sh, one command at a time) and Mininet's pingAll
 * (bench/mininet-pingall.py, through Mininet's Python API — never /usr/bin/mn, whose error path runs `mn -c`).
 * Both name everything after the run's tag, and both have a cleanup that removes exactly what that tag made.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeFailure, ROOT, runTimed } from './proc.js';

export const HAND_WIRE = join(ROOT, 'bench', 'hand-wire.sh');
export const MININET_PY = join(ROOT, 'bench', 'mininet-pingall.py');
const PYTHON = '/usr/bin/python3';

export interface HandWireTimes {
  upMs: number;
  downMs: number;
  /** ports with ovn-installed=true when the up script returned (should be N) */
  installed: number;
}

async function countInstalled(tag: string): Promise<number> {
  const r = await runTimed(
    'ovs-vsctl',
    [
      '--timeout=20',
      '--format=json',
      '--data=json',
      '--columns=external_ids',
      'find',
      'Interface',
      `external_ids:labctl-bench=${tag}`,
    ],
    { timeoutMs: 25_000 },
  );
  if (r.exitCode !== 0) return -1;
  const data = (JSON.parse(r.stdout) as { data: [['map', [string, string][]]][] }).data;
  return data.filter((row) => row[0][1].some(([k, v]) => k === 'ovn-installed' && v === 'true')).length;
}

export async function handWireRun(tag: string, n: number, image: string): Promise<HandWireTimes> {
  const env = { IMAGE: image };
  const up = await runTimed('bash', [HAND_WIRE, 'up', tag, String(n)], {
    timeoutMs: 90_000 + n * 3000,
    env,
    group: true,
  });
  if (up.exitCode !== 0) throw new Error(describeFailure(`hand-wire.sh up ${tag} ${n}`, up));
  const installed = await countInstalled(tag);
  const down = await runTimed('bash', [HAND_WIRE, 'down', tag, String(n)], {
    timeoutMs: 60_000 + n * 2000,
    env,
    group: true,
  });
  if (down.exitCode !== 0) throw new Error(describeFailure(`hand-wire.sh down ${tag} ${n}`, down));
  return { upMs: up.wallMs, downMs: down.wallMs, installed };
}

export async function handWireClean(tag: string): Promise<void> {
  const r = await runTimed('bash', [HAND_WIRE, 'clean', tag], { timeoutMs: 120_000, group: true });
  if (r.exitCode !== 0) throw new Error(describeFailure(`hand-wire.sh clean ${tag}`, r));
}

// ---- Mininet

export interface MininetResult {
  n: number;
  buildS: number;
  pingallS: number;
  stopS: number;
  lossPct: number;
  pings: number;
}

export async function mininetAvailable(): Promise<string | undefined> {
  if (!existsSync(PYTHON)) return `mininet not installed (${PYTHON} missing)`;
  const r = await runTimed(PYTHON, ['-c', 'import mininet.net, mininet.node'], { timeoutMs: 20_000 });
  return r.exitCode === 0 ? undefined : 'mininet not installed (apt-get install mininet)';
}

export const mininetNames = (tag: string) => ({ bridge: `lbmn${tag}`, hostPrefix: `mh${tag}x` });

async function bridgeExists(name: string): Promise<boolean> {
  const r = await runTimed('ovs-vsctl', ['--timeout=20', 'br-exists', name], { timeoutMs: 25_000 });
  if (r.exitCode === 0) return true;
  if (r.exitCode === 2) return false;
  throw new Error(describeFailure(`ovs-vsctl br-exists ${name}`, r));
}

export async function mininetRun(tag: string, n: number, pidFile: string): Promise<MininetResult> {
  const { bridge, hostPrefix } = mininetNames(tag);
  if (await bridgeExists(bridge))
    throw new Error(`bridge ${bridge} already exists; not ours to reuse (run with --cleanup-only)`);
  // One ping per ordered pair with a 1 s reply timeout: bounded by n·(n−1) s even if nothing answers.
  const r = await runTimed(PYTHON, [MININET_PY, String(n), bridge, hostPrefix, pidFile], {
    timeoutMs: 120_000 + n * (n - 1) * 1000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.exitCode !== 0 || !line.startsWith('{'))
    throw new Error(describeFailure(`mininet-pingall.py ${n}`, r));
  return JSON.parse(line) as MininetResult;
}

/** Remove what a Mininet run of this tag left behind: its host shells (by the pids it wrote), its bridge, its veths. */
export async function mininetClean(tag: string, pidFile: string): Promise<void> {
  const { bridge, hostPrefix } = mininetNames(tag);
  if (existsSync(pidFile)) {
    for (const pid of readFileSync(pidFile, 'utf8')
      .split('\n')
      .map(Number)
      .filter((p) => p > 1)) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // already gone
      }
      if (cmdline.includes(`mininet:${hostPrefix}`) || cmdline.includes(`mininet:${bridge}`))
        process.kill(pid, 'SIGKILL');
    }
    rmSync(pidFile, { force: true });
  }
  if (await bridgeExists(bridge))
    await runTimed('ovs-vsctl', ['--timeout=20', '--if-exists', 'del-br', bridge], { timeoutMs: 25_000 });
  const links = await runTimed('ip', ['-o', 'link', 'show'], { timeoutMs: 10_000 });
  const re = new RegExp(`^${bridge}-eth\\d+$`);
  for (const dev of links.stdout.split('\n').map((l) => (l.split(': ')[1] ?? '').split('@')[0]!)) {
    if (re.test(dev)) await runTimed('ip', ['link', 'del', dev], { timeoutMs: 10_000 });
  }
}
