/**
 * The probe agent (protocol.ts, docs/probes.md): a program of its own that serves TCP token-echo listeners and UDP
 * echo responders, runs TCP/UDP/ICMP probes concurrently under a bound, and reads a network namespace's SNMP
 * counters. This file is its entry: set-up and the request loop. The rest, one concern per file, is in agent/:
 * node.ts (per-node state), listeners.ts, probe-tcp.ts, probe-udp.ts, probe-icmp.ts, scheduler.ts (bounds),
 * counters.ts; the broker manifest's grammar is manifest.ts.
 *
 * Two modes, one code path for the probes themselves:
 * - local: the host starts it inside a node's netns (`nsenter -t PID -n node agent.js`); it makes its own sockets.
 * - broker (LABCTL_MANIFEST set): it was exec'd at the end of a chain of per-netns steps (src/perl/broker.pl) that
 *   opened every socket it needs inside each node's netns; a socket keeps the namespace it was created in, so this
 *   one process probes from and listens in many namespaces. Node start-up costs ~130 ms of CPU here; a per-netns
 *   step costs ~5 ms.
 *
 * Bounded in everything: per-node and per-process concurrency limits, a queue limit, a time limit on every probe,
 * listeners read at most MAX_TOKEN bytes per connection, and the process exits when stdin closes, on "stop", or when
 * its lifetime limit passes, so a crashed doctor leaves nothing behind.
 *
 * It imports nothing but node built-ins, its own modules and types: it must start fast.
 */
import { pathToFileURL } from 'node:url';
import { readCounters } from './agent/counters.js';
import { listenLocal, listenTcp, listenUdp } from './agent/listeners.js';
import { type Ctx, clampInt, newCtx } from './agent/node.js';
import { openIcmp } from './agent/probe-icmp.js';
import { createScheduler } from './agent/scheduler.js';
import { parseManifest } from './manifest.js';
import type { Hello, NodeState, Request, Response } from './protocol.js';

const env = process.env;
const MANIFEST = env.LABCTL_MANIFEST;
const LIFETIME_MS = clampInt(Number(env.LABCTL_AGENT_LIFETIME_MS ?? 600_000), 1_000, 3_600_000);
const MAX_LINE = 64 * 1024;
const schedule = createScheduler(
  clampInt(Number(env.LABCTL_AGENT_CONCURRENCY ?? 32), 1, 1024),
  clampInt(Number(env.LABCTL_AGENT_GLOBAL_CONCURRENCY ?? 256), 1, 4096),
);

