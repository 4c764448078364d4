/**
 * labctl's benchmark (`npm run bench -- [--runs 3] [--sizes 10,20,25,50] …`; docs/bench.md explains every number).
 *
 * For each size N (one switch) and a routed lab, in every run: the parallel-container floor (start, remove),
 * `labctl up`, `labctl doctor` (full mesh), `labctl down`, hand-wiring (bench/hand-wire.sh up, down) and Mininet's
 * pingAll — interleaved per size so machine noise hits all of them alike. Then validate+compile of a 2000-node
 * lab. Medians, ratios and targets are printed as a table and written to bench/results/.
 *
 * Safety: one bench at a time (a pid lock); everything created is named and labelled by the bench and removed at
 * the end, on error and on SIGINT/SIGTERM/SIGHUP; leftovers of a killed earlier run are removed first. Every
 * child process has a time limit and every loop a fixed count.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { handWireClean, handWireRun, mininetAvailable, mininetClean, mininetRun } from './lib/baselines.js';
import {
  checkpoint,
  installSignalHandlers,
  isAborted,
  onCleanup,
  runCleanup,
  setMainFlow,
} from './lib/cleanup.js';
import { chassisRatio, doctorJson, dualStackRatio, injectedFault } from './lib/doctor-runs.js';
import { BENCH_LABEL, docker, dockerLiveness, floorRun, removeBenchContainers } from './lib/floor.js';
import { type FlowAgentCost, formatFlowAgent, measureFlowAgent } from './lib/flow-agent.js';
import {
  type BenchLab,
  bigLab,
  dualStackLab,
  multiChassisLab,
  routedLab,
  singleSwitchLab,
} from './lib/labs.js';
import {
  BENCH_DIST,
  describeFailure,
  distRoot,
  labctl,
  ROOT,
  removeSnapshot,
  runTimed,
  snapshotDist,
} from './lib/proc.js';
import {
  type CompileResult,
  evaluate,
  medianTrace,
  type Row,
  renderReport,
  type ScenarioRuns,
  type StartupResult,
  type Target,
} from './lib/report.js';
import { median, round } from './lib/stats.js';
import { summarizeTrace } from './lib/trace.js';

const LOCK = '/run/labctl-bench.lock';
const PIDFILE_DIR = '/run';
const mnPidFile = (tag: string) => join(PIDFILE_DIR, `labctl-bench-mininet-${tag}.pids`);

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Options {
  runs: number;
  sizes: number[];
  /** single-switch sizes measured for the doctor only (up and down are recorded, nothing else runs) */
  doctorSizes: number[];
  routed?: { nets: number; perNet: number };
  /** the routed lab again over this many simulated chassis (up, doctor, down only) */
  chassis?: number;
  /** the routed lab again dual-stack (up, doctor, down only): the doctor over both families vs IPv4 alone */
  dualStack: boolean;
  big: number;
  image: string;
  floor: boolean;
  handwire: boolean;
  mininet: boolean;
  doctor: boolean;
  settleMs: number;
  floorRmConcurrency: number;
  out: string;
  save: boolean;
  cleanupOnly: boolean;
  /** measure the flow agent's CPU per 1000 packets (labctl run) */
  flowAgent: boolean;
  flowAgentOnly: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '3' },
      sizes: { type: 'string', default: '10,20,25,50' },
      'doctor-sizes': { type: 'string', default: '100,200' },
      routed: { type: 'string', default: '3x10' },
      chassis: { type: 'string', default: '3' },
      'no-dual-stack': { type: 'boolean', default: false },
      big: { type: 'string', default: '2000' },
      image: { type: 'string', default: 'labctl/node' },
      'no-floor': { type: 'boolean', default: false },
      'no-handwire': { type: 'boolean', default: false },
      'no-mininet': { type: 'boolean', default: false },
      'no-doctor': { type: 'boolean', default: false },
      settle: { type: 'string', default: '1000' },
      'floor-rm-concurrency': { type: 'string', default: '12' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
      'no-save': { type: 'boolean', default: false },
      'cleanup-only': { type: 'boolean', default: false },
      'no-flow-agent': { type: 'boolean', default: false },
      'flow-agent-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      [
        'usage: npm run bench -- [options]',
        '  --runs N            runs of every measurement; medians are reported (default 3, max 20)',
        '  --sizes LIST        single-switch lab sizes (default 10,20,25,50; each 2..250)',
        '  --doctor-sizes LIST single-switch sizes for the full-mesh doctor only: up, doctor, down; no floor,',
        '                      hand-wiring or Mininet (default 100,200; each 2..250; "none" to skip)',
        '  --routed NxM        routed lab: N networks × M nodes and one router (default 3x10; "none" to skip)',
        '  --chassis C         the routed lab again over C simulated chassis: up, doctor, down (default 3; "none")',
        "  --no-dual-stack     skip the routed lab's dual-stack twin (up, doctor over IPv4 and IPv6, down)",
        '  --big N             nodes of the validate+compile lab (default 2000; 0 to skip)',
        '  --image IMAGE       node image (default labctl/node; must be on this host)',
        '  --no-floor --no-handwire --no-mininet --no-doctor   skip a part',
        '  --settle MS         pause between measured steps (default 1000)',
        '  --floor-rm-concurrency K   floor removes K containers at a time (default 12, the bound labctl down',
        '                      uses; 0 = all at once, which can deadlock Docker 20.10.24: moby/moby#46661)',
        '  --out DIR           results directory (default bench/results)   --no-save   write nothing',
        '  --cleanup-only      remove everything earlier bench runs left behind, then exit',
        "  --no-flow-agent     skip the flow agent's CPU per 1000 packets (labctl run)   --flow-agent-only   only that",
        '',
      ].join('\n'),
    );
    process.exit(0);
  }
  const int = (s: string, name: string, min: number, max: number) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer ${min}..${max}, got ${s}`);
    return n;
  };
  const sizes = [
    ...new Set(
      values
        .sizes!.split(',')
        .filter(Boolean)
        .map((s) => int(s, 'sizes', 2, 250)),
    ),
  ].sort((a, b) => a - b);
  const doctorSizes =
    values['doctor-sizes'] === 'none' || values['no-doctor']
      ? []
      : [
          ...new Set(
            values['doctor-sizes']!.split(',')
              .filter(Boolean)
              .map((s) => int(s, 'doctor-sizes', 2, 250)),
          ),
        ]
          .filter((n) => !sizes.includes(n))
          .sort((a, b) => a - b);
  let routed: Options['routed'];
  if (values.routed !== 'none') {
    const m = /^(\d+)x(\d+)$/.exec(values.routed!);
    if (!m) throw new Error(`--routed must look like 3x10 or none, got ${values.routed}`);
    routed = { nets: int(m[1]!, 'routed', 2, 8), perNet: int(m[2]!, 'routed', 1, 100) };
  }
  return {
    runs: int(values.runs!, 'runs', 1, 20),
    sizes,
    doctorSizes,
    ...(routed ? { routed } : {}),
    ...(routed && values.chassis !== 'none' ? { chassis: int(values.chassis!, 'chassis', 2, 8) } : {}),
    dualStack: !!routed && !values['no-dual-stack'],
    big: int(values.big!, 'big', 0, 20000),
    image: values.image!,
    floor: !values['no-floor'],
    handwire: !values['no-handwire'],
    mininet: !values['no-mininet'],
    doctor: !values['no-doctor'],
    settleMs: int(values.settle!, 'settle', 0, 60_000),
    floorRmConcurrency: int(values['floor-rm-concurrency']!, 'floor-rm-concurrency', 0, 250),
    out: values.out!,
    save: !values['no-save'],
    cleanupOnly: values['cleanup-only']!,
    flowAgent: !values['no-flow-agent'],
    flowAgentOnly: values['flow-agent-only']!,
  };
}

// ---------------------------------------------------------------- one bench at a time

function takeLock(): void {
  if (existsSync(LOCK)) {
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    let alive = false;
    try {
      alive = pid > 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('bench');
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`another bench runs (pid ${pid}, ${LOCK}); wait for it to finish`);
  }
  writeFileSync(LOCK, `${process.pid}\n`);
  onCleanup('lock', async () => {
    if (existsSync(LOCK) && readFileSync(LOCK, 'utf8').trim() === String(process.pid))
      rmSync(LOCK, { force: true });
  });
}

// ---------------------------------------------------------------- cleanup of bench objects

const BENCH_LAB_RE = /^bench-(s\d+|r\d+x\d+)$/;

async function labctlDown(lab: string): Promise<void> {
  const r = await labctl(['down', '--lab', lab, '--json'], { timeoutMs: 180_000 });
  if (r.exitCode !== 0) throw new Error(describeFailure(`labctl down --lab ${lab}`, r));
}

async function lines(file: string, args: string[]): Promise<string[]> {
  const r = await runTimed(file, args, { timeoutMs: 25_000 });
  if (r.exitCode !== 0) throw new Error(describeFailure(`${file} ${args.join(' ')}`, r));
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Everything any bench run left behind: bench-… labs, labctl-bench containers, hand-wire and Mininet objects. */
async function cleanAllBench(labNames: string[], currentTag: string): Promise<void> {
  const snaps = join(ROOT, 'node_modules', '.cache', 'labctl-bench');
  if (existsSync(snaps)) for (const t of readdirSync(snaps)) if (t !== currentTag) removeSnapshot(t);
  const st = await labctl(['status', '--json'], { timeoutMs: 60_000 });
  let labs = new Set(labNames);
  if (st.exitCode === 0) {
    try {
      const found = (JSON.parse(st.stdout) as { labs: { lab: string }[] }).labs.map((l) => l.lab);
      labs = new Set([...labs, ...found.filter((l) => BENCH_LAB_RE.test(l))]);
    } catch {
      // status not parseable: the named labs are still removed
    }
  }
  for (const lab of labs) await labctlDown(lab);
  const removed = await removeBenchContainers(docker());
  if (removed) log(`removed ${removed} leftover bench container(s)`);
  // hand-wire leftovers, by tag: OVS interfaces, NB switches, veth names
  const tags = new Set<string>();
  for (const l of await lines('ovs-vsctl', [
    '--timeout=20',
    '--bare',
    '--columns=external_ids',
    'find',
    'Interface',
    `external_ids:${BENCH_LABEL}!=""`,
  ]))
    for (const m of l.matchAll(/labctl-bench="?([0-9a-f]{4})/g)) tags.add(m[1]!);
  for (const l of await lines('ovn-nbctl', [
    '--timeout=20',
    '--bare',
    '--columns=name',
    'find',
    'Logical_Switch',
    `external_ids:${BENCH_LABEL}!=""`,
  ]))
    if (/^bench-hw-[0-9a-f]{4}$/.test(l)) tags.add(l.slice(-4));
  for (const l of await lines('ip', ['-o', 'link', 'show'])) {
    const m = /^\d+: b[hp]([0-9a-f]{4})h\d+[@:]/.exec(l);
    if (m) tags.add(m[1]!);
  }
  for (const tag of tags) {
    log(`removing hand-wire leftovers of tag ${tag}`);
    await handWireClean(tag);
  }
  // Mininet leftovers: pid files of earlier runs, and bridges named lbmnTAG
  const mnTags = new Set<string>();
  for (const f of readdirSync(PIDFILE_DIR)) {
    const m = /^labctl-bench-mininet-([0-9a-f]{4})\.pids$/.exec(f);
    if (m) mnTags.add(m[1]!);
  }
  for (const br of await lines('ovs-vsctl', ['--timeout=20', 'list-br'])) {
    const m = /^lbmn([0-9a-f]{4})$/.exec(br);
    if (m) mnTags.add(m[1]!);
  }
  for (const tag of mnTags) {
    log(`removing Mininet leftovers of tag ${tag}`);
    await mininetClean(tag, mnPidFile(tag));
  }
}

// ---------------------------------------------------------------- environment facts

function sh(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

function environment() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    kernel: release(),
    node: process.version,
    docker: sh('docker', ['version', '--format', '{{.Server.Version}}']),
    dockerSocket: process.env.LABCTL_DOCKER_SOCKET ?? '/var/run/docker.sock',
    dockerContainers: Number(sh('docker', ['info', '--format', '{{.Containers}}']) || -1),
    ovs: sh('ovs-vsctl', ['--version']).split('\n')[0] ?? '',
    ovn: sh('ovn-nbctl', ['--version']).split('\n')[0] ?? '',
    commit: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    dirtyFiles: sh('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'checks'])
      .split('\n')
      .filter(Boolean).length,
  };
}

// ---------------------------------------------------------------- measurements

function newScenario(lab: BenchLab): ScenarioRuns {
  return {
    key: lab.key,
    lab: lab.lab,
    kind: lab.kind,
    nodes: lab.nodes,
    floorStartMs: [],
    floorRemoveMs: [],
    upMs: [],
    upApplyMs: [],
    upRssKb: [],
    upTrace: [],
    doctorMs: [],
    doctorRssKb: [],
    doctorRuns: [],
    downMs: [],
    downRssKb: [],
    downTrace: [],
    hwUpMs: [],
    hwDownMs: [],
    hwInstalled: [],
    mnPingallMs: [],
    mnBuildMs: [],
    mnLossPct: [],
    errors: [],
  };
}

async function measureLabctl(
  s: ScenarioRuns,
  lab: BenchLab,
  opts: Options,
  doctorOk: boolean,
): Promise<void> {
  const n = lab.nodes;
  checkpoint();
  const up = await labctl(['up', '-f', lab.file, '--json'], { timeoutMs: 120_000 + n * 4000, trace: true });
  const upOk = up.exitCode === 0;
  if (upOk) {
    s.upMs.push(up.wallMs);
    if (up.report) {
      s.upRssKb.push(up.report.maxRssKb);
      s.upTrace.push(summarizeTrace(up.report, 'up'));
    }
    try {
      const j = JSON.parse(up.stdout) as { durationMs?: number; containers?: { created?: string[] } };
      if (typeof j.durationMs === 'number') s.upApplyMs.push(j.durationMs);
      if ((j.containers?.created?.length ?? 0) !== n)
        s.errors.push(`up created ${j.containers?.created?.length} of ${n} containers`);
    } catch {
      s.errors.push('labctl up --json printed no JSON');
    }
    log(
      `  labctl up ${lab.lab}: ${(up.wallMs / 1000).toFixed(2)} s, ${Math.round((up.report?.maxRssKb ?? 0) / 1024)} MB`,
    );
  } else {
    s.errors.push(describeFailure(`labctl up ${lab.lab}`, up));
    log(`  labctl up ${lab.lab} FAILED: ${describeFailure('', up)}`);
  }
  if (upOk && doctorOk) {
    await sleep(opts.settleMs);
    checkpoint();
    const { dr, parsed } = await doctorJson(lab);
    const statuses: Record<string, number> = {};
    for (const c of parsed?.checks ?? []) statuses[c.status ?? '?'] = (statuses[c.status ?? '?'] ?? 0) + 1;
    s.doctorRuns.push({
      exitCode: dr.exitCode,
      ok: parsed?.ok,
      results: parsed?.checks?.length ?? 0,
      statuses,
    });
    if ((dr.exitCode === 0 || dr.exitCode === 1) && parsed) {
      s.doctorMs.push(dr.wallMs);
      if (dr.report) s.doctorRssKb.push(dr.report.maxRssKb);
      if (dr.exitCode !== 0)
        s.errors.push(`doctor exit ${dr.exitCode} (ok=${parsed.ok}): ${JSON.stringify(statuses)}`);
    } else s.errors.push(describeFailure(`labctl doctor ${lab.lab}`, dr));
    log(
      `  labctl doctor ${lab.lab}: ${(dr.wallMs / 1000).toFixed(2)} s, exit ${dr.exitCode}, ${JSON.stringify(statuses)}`,
    );
    const run = s.doctorRuns[s.doctorRuns.length - 1]!;
    if (lab.kind === 'single' && lab.nodes >= 100 && s.doctorRuns.length === 1 && dr.exitCode === 0) {
      checkpoint();
      try {
        run.fault = await injectedFault(lab);
        if (!run.fault.found)
          s.errors.push(`injected fault in ${run.fault.node} not found: roots ${run.fault.roots.join(', ')}`);
        log(
          `  injected fault (tx checksum offload on in ${run.fault.node}): ${run.fault.found ? 'found' : 'NOT found'} in ${(run.fault.ms / 1000).toFixed(2)} s; root causes: ${run.fault.roots.join(', ') || 'none'}`,
        );
      } catch (err) {
        if (isAborted()) throw err;
        s.errors.push(`injected fault: ${(err as Error).message}`);
      }
    }
  }
  await sleep(opts.settleMs);
  checkpoint();
  const down = await labctl(['down', '--lab', lab.lab, '--json'], {
    timeoutMs: 120_000 + n * 2000,
    trace: true,
  });
  if (down.exitCode !== 0) {
    s.errors.push(describeFailure(`labctl down ${lab.lab}`, down));
    throw new Error(
      `labctl down ${lab.lab} failed; stopping so nothing piles up: ${describeFailure('', down)}`,
    );
  }
  if (upOk) {
    s.downMs.push(down.wallMs);
    if (down.report) {
      s.downRssKb.push(down.report.maxRssKb);
      s.downTrace.push(summarizeTrace(down.report, 'down'));
    }
    log(`  labctl down ${lab.lab}: ${(down.wallMs / 1000).toFixed(2)} s`);
  }
}

async function measureCompile(opts: Options, dir: string) {
  const big = bigLab(dir, opts.big, opts.image);
  const probe = join(BENCH_DIST, 'compile-probe.js');
  const cold: number[] = [];
  const warm: number[] = [];
  const coldLoad: number[] = [];
  const coldCompile: number[] = [];
  const cli: number[] = [];
  const cliRss: number[] = [];
  const probeRss: number[] = [];
  const errors: string[] = [];
  for (let r = 0; r < opts.runs; r++) {
    const p = await runTimed(process.execPath, [probe, big.file, '3', distRoot()], { timeoutMs: 120_000 });
    if (p.exitCode !== 0) {
      errors.push(describeFailure('compile-probe', p));
      continue;
    }
    const j = JSON.parse(p.stdout) as {
      nodes: number;
      loadMs: number[];
      compileMs: number[];
      maxRssKb: number;
    };
    if (j.nodes !== big.nodes) errors.push(`compiled ${j.nodes} nodes, expected ${big.nodes}`);
    cold.push(j.loadMs[0]! + j.compileMs[0]!);
    coldLoad.push(j.loadMs[0]!);
    coldCompile.push(j.compileMs[0]!);
    for (let i = 1; i < j.loadMs.length; i++) warm.push(j.loadMs[i]! + j.compileMs[i]!);
    probeRss.push(j.maxRssKb);
    const c = await labctl(['plan', '--json', '-f', big.file], { timeoutMs: 120_000 });
    if (c.exitCode !== 0) errors.push(describeFailure('labctl plan --json', c));
    else {
      cli.push(c.wallMs);
      if (c.report) cliRss.push(c.report.maxRssKb);
    }
    log(
      `  compile ${big.nodes} nodes: cold ${cold.at(-1)?.toFixed(0)} ms (load ${coldLoad.at(-1)?.toFixed(0)}, compile ${coldCompile.at(-1)?.toFixed(0)}), plan --json CLI ${cli.at(-1)?.toFixed(0)} ms`,
    );
  }
  return {
    nodes: big.nodes,
    coldMs: cold,
    coldLoadMs: coldLoad,
    coldCompileMs: coldCompile,
    warmMs: warm,
    cliMs: cli,
    cliRssKb: cliRss,
    probeRssKb: probeRss,
    errors,
  };
}

/**
 * What every labctl command pays before it does anything: a bare node start, `labctl --version` (commander
 * registers every command, which imports every module), and the import of the heaviest pieces, each in a fresh
 * process.
 */
async function measureStartup(opts: Options) {
  const probe = join(BENCH_DIST, 'import-probe.js');
  const out = {
    bareNodeMs: [] as number[],
    versionMs: [] as number[],
    versionRssKb: [] as number[],
    imports: {} as Record<string, { ms: number[]; rssMb: number[] }>,
  };
  const specs: [string, string][] = [
    ...['dockerode', 'execa', 'zod', 'yaml', 'listr2', 'commander'].map((m): [string, string] => [m, m]),
    ['all labctl commands', join(distRoot(), 'src', 'cli', 'commands.js')],
  ];
  for (let r = 0; r < opts.runs; r++) {
    const bare = await runTimed(process.execPath, ['-e', '0'], { timeoutMs: 30_000 });
    out.bareNodeMs.push(bare.wallMs);
    const v = await labctl(['--version'], { timeoutMs: 30_000 });
    if (v.exitCode === 0) {
      out.versionMs.push(v.wallMs);
      if (v.report) out.versionRssKb.push(v.report.maxRssKb);
    }
    for (const [label, spec] of specs) {
      const p = await runTimed(process.execPath, [probe, spec], { timeoutMs: 30_000 });
      if (p.exitCode !== 0) continue;
      const j = JSON.parse(p.stdout) as { ms: number; rssMb: number };
      out.imports[label] ??= { ms: [], rssMb: [] };
      out.imports[label].ms.push(j.ms);
      out.imports[label].rssMb.push(j.rssMb);
    }
  }
  log(
    `  startup: bare node ${median(out.bareNodeMs)?.toFixed(0)} ms, labctl --version ${median(out.versionMs)?.toFixed(0)} ms, import dockerode ${median(out.imports.dockerode?.ms ?? [])?.toFixed(0)} ms`,
  );
  return out;
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0)
    throw new Error('the bench needs root (it runs labctl up/down and creates containers, veths, OVS ports)');
  takeLock();
  installSignalHandlers(log);
  // LABCTL_DOCKER_SOCKET points labctl (and the floor) at another dockerd; the docker CLI of hand-wire.sh follows.
  if (process.env.LABCTL_DOCKER_SOCKET && !process.env.DOCKER_HOST)
    process.env.DOCKER_HOST = `unix://${process.env.LABCTL_DOCKER_SOCKET}`;
  const tag = randomBytes(2).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'labctl-bench-'));
  onCleanup('temp dir', async () => rmSync(dir, { recursive: true, force: true }));
  onCleanup('dist snapshot', async () => removeSnapshot(tag));
  const snap = snapshotDist(tag);
  log(`measuring a snapshot of dist taken now: ${snap}`);
  if (opts.flowAgentOnly) {
    log('flow agent: CPU per 1000 packets (icmp, udp, tcp; ~25 s each)');
    const { costs } = await measureFlowAgent(distRoot());
    process.stdout.write(formatFlowAgent(costs));
    return 0;
  }

  const singles = opts.sizes.map((n) => singleSwitchLab(dir, n, opts.image));
  const routed = opts.routed ? routedLab(dir, opts.routed.nets, opts.routed.perNet, opts.image) : undefined;
  const doctorOnly = opts.doctorSizes.map((n) => ({
    ...singleSwitchLab(dir, n, opts.image),
    doctorOnly: true,
  }));
  const labs: (BenchLab & { doctorOnly?: boolean })[] = [
    ...singles,
    ...(routed ? [routed] : []),
    ...(opts.routed && opts.chassis
      ? [
          {
            ...multiChassisLab(dir, opts.routed.nets, opts.routed.perNet, opts.chassis, opts.image),
            doctorOnly: true,
          },
        ]
      : []),
    ...(opts.routed && opts.dualStack
      ? [{ ...dualStackLab(dir, opts.routed.nets, opts.routed.perNet, opts.image), doctorOnly: true }]
      : []),
    ...doctorOnly,
  ];

  const dead = await dockerLiveness(tag, opts.image);
  if (dead) throw new Error(dead);
  log(`removing leftovers of earlier bench runs (if any)…`);
  await cleanAllBench(
    labs.map((l) => l.lab),
    tag,
  );
  if (opts.cleanupOnly) {
    log('leftovers removed');
    return 0;
  }

  // Cleanup of this run, registered before anything is created (runs in reverse order).
  for (const l of labs) onCleanup(`labctl down --lab ${l.lab}`, () => labctlDown(l.lab));
  onCleanup('floor containers', async () => void (await removeBenchContainers(docker(), tag)));
  onCleanup('hand-wire objects', () => handWireClean(tag));
  onCleanup('mininet objects', () => mininetClean(tag, mnPidFile(tag)));

  // ---- preflight
  const hc = await labctl(['host', 'check', '--json'], { timeoutMs: 60_000 });
  if (hc.exitCode !== 0)
    throw new Error(
      `labctl host check says the host is not ready:\n${hc.stdout.slice(0, 2000)}${hc.stderr.slice(0, 500)}\nfix: labctl host start`,
    );
  try {
    await docker().getImage(opts.image).inspect();
  } catch {
    throw new Error(
      `image ${opts.image} is not on this host; build it first: node dist/labctl.mjs image build ${opts.image}`,
    );
  }
  checkpoint();
  const help = await labctl(['doctor', '--help'], { timeoutMs: 30_000 });
  const doctorAvailable = opts.doctor && help.exitCode === 0;
  const doctorNote = !opts.doctor
    ? 'doctor: skipped (--no-doctor)'
    : doctorAvailable
      ? undefined
      : 'doctor: not available yet';
  if (doctorNote) log(doctorNote);
  let mininetNote: string | undefined;
  if (!opts.mininet) mininetNote = 'mininet: skipped (--no-mininet)';
  else mininetNote = await mininetAvailable();
  if (mininetNote) log(mininetNote);

  checkpoint();
  const env = environment();
  const startedAt = new Date();
  const load0 = loadavg();
  log(
    `tag ${tag}; runs ${opts.runs}; sizes ${opts.sizes.join(',')}${routed ? `; routed ${routed.key}` : ''}${opts.doctorSizes.length ? `; doctor-only ${opts.doctorSizes.join(',')}` : ''}; load ${load0.map((x) => x.toFixed(2)).join(' ')}`,
  );

  const scen = new Map(labs.map((l) => [l.key, newScenario(l)]));
  // If the run ends early (a failure or a signal), what was measured so far is still written, marked partial.
  partialReport = (why: string) =>
    report({
      opts,
      scen,
      compile: undefined,
      startup: undefined,
      doctorNote,
      mininetNote,
      env,
      startedAt,
      load0,
      load1: loadavg(),
      partial: why,
    });
  const d = docker();
  for (let run = 1; run <= opts.runs; run++) {
    for (const lab of labs) {
      const s = scen.get(lab.key)!;
      log(`run ${run}/${opts.runs}: ${lab.key} (${lab.nodes} nodes)`);
      checkpoint();
      if (opts.floor && !lab.doctorOnly) {
        try {
          const f = await floorRun(d, tag, lab.nodes, opts.image, opts.floorRmConcurrency);
          s.floorStartMs.push(f.startMs);
          s.floorRemoveMs.push(f.removeMs);
          log(
            `  floor: start ${(f.startMs / 1000).toFixed(2)} s, remove ${(f.removeMs / 1000).toFixed(2)} s`,
          );
        } catch (err) {
          if (isAborted()) throw err;
          s.errors.push(`floor: ${(err as Error).message}`);
          await removeBenchContainers(d, tag);
        }
        await sleep(opts.settleMs);
      }
      await measureLabctl(s, lab, opts, doctorAvailable);
      await sleep(opts.settleMs);
      if (opts.handwire && lab.kind === 'single' && !lab.doctorOnly) {
        checkpoint();
        try {
          const h = await handWireRun(tag, lab.nodes, opts.image);
          s.hwUpMs.push(h.upMs);
          s.hwDownMs.push(h.downMs);
          s.hwInstalled.push(h.installed);
          if (h.installed !== lab.nodes)
            s.errors.push(
              `hand-wire: ${h.installed} of ${lab.nodes} ports ovn-installed after --wait=hv sync`,
            );
          log(
            `  hand-wire: up ${(h.upMs / 1000).toFixed(2)} s (${h.installed}/${lab.nodes} installed), down ${(h.downMs / 1000).toFixed(2)} s`,
          );
        } catch (err) {
          if (isAborted()) throw err;
          s.errors.push(`hand-wire: ${(err as Error).message}`);
          log(`  hand-wire FAILED: ${(err as Error).message}`);
          await handWireClean(tag);
        }
        await sleep(opts.settleMs);
      }
      if (!mininetNote && lab.kind === 'single' && !lab.doctorOnly) {
        checkpoint();
        try {
          const m = await mininetRun(tag, lab.nodes, mnPidFile(tag));
          s.mnPingallMs.push(m.pingallS * 1000);
          s.mnBuildMs.push(m.buildS * 1000);
          s.mnLossPct.push(m.lossPct);
          log(
            `  mininet: build ${m.buildS.toFixed(2)} s, pingall ${m.pingallS.toFixed(2)} s (${m.pings} pings, loss ${m.lossPct}%)`,
          );
        } catch (err) {
          if (isAborted()) throw err;
          s.errors.push(`mininet: ${(err as Error).message}`);
          log(`  mininet FAILED: ${(err as Error).message}`);
        } finally {
          if (!isAborted()) await mininetClean(tag, mnPidFile(tag));
        }
        await sleep(opts.settleMs);
      }
    }
  }

  checkpoint();
  const compile = opts.big > 0 ? await measureCompile(opts, dir) : undefined;
  const startup = await measureStartup(opts);
  checkpoint();
  let flowAgent: FlowAgentCost[] | undefined;
  if (opts.flowAgent) {
    log('flow agent: CPU per 1000 packets (icmp, udp, tcp; ~25 s each)');
    flowAgent = (await measureFlowAgent(distRoot())).costs;
  }
  const load1 = loadavg();

  report({
    opts,
    scen,
    compile,
    startup,
    doctorNote,
    mininetNote,
    env,
    startedAt,
    load0,
    load1,
    partial: undefined,
    flowAgent,
  });
  const scenarios = [...scen.values()];
  const errors = scenarios
    .flatMap((s) => s.errors.map((e) => `${s.key}: ${e}`))
    .concat(compile?.errors ?? []);
  if (errors.length) {
    log(`${errors.length} problem(s) during the run:`);
    for (const e of errors.slice(0, 30)) log(`  ${e}`);
  }
  return 0;
}

