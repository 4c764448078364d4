/**
 * The host side of the flow agents (flow-agent.ts): start one inside a node's network namespace, send it commands,
 * collect what it reports. Like the doctor's probe agents, it needs nothing from the container image: the host's own
 * node (process.execPath) runs dist/src/experiment/flow-agent.js, entered into the netns with `nsenter -t PID -n`.
 * A one-line perl launcher (Debian's perl-base is Essential) opens a datagram ICMP socket in that netns first and
 * passes it on; node itself cannot open one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envError } from '../errors.js';
import { which } from '../exec.js';

/** Where the compiled agent lives (next to this module in dist/src/experiment, or beside the bundle). */
export function flowAgentPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'flow-agent.js'),
    join(here, '..', 'src', 'experiment', 'flow-agent.js'),
    join(here, 'src', 'experiment', 'flow-agent.js'),
  ];
  const m = /^(.*)[/\\]src[/\\]experiment$/.exec(here);
  if (m) candidates.push(join(m[1]!, 'dist', 'src', 'experiment', 'flow-agent.js'));
  for (const c of candidates) if (existsSync(c)) return resolve(c);
  throw envError(`flow agent not found (looked for ${candidates.join(', ')})`, 'npm run build');
}

/** Open a datagram ICMP socket (AF_INET, SOCK_DGRAM, IPPROTO_ICMP) without close-on-exec, export its fd, exec. */
export const FLOW_LAUNCHER = `$^F = 1 << 30; if (socket(my $s, 2, 2, 1)) { $ENV{LABCTL_FLOW_ICMP_FD} = fileno($s); our $keep = $s } else { $ENV{LABCTL_FLOW_ICMP_ERR} = "$!" } exec { $ARGV[0] } @ARGV; die "exec $ARGV[0]: $!\\n";`;

export type AgentEvent =
  | { ev: 'hello'; pid: number; icmp: string }
  | { ev: 'listening'; proto: 'tcp' | 'udp'; port: number }
  | { ev: 'listen-error'; proto: 'tcp' | 'udp'; port: number; code: string }
  | { ev: 'batch'; id: number; tx: [number, number][]; rx: [number, number, number][] }
  | { ev: 'tcp'; id: number; state: 'connected' | 'error' | 'closed'; code?: string; t: number }
  | { ev: 'stopped'; id: number; sent: number; t: number }
  | { ev: 'flow-error'; id: number; detail: string };

export type AgentCommand =
  | { op: 'listen'; proto: 'tcp' | 'udp'; port: number }
  | { op: 'flow'; id: number; proto: 'icmp' | 'udp' | 'tcp'; ip: string; port?: number; rate: number }
  | { op: 'target'; id: number; ip: string }
  | { op: 'stop'; id: number }
  | { op: 'exit' };

/** One flow agent in one node's netns. */
export class FlowAgent {
  private buf = '';
  private stderr = '';
  private waiters: { match: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];
  exited = false;
  hello?: { pid: number; icmp: string };
  readonly exitedPromise: Promise<void>;

  constructor(
    readonly node: string,
    readonly netnsPid: number,
    private readonly child: ChildProcess,
    private readonly onEvent: (agent: FlowAgent, e: AgentEvent) => void,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onData(d));
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += String(d);
    });
    child.stdin!.on('error', () => {});
    this.exitedPromise = new Promise((res) => {
      const done = () => {
        this.exited = true;
        res();
      };
      child.on('error', (e) => {
        this.stderr += `${e.message}\n`;
        done();
      });
      child.once('close', done);
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
      let e: AgentEvent;
      try {
        e = JSON.parse(line) as AgentEvent;
      } catch {
        continue;
      }
      if (e.ev === 'hello') this.hello = { pid: e.pid, icmp: e.icmp };
      this.onEvent(this, e);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(e)) return true;
        w.resolve(e);
        return false;
      });
    }
  }

  send(cmd: AgentCommand): void {
    if (!this.exited) this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  /** The next event that matches, or undefined after timeoutMs or when the agent exits. */
  waitFor(match: (e: AgentEvent) => boolean, timeoutMs: number): Promise<AgentEvent | undefined> {
    return new Promise((res) => {
      const w = {
        match,
        resolve: (e: AgentEvent | undefined) => {
          clearTimeout(timer);
          res(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        res(undefined);
      }, timeoutMs);
      this.waiters.push(w);
      void this.exitedPromise.then(() => w.resolve(undefined));
    });
  }

  get errorText(): string {
    return this.stderr.trim().split('\n').slice(-3).join('; ');
  }

  /** Ask it to exit; kill it if it has not after graceMs. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.exited) return;
    this.send({ op: 'exit' });
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(t);
  }
}

/** Start a flow agent in the netns of process `pid` (a node's container) and wait for its hello. */
export async function startFlowAgent(
  node: string,
  pid: number,
  onEvent: (agent: FlowAgent, e: AgentEvent) => void,
  lifetimeMs: number,
): Promise<FlowAgent> {
  if (!which('nsenter')) throw envError('nsenter is not installed on this host', 'labctl host install');
  const script = flowAgentPath();
  const nodeArgs = [process.execPath, script];
  const args = which('perl')
    ? ['-t', String(pid), '-n', 'perl', '-e', FLOW_LAUNCHER, ...nodeArgs]
    : ['-t', String(pid), '-n', ...nodeArgs];
  const child = spawn('nsenter', args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, LABCTL_FLOW_LIFETIME_MS: String(Math.ceil(lifetimeMs)) },
  });
  const agent = new FlowAgent(node, pid, child, onEvent);
  const hello = await agent.waitFor((e) => e.ev === 'hello', 20_000);
  if (!hello) {
    await agent.stop(500);
    throw envError(
      `the flow agent in node ${node} did not start${agent.errorText ? `: ${agent.errorText}` : ''}`,
      'npm run build   (then labctl host check)',
    );
  }
  return agent;
}
