/**
 * The host side of the probe agents (docs/probes.md): start them, talk newline-delimited JSON to them, stop them.
 * Probing needs nothing from the container images: agents run the host's node (process.execPath) on
 * dist/src/probe/agent.js, and everything enters the containers' network namespaces with `nsenter -t PID -n`.
 *
 * Two ways to start them, one API (ProbeFleet → one Endpoint per node):
 * - local: one agent process per node, started inside that node's netns. Simple, but node start-up costs ~130 ms
 *   of CPU here, which is most of the time budget of a 50-node mesh on 2 cores.
 * - broker (default when perl is on the host; Debian's perl-base is Essential): a chain of tiny per-netns steps
 *   (`nsenter -t PID -n perl -e SHIM`, ~5 ms each) opens, inside each node's netns, exactly the sockets that node
 *   needs (listeners, one client socket per planned TCP/UDP probe, a datagram ICMP socket) and execs the next step;
 *   the last step execs node agent.js, which inherits them all. A socket keeps the namespace it was created in, so
 *   one agent process probes from and listens in many namespaces. Nodes are split over a few such brokers (one per
 *   core) so the probing itself runs on every core.
 * If a broker cannot start, its nodes fall back to local agents.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from '../exec.js';
import type {
  Hello,
  ListenerState,
  NodeState,
  ProbeResult,
  ProbeSpec,
  Request,
  Response,
} from './protocol.js';
import { DOCTOR_ICMP_ID } from './targets.js';

/**
 * Where the compiled agent lives: next to this module in dist/src/probe. When this module is bundled
 * (scripts/bundle.mjs: dist/labctl.mjs and its chunks in dist/chunks/) the agent stays a separate program in
 * dist/src/probe; when it runs from sources (vitest) it is in <root>/dist/src/probe.
 */
export function agentScriptPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'agent.js'),
    join(here, '..', 'src', 'probe', 'agent.js'),
    join(here, 'src', 'probe', 'agent.js'),
  ];
  // running from TypeScript sources (vitest): <root>/src/probe → <root>/dist/src/probe
  const m = /^(.*)[/\\]src[/\\]probe$/.exec(here);
  if (m) candidates.push(join(m[1]!, 'dist', 'src', 'probe', 'agent.js'));
  for (const c of candidates) if (existsSync(c)) return resolve(c);
  throw new Error(`probe agent not found (looked for ${candidates.join(', ')}): run npm run build`);
}

/**
 * Local mode launcher, run inside the netns: open a datagram ICMP socket without close-on-exec ($^F raised), bind it
 * to the identifier DOCTOR_ICMP_ID when that is free (else the kernel picks one on the first send), export its fd,
 * exec node. If the socket cannot be opened the agent still starts, and falls back to ping.
 */
export const ICMP_SHIM = `$^F = 1 << 30; if (socket(my $s, 2, 2, 1)) { bind($s, pack('S n x12', 2, ${DOCTOR_ICMP_ID})); $ENV{LABCTL_ICMP_FD} = fileno($s); our $keep = $s } exec { $ARGV[0] } @ARGV; die "exec $ARGV[0]: $!\\n";`;

/**
 * Broker launcher step, run inside one node's netns. argv: STEP... -- FINAL-COMMAND...; a step is
 * "node|pid|icmp(0/1)|tcpCount|udpCount|tcp/47000+9,udp/5353+0" (listeners: want+tries). It opens that node's
 * sockets (close-on-exec off), appends the node's entry to LABCTL_MANIFEST (format: agent.ts parseManifest), and
 * execs nsenter into the next step's netns, or the final command after the last step. Bounded: one pass per step.
 */