let partialReport: ((why: string) => void) | undefined;
let reported = false;
// A second signal exits at once; what was measured is still written (report() is synchronous).
process.on('exit', () => {
  if (!reported && partialReport) {
    try {
      partialReport('interrupted');
    } catch {
      // nothing more to do at exit
    }
  }
});

interface ReportInput {
  opts: Options;
  scen: Map<string, ScenarioRuns>;
  compile: CompileResult | undefined;
  startup: StartupResult | undefined;
  doctorNote: string | undefined;
  mininetNote: string | undefined;
  env: ReturnType<typeof environment>;
  startedAt: Date;
  load0: number[];
  load1: number[];
  /** set when the run ended early: why */
  partial: string | undefined;
  flowAgent?: FlowAgentCost[];
}

/** Medians, ratios, targets; the table on stdout; the JSON (and the table) under --out. */
function report(r: ReportInput): void {
  reported = true;
  const { opts, compile, startup, doctorNote, mininetNote, env, startedAt, load0, load1, partial } = r;
  const scenarios = [...r.scen.values()];
  const rows: Row[] = scenarios.map((s) => ({
    key: s.key,
    nodes: s.nodes,
    floorStart: median(s.floorStartMs),
    up: median(s.upMs),
    upApply: median(s.upApplyMs),
    hwUp: median(s.hwUpMs),
    floorRemove: median(s.floorRemoveMs),
    down: median(s.downMs),
    hwDown: median(s.hwDownMs),
    doctor: median(s.doctorMs),
    mnPingall: median(s.mnPingallMs),
    rssMb: maxDefined([median(s.upRssKb), median(s.doctorRssKb), median(s.downRssKb)]),
    rssUpMb: kbToMb(median(s.upRssKb)),
    rssDoctorMb: kbToMb(median(s.doctorRssKb)),
    rssDownMb: kbToMb(median(s.downRssKb)),
  }));
  const targets: Target[] = evaluate(rows, compile, { doctorNote, mininetNote });
  const largest = [...scenarios]
    .filter((s) => s.kind === 'single' && s.upTrace.length)
    .sort((a, b) => b.nodes - a.nodes)[0];
  const up = largest ? medianTrace(largest.upTrace) : undefined;
  const down = largest ? medianTrace(largest.downTrace) : undefined;
  const traces = largest ? { key: largest.key, ...(up ? { up } : {}), ...(down ? { down } : {}) } : undefined;
  // Raw events only for the representative runs shown in the breakdown (keeps the JSON small).
  for (const sc of scenarios)
    for (const t of [...sc.upTrace, ...sc.downTrace]) if (t !== up && t !== down) delete t.events;
  const notes = [
    doctorNote,
    mininetNote,
    partial ? `PARTIAL RESULTS: the run ended early (${partial})` : undefined,
  ].filter((x): x is string => !!x);
  const text = renderReport({
    rows,
    targets,
    compile,
    ...(startup ? { startup } : {}),
    notes,
    runs: opts.runs,
    env,
    load0,
    load1,
    ...(traces ? { traces } : {}),
  });
  process.stdout.write(text);
  const mc = chassisRatio(rows);
  if (mc) process.stdout.write(`\n${mc}\n`);
  const ds = dualStackRatio(rows);
  if (ds) process.stdout.write(`\n${ds}\n`);
  if (r.flowAgent) process.stdout.write(`\n${formatFlowAgent(r.flowAgent)}`);
  const result = {
    version: 1,
    ...(partial ? { partial } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { ...opts, out: undefined },
    environment: {
      ...env,
      loadavgStart: load0.map((x) => round(x, 2)),
      loadavgEnd: load1.map((x) => round(x, 2)),
    },
    notes,
    rows,
    targets,
    compile,
    startup,
    ...(r.flowAgent ? { flowAgent: r.flowAgent } : {}),
    scenarios,
  };
  if (!opts.save) return;
  mkdirSync(opts.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z');
  const json = `${JSON.stringify(result, (_k, v) => (typeof v === 'number' ? round(v, 2) : v), 2)}\n`;
  if (partial) {
    writeFileSync(join(opts.out, `${stamp}-partial.json`), json);
    log(`partial results: ${join(opts.out, `${stamp}-partial.json`)}`);
    return;
  }
  writeFileSync(join(opts.out, `${stamp}.json`), json);
  writeFileSync(join(opts.out, 'latest.json'), json);
  writeFileSync(join(opts.out, 'latest.txt'), text);
  formatJson([join(opts.out, `${stamp}.json`), join(opts.out, 'latest.json')]);
  log(`results: ${join(opts.out, 'latest.json')} and ${stamp}.json`);
}

/** Results are committed and `npm run lint` checks bench/**: write them in the repository's JSON format. */
function formatJson(files: string[]): void {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) return;
  try {
    execFileSync(biome, ['format', '--write', ...files], { cwd: ROOT, timeout: 60_000, stdio: 'ignore' });
  } catch {
    // formatting is cosmetic; the results are written either way
  }
}

function kbToMb(kb: number | undefined): number | undefined {
  return kb === undefined ? undefined : kb / 1024;
}

function maxDefined(xs: (number | undefined)[]): number | undefined {
  const d = xs.filter((x): x is number => x !== undefined);
  return d.length ? Math.max(...d) / 1024 : undefined;
}

const flow = main();
setMainFlow(flow);
flow
  .then(async (code) => {
    await runCleanup(log);
    process.exitCode = code;
  })
  .catch(async (err) => {
    log(`bench failed: ${(err as Error).message}`);
    try {
      partialReport?.((err as Error).message);
    } catch (e) {
      log(`could not write partial results: ${(e as Error).message}`);
    }
    await runCleanup(log);
    process.exitCode = 1;
  });
