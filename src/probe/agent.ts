/**
 * The probe agent (protocol.ts, docs/probes.md). It serves TCP token-echo listeners and UDP echo responders, runs
 * TCP/UDP/ICMP probes concurrently under a bound, and reads a network namespace's SNMP counters.
 *
 * Two modes, one code path for the probes themselves:
 * - local: the host starts it inside a node's netns (`nsenter -t PID -n node agent.js`); it makes its own sockets.
 * - broker (LABCTL_MANIFEST set): it was exec'd at the end of a chain of per-netns steps that opened every socket it
 *   needs inside each node's netns; a socket keeps the namespace it was created in, so this one process probes from
 *   and listens in many namespaces. Node start-up costs ~130 ms of CPU here; a per-netns step costs ~5 ms.
 *
 * Bounded in everything: per-node and per-process concurrency limits, a queue limit, a time limit on every probe,
 * listeners read at most MAX_TOKEN bytes per connection, and the process exits when stdin closes, on "stop", or when
 * its lifetime limit passes, so a crashed doctor leaves nothing behind.
 *
 * ICMP: node has no raw sockets; a datagram ICMP ("ping") socket opened by the launcher (perl) is inherited. Without
 * one, each ICMP probe runs `ping -c 1` (local mode: a child inherits the netns; broker: through nsenter).
 *
 * This file imports nothing but node built-ins (and types): it must start fast.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import type {
  Hello,
  ListenerState,
  NodeState,
  Outcome,
  ProbeResult,
  ProbeSpec,
  Request,
  Response,
} from './protocol.js';

const env = process.env;
const MANIFEST = env.LABCTL_MANIFEST;
const CONCURRENCY = clampInt(Number(env.LABCTL_AGENT_CONCURRENCY ?? 32), 1, 1024);
const GLOBAL_CONCURRENCY = clampInt(Number(env.LABCTL_AGENT_GLOBAL_CONCURRENCY ?? 256), 1, 4096);
const LIFETIME_MS = clampInt(Number(env.LABCTL_AGENT_LIFETIME_MS ?? 600_000), 1_000, 3_600_000);
const MAX_QUEUE = 100_000;
const MAX_LISTENERS = 256;
const MAX_TOKEN = 512;
const MAX_LINE = 64 * 1024;
const SERVER_CONN_IDLE_MS = 5_000;
const MAX_SERVER_CONNS = 8_192;

function clampInt(n: number, lo: number, hi: number): number {
  if (!Number.isFinite(n)) return lo;
  return Math.min(hi, Math.max(lo, Math.round(n)));
}

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

const now = () => performance.now();
const round = (ms: number) => Math.round(ms * 100) / 100;

// ---------------------------------------------------------------- per-node state

interface IcmpPending {
  payload: Buffer;
  onReply: (from: string) => void;
}

interface Ctx {
  node: string;
  /** netns owner: the container's PID (broker) or our own (local) */
  pid: number;
  local: boolean;
  icmp?: dgram.Socket;
  icmpSeq: number;
  icmpPending: Map<number, IcmpPending>;
  /** broker mode: unused client sockets opened in this node's netns */
  tcpFds?: number[];
  udpFds?: number[];
  listeners: Map<string, { state: ListenerState; close(): void }>;
  errors: string[];
  running: number;
  queue: (() => void)[];
}

const nodes = new Map<string, Ctx>();
let defaultNode = '';

function newCtx(node: string, pid: number, local: boolean): Ctx {
  return {
    node,
    pid,
    local,
    icmpSeq: 0,
    icmpPending: new Map(),
    listeners: new Map(),
    errors: [],
    running: 0,
    queue: [],
  };
}

// ---------------------------------------------------------------- listeners

function serveTcp(server: net.Server): void {
  server.maxConnections = MAX_SERVER_CONNS;
  server.on('connection', (sock) => {
    // Echo the first line (the doctor's token) and close; anything longer is cut off after MAX_TOKEN bytes.
    let buf = '';
    sock.setNoDelay(true);
    sock.setTimeout(SERVER_CONN_IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) sock.end(`${buf.slice(0, nl)}\n`);
      else if (buf.length > MAX_TOKEN) sock.destroy();
    });
  });
}

function serveUdp(sock: dgram.Socket): void {
  sock.on('message', (m, r) => {
    if (m.length <= MAX_TOKEN) sock.send(m, r.port, r.address, () => {});
  });
}

