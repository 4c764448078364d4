/**
 * Starting probe agents (docs/probes.md): they run the host's node (process.execPath) on dist/src/probe/agent.js,
 * entering the containers' network namespaces with `nsenter -t PID -n`; nothing is needed from the images.
 * - local: one agent per node, started through src/perl/icmp-shim.pl (which hands it a datagram ICMP socket);
 * - broker: a chain of src/perl/broker.pl steps, one per node's netns (~5 ms each), opens every socket each node
 *   needs and execs one agent that inherits them all (the steps' grammar: manifest.ts).
 * A start that fails says why: the agent's own error, or the last line the launcher wrote on stderr.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { which } from '../exec.js';
import { perlScriptPath } from '../perl/scripts.js';
import { AgentError, ProbeAgent } from './agent-process.js';
import { formatStep, type StepNeeds } from './manifest.js';
import type { Hello } from './protocol.js';
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
 * AF_INET, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY on Linux ABIs that use the generic values (x86, arm,
 * arm64, ppc, s390, riscv, loongarch); elsewhere (mips, sparc, …) broker.pl loads perl's Socket module instead.
 */
const SOCKCONST =
  process.platform === 'linux' &&
  ['x64', 'ia32', 'arm', 'arm64', 'ppc64', 's390x', 'riscv64', 'loong64'].includes(process.arch)
    ? '2,1,2,1,2,10,41,26'
    : undefined;

/**
 * The agents' own bounds, a safety net: the doctor paces its probes (pace.ts) far below them. They are high enough
 * that the silent probes of a broken node (each held until its time limit) never queue its other probes.
 */
export const AGENT_CONCURRENCY = 128;
export const AGENT_GLOBAL_CONCURRENCY = 1024;

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
  const cmd = perl
    ? [perl, perlScriptPath('icmp-shim'), process.execPath, script]
    : [process.execPath, script];
  const agent = spawnAgent(
    node,
    'nsenter',
    ['-t', String(pid), '-n', ...cmd],
    agentEnv(opts, { LABCTL_NODE: node, LABCTL_ICMP_ID: String(DOCTOR_ICMP_ID) }),
  );
  await greet(agent, opts.startTimeoutMs ?? 20_000);
  return agent;
}

/**
 * Start one broker for a group of nodes (each in its own netns) and wait for its hello: broker.pl steps through
 * the nodes' namespaces (the first by the nsenter here, the next ones by the steps themselves) and execs the agent.
 * Rejects with an AgentError that says why (the agent's error, or the launcher's last stderr line).
 */
export async function startBroker(
  label: string,
  group: StepNeeds[],
  opts: AgentOptions = {},
): Promise<{ agent: ProbeAgent; hello: Hello }> {
  const perl = which('perl');
  if (!perl) throw new AgentError(label, 'broker mode needs perl on the host');
  const first = group[0];
  if (!first) throw new AgentError(label, 'no node to serve');
  for (const n of group)
    if (!Number.isInteger(n.pid) || n.pid <= 0) throw new AgentError(label, `bad pid ${n.pid} for ${n.node}`);
  const agent = spawnAgent(
    label,
    'nsenter',
    [
      '-t',
      String(first.pid),
      '-n',
      perl,
      perlScriptPath('broker'),
      ...group.map(formatStep),
      '--',
      process.execPath,
      agentScriptPath(),
    ],
    agentEnv(opts, {
      LABCTL_MANIFEST: '',
      LABCTL_ICMP_ID: String(DOCTOR_ICMP_ID),
      ...(SOCKCONST ? { LABCTL_SOCKCONST: SOCKCONST } : {}),
    }),
  );
  return { agent, hello: await greet(agent, opts.startTimeoutMs ?? 20_000) };
}