// Responses are coalesced: one write per event-loop turn instead of one per response (a 50-node mesh answers
// ~10 000 requests; a write per line cost half a second of CPU).
let outBuf: string[] = [];
let flushScheduled = false;
function flush(): void {
  flushScheduled = false;
  if (!outBuf.length) return;
  const chunk = outBuf.join('');
  outBuf = [];
  process.stdout.write(chunk);
}
function send(msg: Response): void {
  outBuf.push(`${JSON.stringify(msg)}\n`);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

const nodes = new Map<string, Ctx>();
let defaultNode = '';

async function setupBroker(text: string): Promise<void> {
  for (const m of parseManifest(text)) {
    const ctx = newCtx(m.node, m.pid, false);
    ctx.tcpFds = m.tcp;
    ctx.udpFds = m.udp;
    ctx.tcp6Fds = m.tcp6;
    ctx.udp6Fds = m.udp6;
    ctx.errors.push(...m.errors);
    nodes.set(m.node, ctx);
    if (!defaultNode) defaultNode = m.node;
    if (m.icmpFd !== undefined) await openIcmp(ctx, m.icmpFd);
    if (m.icmp6Fd !== undefined) await openIcmp(ctx, m.icmp6Fd, true);
    for (const l of m.listeners) {
      if (l.fd === undefined) {
        ctx.listeners.set(`${l.proto}/${l.want}`, {
          state: { proto: l.proto, want: l.want, code: l.code },
          close: () => {},
        });
        continue;
      }
      try {
        if (l.proto === 'tcp') await listenTcp(ctx, l.want, l.port!, l.fd, l.v6);
        else await listenUdp(ctx, l.want, l.port!, l.fd, l.v6);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'EINVAL';
        ctx.listeners.set(`${l.proto}/${l.want}`, {
          state: { proto: l.proto, want: l.want, code },
          close: () => {},
        });
      }
    }
  }
}

async function setupLocal(): Promise<void> {
  const ctx = newCtx(env.LABCTL_NODE ?? 'local', process.pid, true);
  nodes.set(ctx.node, ctx);
  defaultNode = ctx.node;
  const fd = Number(env.LABCTL_ICMP_FD);
  if (Number.isInteger(fd) && fd >= 3) await openIcmp(ctx, fd);
  else if (env.LABCTL_ICMP_ERROR) ctx.errors.push(`icmp: ${env.LABCTL_ICMP_ERROR} (using ping)`);
  const fd6 = Number(env.LABCTL_ICMP6_FD);
  if (Number.isInteger(fd6) && fd6 >= 3) await openIcmp(ctx, fd6, true);
  else if (env.LABCTL_ICMP6_ERROR) ctx.errors.push(`icmp6: ${env.LABCTL_ICMP6_ERROR} (using ping -6)`);
}

function nodeState(ctx: Ctx): NodeState {
  return {
    node: ctx.node,
    pid: ctx.pid,
    icmp: ctx.icmp ? 'socket' : 'ping',
    icmp6: ctx.icmp6 ? 'socket' : 'ping',
    listeners: [...ctx.listeners.values()].map((l) => l.state),
    tcp: ctx.tcpFds ? ctx.tcpFds.length : -1,
    udp: ctx.udpFds ? ctx.udpFds.length : -1,
    tcp6: ctx.tcp6Fds ? ctx.tcp6Fds.length : -1,
    udp6: ctx.udp6Fds ? ctx.udp6Fds.length : -1,
    errors: ctx.errors,
  };
}

// ---------------------------------------------------------------- request loop

function ctxFor(node: string | undefined): Ctx | undefined {
  return (
    nodes.get(node ?? defaultNode) ??
    (nodes.size === 1 && node === undefined ? nodes.get(defaultNode) : undefined)
  );
}

async function handle(req: Request): Promise<void> {
  const id = typeof req.id === 'number' ? req.id : -1;
  try {
    switch (req.op) {
      case 'hello': {
        const hello: Hello = {
          pid: process.pid,
          mode: MANIFEST ? 'broker' : 'local',
          node: process.version,
          nodes: [...nodes.values()].map(nodeState),
        };
        send({ id, ok: true, hello });
        return;
      }
      case 'listen': {
        const ctx = ctxFor(undefined)!;
        if (!ctx.local)
          return send({
            id,
            ok: false,
            error: 'broker mode: listeners are opened by the launcher, not on request',
          });
        if (!(Number.isInteger(req.port) && req.port >= 0 && req.port < 65_536))
          return send({ id, ok: false, error: `bad port ${req.port}` });
        const r = await listenLocal(ctx, req.proto, req.port, clampInt(req.tries ?? 0, 0, 64), !!req.dual);
        if (r.port !== undefined) send({ id, ok: true, port: r.port });
        else send({ id, ok: false, code: r.code, error: r.error ?? r.code ?? 'listen failed' });
        return;
      }
      case 'unlisten': {
        const ctx = ctxFor(undefined)!;
        const key = `${req.proto}/${req.port}`;
        ctx.listeners.get(key)?.close();
        ctx.listeners.delete(key);
        send({ id, ok: true });
        return;
      }
      case 'probe': {
        const ctx = ctxFor(req.node);
        if (!ctx) return send({ id, ok: false, error: `no such node here: ${req.node}` });
        send({ id, ok: true, result: await schedule(ctx, req.probe) });
        return;
      }
      case 'counters': {
        const ctx = ctxFor(req.node);
        if (!ctx) return send({ id, ok: false, error: `no such node here: ${req.node}` });
        send({ id, ok: true, counters: readCounters(ctx) });
        return;
      }
      case 'stop':
        send({ id, ok: true });
        shutdown(0);
        return;
      default:
        send({ id, ok: false, error: `unknown op ${String((req as { op?: unknown }).op)}` });
    }
  } catch (e) {
    send({ id, ok: false, error: (e as Error).message });
  }
}

let stopping = false;
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  for (const ctx of nodes.values()) {
    for (const l of ctx.listeners.values()) {
      try {
        l.close();
      } catch {
        // closing anyway
      }
    }
    for (const s of [ctx.icmp, ctx.icmp6]) {
      try {
        s?.close();
      } catch {
        // closing anyway
      }
    }
  }
  // let the last response drain, then go, whatever is still pending (unused inherited fds close with the process)
  setTimeout(() => process.exit(code), 50).unref();
  flush();
  process.stdout.write('', () => process.exit(code));
}

async function main(): Promise<void> {
  setTimeout(() => shutdown(3), LIFETIME_MS).unref();
  if (MANIFEST) await setupBroker(MANIFEST);
  else await setupLocal();
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE && buf.indexOf('\n') < 0) {
      send({ id: -1, ok: false, error: 'request line too long' });
      buf = '';
      return;
    }
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      if (!line) continue;
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        send({ id: -1, ok: false, error: `not JSON: ${line.slice(0, 80)}` });
        continue;
      }
      void handle(req);
    }
  });
  // The doctor holds the other end of stdin: when it exits (or crashes) the agent goes too.
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdout.on('error', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGPIPE', () => shutdown(0));
}

// run only as a program, not when imported
const isMain =
  env.LABCTL_AGENT === '1' ||
  (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href);
if (isMain) void main();