function listenTcp(ctx: Ctx, want: number, port: number, fd?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    serveTcp(server);
    server.once('error', reject);
    const onListening = () => {
      server.removeListener('error', reject);
      server.on('error', () => {});
      const bound = (server.address() as net.AddressInfo).port;
      ctx.listeners.set(`tcp/${want}`, {
        state: { proto: 'tcp', want, port: bound },
        close: () => server.close(),
      });
      resolve(bound);
    };
    if (fd !== undefined) server.listen({ fd, backlog: 1024 }, onListening);
    else server.listen({ port, host: '0.0.0.0', backlog: 1024 }, onListening);
  });
}

function listenUdp(ctx: Ctx, want: number, port: number, fd?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    serveUdp(sock);
    sock.once('error', reject);
    const onListening = () => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      const bound = sock.address().port;
      ctx.listeners.set(`udp/${want}`, {
        state: { proto: 'udp', want, port: bound },
        close: () => sock.close(),
      });
      resolve(bound);
    };
    if (fd !== undefined) sock.bind({ fd }, onListening);
    else sock.bind(port, '0.0.0.0', onListening);
  });
}

/** Local mode: bind `want`, or the next ports up to `tries` more when it is taken. */
async function listenLocal(
  ctx: Ctx,
  proto: 'tcp' | 'udp',
  want: number,
  tries: number,
): Promise<{ port?: number; code?: string; error?: string }> {
  const existing = ctx.listeners.get(`${proto}/${want}`);
  if (existing) return { port: existing.state.port, code: existing.state.code };
  if (ctx.listeners.size >= MAX_LISTENERS) return { code: 'ELIMIT', error: 'too many listeners' };
  let last: NodeJS.ErrnoException | undefined;
  for (let k = 0; k <= Math.min(tries, 64) && want + k < 65_536; k++) {
    try {
      return {
        port: proto === 'tcp' ? await listenTcp(ctx, want, want + k) : await listenUdp(ctx, want, want + k),
      };
    } catch (e) {
      last = e as NodeJS.ErrnoException;
      if (last.code !== 'EADDRINUSE' || want === 0) break;
    }
  }
  ctx.listeners.set(`${proto}/${want}`, {
    state: { proto, want, code: last?.code ?? 'EINVAL' },
    close: () => {},
  });
  return { code: last?.code, error: last?.message };
}

// ---------------------------------------------------------------- probes

function classifyErrno(code: string | undefined): Outcome {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

function noSocket(ctx: Ctx, proto: string): ProbeResult {
  return {
    outcome: 'error',
    ms: 0,
    code: 'ENOSOCK',
    detail: `no unused ${proto} socket left for ${ctx.node}`,
  };
}

function probeTcp(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  let sock: net.Socket;
  if (ctx.tcpFds) {
    const fd = ctx.tcpFds.pop();
    if (fd === undefined) return Promise.resolve(noSocket(ctx, 'tcp'));
    try {
      // connect() follows in this same tick, before the event loop ever polls the unconnected socket
      sock = new net.Socket({ fd, readable: true, writable: true });
    } catch (e) {
      return Promise.resolve({ outcome: 'error', ms: 0, detail: (e as Error).message });
    }
  } else {
    sock = new net.Socket();
  }
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    let connected = false;
    let buf = '';
    const from = `${p.ip}:${p.port}`;
    const finish = (r: Omit<ProbeResult, 'ms'>, ms = now() - t0) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, ms: round(ms) });
    };
    const timer = setTimeout(
      () =>
        finish({
          outcome: 'timeout',
          stage: connected ? 'token' : 'connect',
          ...(connected ? { from, detail: 'connected, but the token did not come back' } : {}),
        }),
      p.timeoutMs,
    );
    sock.on('connect', () => {
      connected = true;
      if (p.token === undefined) return finish({ outcome: 'pass', stage: 'connect', from });
      sock.write(`${p.token}\n`);
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0 || buf.length > MAX_TOKEN) {
        const line = nl >= 0 ? buf.slice(0, nl) : buf;
        if (line === p.token) finish({ outcome: 'pass', stage: 'token', from });
        else
          finish({
            outcome: 'mismatch',
            stage: 'token',
            from,
            detail: `answered ${JSON.stringify(line.slice(0, 80))} instead of the token`,
          });
      }
    });
    sock.on('end', () => {
      if (connected)
        finish({
          outcome: 'mismatch',
          stage: 'token',
          from,
          detail: 'connection closed without echoing the token',
        });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (connected) {
        finish({
          outcome: 'mismatch',
          stage: 'token',
          from,
          code: e.code,
          detail: `connection failed after the handshake: ${e.code ?? e.message}`,
        });
        return;
      }
      const outcome = classifyErrno(e.code);
      finish({
        outcome,
        stage: 'connect',
        code: e.code,
        ...(outcome === 'refused' ? { from } : {}),
        ...(outcome === 'error' ? { detail: e.message } : {}),
      });
    });
    sock.setNoDelay(true);
    sock.connect({ port: p.port!, host: p.ip });
  });
}

