/**
 * The flow agent's own cost (labctl run, docs/experiments.md): CPU time per 1000 packets it sends and gets echoed.
 *
 * One agent (dist/src/experiment/flow-agent.js, started by the same perl launcher labctl uses) runs in a private
 * network namespace of its own (`unshare -n`: only loopback, nothing of the host's or of any lab's), serves its own
 * UDP and TCP echo listeners there and sends ICMP, UDP and TCP flows to 127.0.0.1 for a fixed time. The agent's CPU
 * (utime + stime from /proc/PID/stat) over the flows, minus its CPU over an idle stretch as long, divided by the
 * packets, is the cost. It counts both ends (sender and echo listener are the same process), so a flow's sender
 * alone costs less. Bounded: fixed durations, every child has a time limit and is killed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLOW_LAUNCHER } from '../../src/experiment/agents.js';

export interface FlowAgentCost {
  proto: 'icmp' | 'udp' | 'tcp';
  rate: number;
  seconds: number;
  sent: number;
  received: number;
  /** CPU ms of the agent for these packets (idle time subtracted) */
  cpuMs: number;
  cpuMsPer1000: number;
}

/** In the fresh netns: loopback up, ICMP datagram sockets allowed for root, then the launcher. */
const PRELUDE = `if (open(my $f, '>', '/proc/sys/net/ipv4/ping_group_range')) { print $f "0 0\\n"; close $f } system('ip', 'link', 'set', 'lo', 'up') == 0 or die "ip link set lo up failed\\n";`;

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The pid of the node process: unshare → perl → exec node keeps unshare's child pid (perl execs node). */
function agentPid(child: ChildProcess): number {
  // unshare without --fork execs perl in place, and perl execs node: one pid all along
  return child.pid!;
}

export async function measureFlowAgent(
  distRoot: string,
  opts: { rate?: number; seconds?: number } = {},
): Promise<{ costs: FlowAgentCost[]; note?: string }> {
  const rate = opts.rate ?? 500;
  const seconds = opts.seconds ?? 10;
  const script = join(distRoot, 'src', 'experiment', 'flow-agent.js');
  const costs: FlowAgentCost[] = [];
  for (const proto of ['icmp', 'udp', 'tcp'] as const) {
    const child = spawn('unshare', ['-n', 'perl', '-e', PRELUDE + FLOW_LAUNCHER, process.execPath, script], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds * 2 + 20) * 1000);
    let buf = '';
    let sent = 0;
    let received = 0;
    let hello: { icmp: string } | undefined;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += String(d);
    });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const e = JSON.parse(buf.slice(0, nl)) as {
          ev: string;
          icmp?: string;
          tx?: unknown[];
          rx?: unknown[];
        };
        buf = buf.slice(nl + 1);
        nl = buf.indexOf('\n');
        if (e.ev === 'hello') hello = { icmp: e.icmp ?? '' };
        if (e.ev === 'batch') {
          sent += e.tx?.length ?? 0;
          received += e.rx?.length ?? 0;
        }
      }
    });
    const send = (m: object) => child.stdin!.write(`${JSON.stringify(m)}\n`);
    try {
      for (let i = 0; i < 100 && !hello; i++) await sleep(100);
      if (!hello) throw new Error(`the flow agent did not start: ${stderr.trim()}`);
      if (proto === 'icmp' && hello.icmp !== 'socket') {
        costs.push({
          proto,
          rate,
          seconds,
          sent: 0,
          received: 0,
          cpuMs: Number.NaN,
          cpuMsPer1000: Number.NaN,
        });
        continue;
      }
      const pid = agentPid(child);
      if (proto !== 'icmp') send({ op: 'listen', proto, port: 7999 });
      await sleep(500);
      // idle: what the agent costs doing nothing for as long (its timers), subtracted below
      const idle0 = cpuMs(pid);
      await sleep(seconds * 1000);
      const idle = cpuMs(pid) - idle0;
      const c0 = cpuMs(pid);
      send({ op: 'flow', id: 0, proto, ip: '127.0.0.1', port: 7999, rate });
      await sleep(seconds * 1000);
      send({ op: 'stop', id: 0 });
      const c1 = cpuMs(pid);
      await sleep(300);
      const used = Math.max(0, c1 - c0 - idle);
      costs.push({
        proto,
        rate,
        seconds,
        sent,
        received,
        cpuMs: used,
        cpuMsPer1000: sent ? (used / sent) * 1000 : Number.NaN,
      });
    } finally {
      child.stdin!.end();
      await Promise.race([new Promise((r) => child.once('close', r)), sleep(2000)]);
      child.kill('SIGKILL');
      clearTimeout(killer);
    }
  }
  return { costs };
}

export function formatFlowAgent(costs: FlowAgentCost[]): string {
  const lines = ['flow agent (labctl run): CPU per 1000 packets, sender and echo in one process, loopback'];
  for (const c of costs)
    lines.push(
      Number.isNaN(c.cpuMsPer1000)
        ? `  ${c.proto.padEnd(4)} not measured (no ICMP socket)`
        : `  ${c.proto.padEnd(4)} ${c.rate}/s for ${c.seconds} s: ${c.sent} sent, ${c.received} echoed, ${c.cpuMs.toFixed(0)} ms CPU → ${c.cpuMsPer1000.toFixed(1)} ms per 1000 packets`,
    );
  return `${lines.join('\n')}\n`;
}