export const BROKER_SHIM = String.raw`
use strict;
$^F = 1 << 30;
our @KEEP;
# socket constants: Linux's generic values, passed in by the client; other ABIs load Socket (10 ms more per step)
my ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE) = split /,/, ($ENV{LABCTL_SOCKCONST} // '');
unless (defined $REUSE) { require Socket; ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE) = (Socket::AF_INET(), Socket::SOCK_STREAM(), Socket::SOCK_DGRAM(), Socket::SOL_SOCKET(), Socket::SO_REUSEADDR()) }
sub errname { my $n = 0 + $!; for my $k (keys %!) { return $k if $!{$k} } return "E$n" }
my (@steps, @final); my $i = 0;
while ($i < @ARGV && $ARGV[$i] ne '--') { push @steps, $ARGV[$i++] }
@final = @ARGV[$i + 1 .. $#ARGV];
die "no final command
" unless @final;
my $step = shift @steps;
my ($node, $pid, $icmp, $nt, $nu, $ls) = split /\|/, $step, 6;
my @out = ($node, $pid);
# the ICMP socket takes the doctor's identifier when it is free (its conntrack entries are then recognisable)
if ($icmp) { my $s; if (socket($s, $AF_INET, $DGRAM, 1)) { bind($s, pack('S n a4 x8', $AF_INET, ${DOCTOR_ICMP_ID}, "\0\0\0\0")); push @KEEP, $s; push @out, 'i:' . fileno($s) } else { push @out, 'i!' . errname() } }
for my $l (split /,/, ($ls // '')) {
  my ($p, $want, $tries) = $l =~ m{^(tcp|udp)/(\d+)\+(\d+)$} or next;
  my ($ok, $err);
  for my $k (0 .. $tries) {
    my $port = $want + $k; last if $port > 65535;
    my $s;
    unless (socket($s, $AF_INET, $p eq 'tcp' ? $STREAM : $DGRAM, 0)) { $err = errname(); last }
    setsockopt($s, $SOL, $REUSE, pack('i', 1)) if $p eq 'tcp';
    if (bind($s, pack('S n a4 x8', $AF_INET, $port, "\0\0\0\0")) && ($p ne 'tcp' || listen($s, 1024))) { push @KEEP, $s; push @out, "l$p/$want:$port\@" . fileno($s); $ok = 1; last }
    $err = errname(); close $s; last unless $err eq 'EADDRINUSE';
  }
  push @out, "l$p/$want!" . ($err // 'EINVAL') unless $ok;
}
for my $spec (['t', $STREAM, $nt], ['u', $DGRAM, $nu]) {
  my ($tag, $type, $n) = @$spec; my (@fds, $err);
  for (1 .. ($n || 0)) { my $s; if (socket($s, $AF_INET, $type, 0)) { push @KEEP, $s; push @fds, fileno($s) } else { $err = errname(); last } }
  my @r; for my $fd (@fds) { if (@r && $r[-1][1] == $fd - 1) { $r[-1][1] = $fd } else { push @r, [$fd, $fd] } }
  push @out, "$tag:" . join(',', map { $_->[0] == $_->[1] ? $_->[0] : "$_->[0]-$_->[1]" } @r) if @fds;
  push @out, "$tag!$err" if $err;
}
$ENV{LABCTL_MANIFEST} = join(' ', grep { length } ($ENV{LABCTL_MANIFEST} // ''), join('|', @out));
if (@steps) { my $next = (split /\|/, $steps[0])[1]; exec 'nsenter', '-t', $next, '-n', $^X, '-e', $ENV{LABCTL_SHIM}, @steps, '--', @final; die "exec nsenter: $!\n" }
exec { $final[0] } @final; die "exec $final[0]: $!\n";
`;

/**
 * AF_INET, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR on Linux ABIs that use the generic values (x86, arm,
 * arm64, ppc, s390, riscv, loongarch); elsewhere (mips, sparc, …) the shim loads perl's Socket module instead.
 */