function probeUdp(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  let fd: number | undefined;
  if (ctx.udpFds) {
    fd = ctx.udpFds.pop();
    if (fd === undefined) return Promise.resolve(noSocket(ctx, 'udp'));
  }
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    let sent = 0;
    let lastSend = t0;
    const token = Buffer.from(p.token ?? `labctl-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const sock = dgram.createSocket('udp4');
    const retries: NodeJS.Timeout[] = [];
    const finish = (r: Omit<ProbeResult, 'ms' | 'sent'>, ms = now() - t0) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const t of retries) clearTimeout(t);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve({ ...r, ms: round(ms), sent });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), p.timeoutMs);
    const transmit = () => {
      if (done) return;
      sent++;
      lastSend = now();
      sock.send(token, (err) => {
        if (err)
          finish({
            outcome: classifyErrno((err as NodeJS.ErrnoException).code),
            code: (err as NodeJS.ErrnoException).code,
            detail: err.message,
          });
      });
    };
    sock.on('message', (m, r) => {
      if (m.equals(token)) finish({ outcome: 'pass', from: `${r.address}:${r.port}` }, now() - lastSend);
      else
        finish({
          outcome: 'mismatch',
          from: `${r.address}:${r.port}`,
          detail: `answered ${m.length} bytes that are not the token`,
        });
    });
    // On a connected UDP socket an ICMP port-unreachable comes back as ECONNREFUSED.
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const outcome = classifyErrno(e.code);
      finish({
        outcome,
        code: e.code,
        ...(outcome === 'refused' ? { from: `${p.ip}:${p.port}` } : {}),
        ...(outcome === 'error' ? { detail: e.message } : {}),
      });
    });
    const go = () =>
      sock.connect(p.port!, p.ip, (err?: Error) => {
        if (err) return; // reported through 'error'
        // three transmissions within the time limit: one lost datagram is not a verdict
        transmit();
        for (const frac of [1 / 3, 2 / 3]) retries.push(setTimeout(transmit, p.timeoutMs * frac));
      });
    if (fd !== undefined) sock.bind({ fd }, go);
    else go();
  });
}

// ICMP through a datagram ICMP socket: the kernel fills in the identifier and the checksum, and hands this socket
// the echo replies for its identifier. Requests are matched to probes by sequence number and payload.
function openIcmp(ctx: Ctx, fd: number): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      const s = dgram.createSocket('udp4');
      s.once('error', (e) => {
        ctx.errors.push(`icmp: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
        resolve();
      });
      s.bind({ fd }, () => {
        s.removeAllListeners('error');
        s.on('error', () => {});
        s.on('message', (m, r) => {
          // echo reply: type 0; 8-byte header; sequence number at offset 6
          if (m.length < 8 || m[0] !== 0) return;
          const pending = ctx.icmpPending.get(m.readUInt16BE(6));
          if (pending && m.subarray(8).equals(pending.payload)) pending.onReply(r.address);
        });
        ctx.icmp = s;
        resolve();
      });
    } catch (e) {
      ctx.errors.push(`icmp: ${(e as Error).message}`);
      resolve();
    }
  });
}

function icmpPayload(token: string, size: number): Buffer {
  const b = Buffer.alloc(size, 0x2e);
  Buffer.from(token).copy(b, 0, 0, Math.min(size, Buffer.byteLength(token)));
  return b;
}

function probeIcmpSocket(ctx: Ctx, s: dgram.Socket, p: ProbeSpec): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    let sent = 0;
    let lastSend = t0;
    const size = clampInt(p.size ?? 56, 16, 65_000);
    const payload = icmpPayload(
      p.token ?? `labctl-${process.pid}-${Math.random().toString(36).slice(2)}`,
      size,
    );
    const seqs: number[] = [];
    const retries: NodeJS.Timeout[] = [];
    const finish = (r: Omit<ProbeResult, 'ms' | 'sent'>, ms = now() - t0) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const t of retries) clearTimeout(t);
      for (const q of seqs) ctx.icmpPending.delete(q);
      resolve({ ...r, ms: round(ms), sent });
    };
    let unsent = 0;
    const timer = setTimeout(() => {
      // A send that never completed: the kernel refused it with ENOBUFS (e.g. the host's neighbour table is full),
      // which libuv retries for ever, spinning this process and holding every later send of the socket behind it.
      // Close the socket (that cancels the queue) and let this node's later ICMP probes spawn ping instead.
      if (unsent > 0 && ctx.icmp === s) {
        ctx.icmp = undefined;
        ctx.errors.push(
          'icmp: a send did not complete within the probe limit (ENOBUFS?): socket closed, using ping',
        );
        try {
          s.close();
        } catch {
          // closing anyway
        }
      }
      finish({ outcome: 'timeout', ...(unsent > 0 ? { detail: 'the echo request could not be sent' } : {}) });
    }, p.timeoutMs);
    const transmit = () => {
      if (done) return;
      // a free sequence number (bounded search; far fewer probes than 65536 are ever pending)
      let seq = -1;
      for (let i = 0; i < 65_536; i++) {
        ctx.icmpSeq = (ctx.icmpSeq + 1) & 0xffff;
        if (!ctx.icmpPending.has(ctx.icmpSeq)) {
          seq = ctx.icmpSeq;
          break;
        }
      }
      if (seq < 0) return finish({ outcome: 'error', detail: 'no free ICMP sequence number' });
      const pkt = Buffer.alloc(8 + size);
      pkt[0] = 8; // echo request
      pkt.writeUInt16BE(seq, 6);
      payload.copy(pkt, 8);
      seqs.push(seq);
      ctx.icmpPending.set(seq, {
        payload,
        onReply: (from) => finish({ outcome: 'pass', from }, now() - lastSend),
      });
      sent++;
      lastSend = now();
      // The kernel ignores the port for ICMP sockets (node insists on one). The socket does path-MTU discovery
      // ("want"): a packet that fits the interface MTU leaves with DF set, which is what the MTU probe needs.
      unsent++;
      s.send(pkt, 1, p.ip, (err) => {
        unsent--;
        if (!err) return;
        const code = (err as NodeJS.ErrnoException).code;
        finish({ outcome: code === 'EMSGSIZE' ? 'error' : classifyErrno(code), code, detail: err.message });
      });
    };
    transmit();
    for (const frac of [1 / 3, 2 / 3]) retries.push(setTimeout(transmit, p.timeoutMs * frac));
  });
}

function probeIcmpPing(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = now();
    const size = clampInt(p.size ?? 56, 16, 65_000);
    const wait = Math.max(1, Math.ceil(p.timeoutMs / 1000));
    const ping = [
      'ping',
      '-n',
      '-c',
      '1',
      '-W',
      String(wait),
      '-s',
      String(size),
      ...(p.df ? ['-M', 'do'] : []),
      p.ip,
    ];
    const [file, ...args] = ctx.local ? ping : ['nsenter', '-t', String(ctx.pid), '-n', ...ping];
    let out = '';
    let done = false;
    const finish = (r: Omit<ProbeResult, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: round(now() - t0), sent: 1 });
    };
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ outcome: 'timeout' });
    }, p.timeoutMs + 500);
    const collect = (d: Buffer) => {
      if (out.length < 8192) out += d;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (e: NodeJS.ErrnoException) =>
      finish({ outcome: 'error', code: e.code, detail: `${file}: ${e.message}` }),
    );
    child.on('close', (code) => {
      const rtt = /time=([\d.]+) ms/.exec(out);
      const unreach = /From (\S+).*[Uu]nreachable.*/.exec(out);
      if (code === 0) finish({ outcome: 'pass', from: p.ip, ...(rtt ? { detail: `rtt ${rtt[1]} ms` } : {}) });
      else if (unreach)
        finish({ outcome: 'unreachable', from: unreach[1], code: 'ICMP', detail: unreach[0] });
      else if (/Network is unreachable|No route to host/.test(out))
        finish({ outcome: 'unreachable', code: 'ENETUNREACH', detail: out.trim().split('\n')[0] });
      else if (/[Mm]essage too long|mtu/.test(out))
        finish({ outcome: 'error', code: 'EMSGSIZE', detail: out.trim().split('\n')[0] });
      else if (code === 1) finish({ outcome: 'timeout', code: 'ping exit 1' });
      else
        finish({ outcome: 'error', code: `ping exit ${code}`, detail: out.trim().split('\n').slice(-1)[0] });
    });
  });
}