const SOCKCONST =
  process.platform === 'linux' &&
  ['x64', 'ia32', 'arm', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64'].includes(process.arch)
    ? '2,1,2,1,2'
    : undefined;

/**
 * The agents' own bounds, a safety net: the doctor paces its probes (pace.ts) far below them. They are high enough
 * that the silent probes of a broken node (each held until its time limit) never queue its other probes.
 */
const AGENT_CONCURRENCY = 128;
const AGENT_GLOBAL_CONCURRENCY = 1024;

export interface AgentOptions {
  /** 'auto' (broker when perl is on the host), 'broker' or 'local' */
  mode?: 'auto' | 'broker' | 'local';
  /** probes one node runs at once (default 128) */
  concurrency?: number;
  /** probes one agent process runs at once over all its nodes (default 1024) */
  globalConcurrency?: number;
  /** hard lifetime of an agent, ms (default 10 min): it exits after that even if nobody stops it */
  lifetimeMs?: number;
  /** local mode: open an ICMP socket through perl when perl is available (default true) */
  icmpSocket?: boolean;
  /** broker processes at most (default: the number of cores, at most 4) */
  brokers?: number;
  /** how long to wait for an agent's hello, ms (default 20 s) */
  startTimeoutMs?: number;
}

export class AgentError extends Error {
  constructor(
    readonly node: string,
    message: string,
  ) {
    super(`probe agent for ${node}: ${message}`);
    this.name = 'AgentError';
  }
}

interface Pending {
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  /** performance.now() past which the request fails */
  deadline: number;
  op: string;
  timeoutMs: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One agent process. Requests are answered in any order; each has its own time limit. */
export class ProbeAgent {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private exited = false;
  private stderr = '';
  hello?: Hello;
  readonly exitedPromise: Promise<void>;

  constructor(
    /** a label for errors: the node (local) or "broker N" */
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += String(d);
    });
    child.stdin!.on('error', () => {});
    this.exitedPromise = new Promise<void>((resolve) => {
      const done = (err?: Error) => {
        if (err && this.stderr.length < 4096) this.stderr += `${err.message}\n`;
        this.onExit();
        resolve();
      };
      // 'error': it could not be spawned (no 'close' may follow); 'close': it exited and its pipes are drained
      child.on('error', done);
      child.once('close', () => done());
    });
  }

  /** requests of this event-loop turn, written together */
  private out: string[] = [];
  private flush(): void {
    if (!this.out.length) return;
    const chunk = this.out.join('');
    this.out = [];
    if (!this.exited) this.child.stdin!.write(chunk);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
      if (!line.trim()) continue;
      let msg: Response;
      try {
        msg = JSON.parse(line) as Response;
      } catch {
        continue;
      }
      const p = this.pending.get(msg.id);
      if (!p) continue;
      this.pending.delete(msg.id);
      p.resolve(msg);
    }
    if (!this.pending.size) this.disarm();
  }

  // One timer per agent for every pending request's time limit (at the earliest deadline), not one per request:
  // a 50-node mesh has thousands of requests in flight, and each timer (with its closure) lived as long as they.
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  private arm(deadline: number): void {
    if (deadline >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(deadline - performance.now())));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        p.reject(new AgentError(this.label, `no answer to ${p.op} within ${p.timeoutMs} ms`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
  }

  private onExit(): void {
    this.exited = true;
    const why = this.lastStderr.split('\n').slice(-2).join(' | ') || 'exited';
    for (const [id, p] of this.pending) {
      p.reject(new AgentError(this.label, why));
      this.pending.delete(id);
    }
    this.disarm();
  }

  get alive(): boolean {
    return !this.exited;
  }

  get lastStderr(): string {
    return this.stderr.trim();
  }

  /** Send one request; resolves with the agent's response (ok or not), rejects if the agent dies or is silent. */
  request(req: DistributiveOmit<Request, 'id'>, timeoutMs: number): Promise<Response> {
    if (this.exited)
      return Promise.reject(
        new AgentError(this.label, `not running${this.stderr ? `: ${this.lastStderr}` : ''}`),
      );
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      this.pending.set(id, { resolve, reject, deadline, op: req.op, timeoutMs });
      this.arm(deadline);
      this.out.push(`${JSON.stringify({ ...req, id })}\n`);
      if (this.out.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Run one probe (from `node`'s sockets in broker mode). Never rejects: an agent failure becomes outcome "error". */
  probe(spec: ProbeSpec, node?: string): Promise<ProbeResult> {
    // the agent may queue the probe behind others: allow for that, but not forever
    return this.request(
      node ? { op: 'probe', probe: spec, node } : { op: 'probe', probe: spec },
      spec.timeoutMs + 120_000,
    ).then(
      (r): ProbeResult =>
        r.ok && r.result ? r.result : { outcome: 'error', ms: 0, detail: r.ok ? 'empty answer' : r.error },
      (e: Error): ProbeResult => ({ outcome: 'error', ms: 0, detail: e.message }),
    );
  }

  /** Local mode: start a TCP token-echo listener or UDP echo responder on port (or up to `tries` ports above it). */
  async listen(proto: 'tcp' | 'udp', port: number, tries = 0): Promise<ListenerState> {
    try {
      const r = await this.request({ op: 'listen', proto, port, tries }, 10_000);
      return r.ok ? { proto, want: port, port: r.port } : { proto, want: port, code: r.code ?? r.error };
    } catch (e) {
      return { proto, want: port, code: (e as Error).message };
    }
  }

  async counters(node?: string): Promise<Record<string, number> | undefined> {
    try {
      const r = await this.request({ op: 'counters', ...(node ? { node } : {}) }, 10_000);
      return r.ok ? r.counters : undefined;
    } catch {
      return undefined;
    }
  }

  /** Ask the agent to stop; close its stdin; kill it if it is still there after graceMs. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.exited) {
      this.request({ op: 'stop' }, graceMs).catch(() => {});
      this.flush();
      this.child.stdin!.end();
    }
    const killer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(killer);
  }
}

function agentEnv(opts: AgentOptions, extra: Record<string, string>): Record<string, string> {
  return {
    LABCTL_AGENT: '1',
    LABCTL_AGENT_CONCURRENCY: String(opts.concurrency ?? AGENT_CONCURRENCY),
    LABCTL_AGENT_GLOBAL_CONCURRENCY: String(opts.globalConcurrency ?? AGENT_GLOBAL_CONCURRENCY),
    LABCTL_AGENT_LIFETIME_MS: String(opts.lifetimeMs ?? 600_000),
    LABCTL_MANIFEST: '',
    ...extra,
  };
}

/**
 * A plain child process (not execa, whose per-stream machinery is for collecting output: the agents talk a line
 * protocol). It ends with the doctor either way: an agent exits when its stdin closes.
 */
function spawnAgent(label: string, file: string, args: string[], env: Record<string, string>): ProbeAgent {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return new ProbeAgent(label, child);
}

async function greet(agent: ProbeAgent, timeoutMs: number): Promise<Hello> {
  try {
    const r = await agent.request({ op: 'hello' }, timeoutMs);
    if (!r.ok) throw new Error(r.error);
    if (!r.hello) throw new Error('no hello');
    agent.hello = r.hello;
    return r.hello;
  } catch (e) {
    await agent.stop(500);
    const tail = agent.lastStderr.split('\n').slice(-1)[0];
    throw new AgentError(
      agent.label,
      `${(e as Error).message.replace(/^probe agent for [^:]+: /, '')}${tail && !(e as Error).message.includes(tail) ? ` (${tail})` : ''}`,
    );
  }
}

/** Start a local-mode agent inside the network namespace of process `pid` and wait for its hello. */
export async function startAgent(node: string, pid: number, opts: AgentOptions = {}): Promise<ProbeAgent> {
  if (!Number.isInteger(pid) || pid <= 0) throw new AgentError(node, `bad pid ${pid}`);
  const script = agentScriptPath();
  const perl = opts.icmpSocket === false ? undefined : which('perl');
  const cmd = perl ? [perl, '-e', ICMP_SHIM, process.execPath, script] : [process.execPath, script];
  const agent = spawnAgent(
    node,
    'nsenter',
    ['-t', String(pid), '-n', ...cmd],
    agentEnv(opts, { LABCTL_NODE: node }),
  );
  await greet(agent, opts.startTimeoutMs ?? 20_000);
  return agent;
}

/** What one node needs from the fleet. */
export interface NodeNeeds {
  node: string;
  /** PID of a process in the node's network namespace (the container's init) */
  pid: number;
  /** listeners the doctor serves in that node: want port, and how many ports above it to try when it is taken */
  listen?: { proto: 'tcp' | 'udp'; port: number; tries?: number }[];
  /** client sockets for TCP / UDP probes from this node (broker mode opens exactly these; one per probe) */
  tcp?: number;
  udp?: number;
}

interface Slot {
  agent: ProbeAgent;
  /** unused client sockets in that agent (broker); Infinity for a local agent */
  tcp: number;
  udp: number;
  icmp: boolean;
}

/** One node's view: its listeners, and probes from it. */
export class Endpoint {
  readonly slots: Slot[] = [];
  listeners: ListenerState[] = [];
  icmp: 'socket' | 'ping' = 'ping';
  errors: string[] = [];
  mode: 'local' | 'broker' = 'local';
  /** how many nodes' probes the agent of this node's first slot runs (a broker serves a group of nodes) */
  share = 1;

  constructor(
    readonly node: string,
    readonly pid: number,
  ) {}

  listener(proto: 'tcp' | 'udp', want: number): ListenerState | undefined {
    return this.listeners.find((l) => l.proto === proto && l.want === want);
  }

  /** Run a probe from this node. Never rejects. */
  probe(spec: ProbeSpec): Promise<ProbeResult> {
    const slot =
      spec.proto === 'icmp'
        ? (this.slots.find((s) => s.icmp && s.agent.alive) ?? this.slots.find((s) => s.agent.alive))
        : this.slots.find((s) => s.agent.alive && s[spec.proto as 'tcp' | 'udp'] > 0);
    if (!slot)
      return Promise.resolve({
        outcome: 'error',
        ms: 0,
        code: 'ENOSOCK',
        detail: `no ${spec.proto} socket left for ${this.node}`,
      });
    if (spec.proto !== 'icmp') slot[spec.proto] -= 1;
    return slot.agent.probe(spec, this.mode === 'broker' ? this.node : undefined);
  }

  async counters(): Promise<Record<string, number> | undefined> {
    for (const s of this.slots) {
      if (!s.agent.alive) continue;
      const c = await s.agent.counters(this.mode === 'broker' ? this.node : undefined);
      if (c) return c;
    }
    return undefined;
  }

  /** TCP / UDP probes this node can still start. */
  capacity(proto: 'tcp' | 'udp'): number {
    return this.slots.filter((s) => s.agent.alive).reduce((n, s) => n + s[proto], 0);
  }
}

/** Soft limit on open files of this process (children inherit it; node raises it to the hard limit at start). */
function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  } catch {
    // not Linux?
  }
  return 1024;
}

function stepArg(n: NodeNeeds, icmp: boolean): string {
  const ls = (n.listen ?? [])
    .map((l) => `${l.proto}/${l.port}+${Math.max(0, Math.min(64, l.tries ?? 0))}`)
    .join(',');
  return [n.node, String(n.pid), icmp ? '1' : '0', String(n.tcp ?? 0), String(n.udp ?? 0), ls].join('|');
}

/** Split nodes into k groups of about equal socket counts (greedy, largest first). */
function balance(nodes: NodeNeeds[], k: number): NodeNeeds[][] {
  const groups: { load: number; nodes: NodeNeeds[] }[] = Array.from({ length: k }, () => ({
    load: 0,
    nodes: [],
  }));
  const weight = (n: NodeNeeds) => 4 + (n.tcp ?? 0) * 2 + (n.udp ?? 0) + (n.listen?.length ?? 0);
  for (const n of [...nodes].sort((a, b) => weight(b) - weight(a))) {
    const g = groups.reduce((a, b) => (b.load < a.load ? b : a));
    g.nodes.push(n);
    g.load += weight(n);
  }
  return groups.map((g) => g.nodes).filter((g) => g.length);
}

export class ProbeFleet {
  readonly endpoints = new Map<string, Endpoint>();
  readonly failed = new Map<string, AgentError>();
  readonly agents: ProbeAgent[] = [];
  /** how the agents were started: 'broker', 'local', or 'mixed' after a broker fell back */
  mode: 'broker' | 'local' | 'mixed' = 'local';

  private constructor(private readonly opts: AgentOptions) {}

  /** Start agents for all nodes in parallel; a node whose agent cannot start lands in `failed`. */
  static async start(nodes: NodeNeeds[], opts: AgentOptions = {}): Promise<ProbeFleet> {
    const fleet = new ProbeFleet(opts);
    const want = opts.mode ?? 'auto';
    const perl = which('perl');
    if (want === 'broker' && !perl) throw new Error('broker mode needs perl on the host');
    if (want !== 'local' && perl && nodes.length) {
      fleet.mode = 'broker';
      const fellBack = await fleet.startBrokers(nodes, true);
      if (fellBack.length) {
        fleet.mode = 'mixed';
        await fleet.startLocal(fellBack);
      }
    } else {
      fleet.mode = 'local';
      await fleet.startLocal(nodes);
    }
    return fleet;
  }

  /**
   * Make sure each node can start at least `tcp`/`udp` more probes (broker mode opens a client-only broker for the
   * shortfall; local agents make sockets on demand). Returns nodes that could not get them.
   */
  async ensureCapacity(needs: { node: string; tcp: number; udp: number }[]): Promise<string[]> {
    const short: NodeNeeds[] = [];
    for (const n of needs) {
      const ep = this.endpoints.get(n.node);
      if (!ep) continue;
      const tcp = Math.max(0, n.tcp - ep.capacity('tcp'));
      const udp = Math.max(0, n.udp - ep.capacity('udp'));
      if (tcp || udp) short.push({ node: n.node, pid: ep.pid, tcp, udp });
    }
    if (!short.length) return [];
    const failed = await this.startBrokers(short, false);
    return failed.map((n) => n.node);
  }

  /** Returns the nodes whose broker could not start. */
  private async startBrokers(nodes: NodeNeeds[], first: boolean): Promise<NodeNeeds[]> {
    const totalFds = nodes.reduce((n, x) => n + (x.tcp ?? 0) + (x.udp ?? 0) + (x.listen?.length ?? 0) + 1, 0);
    const perBroker = Math.max(256, openFileLimit() - 512);
    const cores = Math.min(4, Math.max(1, availableParallelism()));
    const k = Math.min(
      nodes.length,
      Math.max(
        Math.min(this.opts.brokers ?? cores, Math.ceil(nodes.length / 4)),
        Math.ceil(totalFds / perBroker),
      ),
    );
    const groups = balance(nodes, Math.max(1, k));
    const script = agentScriptPath();
    const fellBack: NodeNeeds[] = [];
    await Promise.all(
      groups.map(async (group, gi) => {
        const steps = group.map((n) => stepArg(n, first));
        const label = `broker ${this.agents.length + gi + 1} (${group.map((n) => n.node).join(', ')})`;
        const agent = spawnAgent(
          label,
          'nsenter',
          [
            '-t',
            String(group[0]!.pid),
            '-n',
            which('perl')!,
            '-e',
            BROKER_SHIM,
            ...steps,
            '--',
            process.execPath,
            script,
          ],
          agentEnv(this.opts, {
            LABCTL_SHIM: BROKER_SHIM,
            LABCTL_MANIFEST: '',
            ...(SOCKCONST ? { LABCTL_SOCKCONST: SOCKCONST } : {}),
          }),
        );
        let hello: Hello;
        try {
          hello = await greet(agent, this.opts.startTimeoutMs ?? 20_000);
        } catch {
          fellBack.push(...group);
          return;
        }
        this.agents.push(agent);
        const byNode = new Map(hello.nodes.map((n) => [n.node, n]));
        for (const n of group) {
          const st: NodeState | undefined = byNode.get(n.node);
          if (!st) {
            fellBack.push(n);
            continue;
          }
          const ep = this.endpoint(n.node, n.pid);
          ep.mode = 'broker';
          if (first) ep.share = group.length;
          ep.slots.push({
            agent,
            tcp: Math.max(0, st.tcp),
            udp: Math.max(0, st.udp),
            icmp: st.icmp === 'socket',
          });
          if (first) {
            ep.listeners = st.listeners;
            ep.icmp = st.icmp;
          }
          ep.errors.push(...st.errors);
        }
      }),
    );
    return fellBack;
  }

  private async startLocal(nodes: NodeNeeds[]): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        let agent: ProbeAgent;
        try {
          agent = await startAgent(n.node, n.pid, this.opts);
        } catch (e) {
          this.failed.set(n.node, e instanceof AgentError ? e : new AgentError(n.node, (e as Error).message));
          return;
        }
        this.agents.push(agent);
        const ep = this.endpoint(n.node, n.pid);
        ep.mode = 'local';
        ep.slots.unshift({
          agent,
          tcp: Number.POSITIVE_INFINITY,
          udp: Number.POSITIVE_INFINITY,
          icmp: agent.hello?.nodes[0]?.icmp === 'socket',
        });
        ep.icmp = agent.hello?.nodes[0]?.icmp ?? 'ping';
        ep.listeners = await Promise.all(
          (n.listen ?? []).map((l) => agent.listen(l.proto, l.port, l.tries ?? 0)),
        );
      }),
    );
  }

  /**
   * How many probes from `node` to keep in flight: a quarter more than its fair share of its agent's concurrency
   * (per node, and per process split over the nodes the process serves), so the agent always has work queued, but
   * no request waits seconds in the agent's queue holding its promise and protocol line.
   */
  window(node: string): number {
    const perNode = this.opts.concurrency ?? AGENT_CONCURRENCY;
    const perProcess = this.opts.globalConcurrency ?? AGENT_GLOBAL_CONCURRENCY;
    const share = Math.max(1, this.endpoints.get(node)?.share ?? 1);
    return Math.max(4, Math.ceil(1.25 * Math.min(perNode, perProcess / share)));
  }

  private endpoint(node: string, pid: number): Endpoint {
    let ep = this.endpoints.get(node);
    if (!ep) {
      ep = new Endpoint(node, pid);
      this.endpoints.set(node, ep);
    }
    return ep;
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}