function runProbe(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  const spec = { ...p, timeoutMs: clampInt(p.timeoutMs, 50, 10_000) };
  if (!net.isIPv4(spec.ip))
    return Promise.resolve({ outcome: 'error', ms: 0, detail: `not an IPv4 address: ${spec.ip}` });
  if (spec.proto !== 'icmp' && !(Number.isInteger(spec.port) && spec.port! > 0 && spec.port! < 65_536))
    return Promise.resolve({ outcome: 'error', ms: 0, detail: `bad port ${spec.port}` });
  switch (spec.proto) {
    case 'tcp':
      return probeTcp(ctx, spec);
    case 'udp':
      return probeUdp(ctx, spec);
    case 'icmp':
      return ctx.icmp && !spec.ownSocket ? probeIcmpSocket(ctx, ctx.icmp, spec) : probeIcmpPing(ctx, spec);
    default:
      return Promise.resolve({ outcome: 'error', ms: 0, detail: `unknown protocol ${String(spec.proto)}` });
  }
}

// Bounded concurrency: at most CONCURRENCY probes per node and GLOBAL_CONCURRENCY per process; nodes with waiting
// probes take turns (round robin), so one busy node never starves the others. At most MAX_QUEUE wait in total.
let running = 0;
let queued = 0;
const ready: Ctx[] = [];

function pump(): void {
  // each turn either starts a probe or drops a node from the ring: at most ready.length + started turns
  let idle = 0;
  while (running < GLOBAL_CONCURRENCY && ready.length && idle < ready.length) {
    const ctx = ready.shift()!;
    if (!ctx.queue.length) {
      idle = 0;
      continue;
    }
    if (ctx.running >= CONCURRENCY) {
      ready.push(ctx);
      idle++;
      continue;
    }
    idle = 0;
    const start = ctx.queue.shift()!;
    queued--;
    if (ctx.queue.length) ready.push(ctx);
    start();
  }
}

function schedule(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  if (queued >= MAX_QUEUE) return Promise.resolve({ outcome: 'error', ms: 0, detail: 'agent queue full' });
  return new Promise((resolve) => {
    ctx.queue.push(() => {
      running++;
      ctx.running++;
      runProbe(ctx, p)
        .catch((e: Error) => ({ outcome: 'error' as const, ms: 0, detail: e.message }))
        .then((r) => {
          running--;
          ctx.running--;
          if (ctx.queue.length && !ready.includes(ctx)) ready.push(ctx);
          resolve(r);
          pump();
        });
    });
    queued++;
    if (!ready.includes(ctx)) ready.push(ctx);
    pump();
  });
}

// ---------------------------------------------------------------- counters

/** SNMP counters of a netns, named like nstat names them: "TcpInCsumErrors", "UdpInCsumErrors", "TcpExtListenDrops". */
function readCounters(ctx: Ctx): Record<string, number> {
  const out: Record<string, number> = {};
  const dir = ctx.local ? '/proc/net' : `/proc/${ctx.pid}/net`;
  for (const file of [`${dir}/snmp`, `${dir}/netstat`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const head = lines[i]!.split(/\s+/);
      const vals = lines[i + 1]!.split(/\s+/);
      if (vals[0] !== head[0]) break;
      const group = head[0]!.replace(/:$/, '');
      for (let k = 1; k < head.length && k < vals.length; k++) {
        const v = Number(vals[k]);
        if (head[k] && Number.isFinite(v)) out[`${group}${head[k]}`] = v;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- broker manifest

/**
 * LABCTL_MANIFEST: one entry per node, separated by spaces; fields separated by "|":
 *   node|pid|i:FD|t:RANGES|u:RANGES|ltcp/WANT:PORT@FD|ludp/WANT!ERRNO|e:text
 * i = ICMP socket (or i!ERRNO), t/u = unused TCP/UDP client sockets ("5-40,43"), l = a bound listening socket
 * (TCP already listening) or the errno that stopped it; e = any other error of that step.
 */
export interface ManifestNode {
  node: string;
  pid: number;
  icmpFd?: number;
  tcp: number[];
  udp: number[];
  listeners: { proto: 'tcp' | 'udp'; want: number; port?: number; fd?: number; code?: string }[];
  errors: string[];
}

function ranges(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let fd = a; fd <= b && out.length < 1_000_000; fd++) out.push(fd);
  }
  return out;
}

export function parseManifest(text: string): ManifestNode[] {
  const out: ManifestNode[] = [];
  for (const entry of text.trim().split(/\s+/)) {
    if (!entry) continue;
    const [node = '', pid = '0', ...fields] = entry.split('|');
    const n: ManifestNode = { node, pid: Number(pid), tcp: [], udp: [], listeners: [], errors: [] };
    for (const f of fields) {
      const icmp = /^i:(\d+)$/.exec(f);
      const icmpErr = /^i!(\S+)$/.exec(f);
      const socks = /^([tu]):([\d,-]*)$/.exec(f);
      const sockErr = /^([tu])!(\S+)$/.exec(f);
      const lis = /^l(tcp|udp)\/(\d+):(\d+)@(\d+)$/.exec(f);
      const lisErr = /^l(tcp|udp)\/(\d+)!(\S+)$/.exec(f);
      const other = /^e:(.*)$/.exec(f);
      if (icmp) n.icmpFd = Number(icmp[1]);
      else if (icmpErr) n.errors.push(`icmp: ${icmpErr[1]}`);
      else if (socks) (socks[1] === 't' ? n.tcp : n.udp).push(...ranges(socks[2]!));
      else if (sockErr) n.errors.push(`${sockErr[1] === 't' ? 'tcp' : 'udp'}: ${sockErr[2]}`);
      else if (lis)
        n.listeners.push({
          proto: lis[1] as 'tcp' | 'udp',
          want: Number(lis[2]),
          port: Number(lis[3]),
          fd: Number(lis[4]),
        });
      else if (lisErr)
        n.listeners.push({ proto: lisErr[1] as 'tcp' | 'udp', want: Number(lisErr[2]), code: lisErr[3] });
      else if (other) n.errors.push(other[1]!);
    }
    out.push(n);
  }
  return out;
}

async function setupBroker(text: string): Promise<void> {
  for (const m of parseManifest(text)) {
    const ctx = newCtx(m.node, m.pid, false);
    ctx.tcpFds = m.tcp;
    ctx.udpFds = m.udp;
    ctx.errors.push(...m.errors);
    nodes.set(m.node, ctx);
    if (!defaultNode) defaultNode = m.node;
    if (m.icmpFd !== undefined) await openIcmp(ctx, m.icmpFd);
    for (const l of m.listeners) {
      if (l.fd === undefined) {
        ctx.listeners.set(`${l.proto}/${l.want}`, {
          state: { proto: l.proto, want: l.want, code: l.code },
          close: () => {},
        });
        continue;
      }
      try {
        if (l.proto === 'tcp') await listenTcp(ctx, l.want, l.port!, l.fd);
        else await listenUdp(ctx, l.want, l.port!, l.fd);
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
}

function nodeState(ctx: Ctx): NodeState {
  return {
    node: ctx.node,
    pid: ctx.pid,
    icmp: ctx.icmp ? 'socket' : 'ping',
    listeners: [...ctx.listeners.values()].map((l) => l.state),
    tcp: ctx.tcpFds ? ctx.tcpFds.length : -1,
    udp: ctx.udpFds ? ctx.udpFds.length : -1,
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
        const r = await listenLocal(ctx, req.proto, req.port, clampInt(req.tries ?? 0, 0, 64));
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
    try {
      ctx.icmp?.close();
    } catch {
      // closing anyway
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

// run only as a program, not when imported (unit tests import parseManifest)
const isMain =
  env.LABCTL_AGENT === '1' ||
  (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href);
if (isMain) void main();
