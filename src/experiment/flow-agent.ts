/**
 * The flow agent of `labctl run` (docs/experiments.md): one process per node, started inside that node's network
 * namespace (`nsenter -t PID -n perl -e LAUNCHER node flow-agent.js`, see agents.ts). It
 * - serves echo listeners (TCP: echoes every byte on every connection; UDP: echoes every datagram), and
 * - sends flows: numbered, timestamped packets at a fixed rate — ICMP echo requests through a datagram ICMP socket
 *   the launcher opened, UDP datagrams to an echo listener, or numbered messages on ONE long-lived TCP connection —
 *   and records every echo that comes back: its number, when it was sent and when it arrived.
 * Loss is counted from sequence numbers at the receiver (here: the echoes), never estimated.
 *
 * Protocol: newline-delimited JSON. Host → agent: {op:"listen",proto,port} {op:"flow",id,proto,ip,port,rate}
 * {op:"target",id,ip} {op:"stop",id} {op:"exit"}. Agent → host: {ev:"hello",pid,icmp} {ev:"listening",…}
 * {ev:"batch",id,tx:[[seq,t]…],rx:[[seq,sentT,rxT]…]} {ev:"tcp",id,state,code?,t} {ev:"stopped",id,sent}.
 * Times are epoch ms with fractions (performance.timeOrigin + performance.now()), comparable with the host's.
 *
 * Bounded: a lifetime limit (LABCTL_FLOW_LIFETIME_MS, default 1 h), at most 64 flows and 64 listeners, at most
 * 256 echo connections, and it exits when stdin closes. Imports nothing but node built-ins: it must start fast.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const LIFETIME_MS = Math.min(
  Number(process.env.LABCTL_FLOW_LIFETIME_MS ?? 3_600_000) || 3_600_000,
  86_400_000,
);
const MAX_FLOWS = 64;
const MAX_LISTENERS = 64;
const MAX_CONNS = 256;
/** a flow's packet: magic, flow id, sequence number, send time; padded to PAYLOAD bytes */
const MAGIC = 0x4c424658; // "LBFX"
const PAYLOAD = 56;
const BATCH_MS = 100;

const now = () => performance.timeOrigin + performance.now();

function emit(msg: object): void {
  process.stdout.write(`${JSON.stringify(msg)}\n`);
}

// ------------------------------------------------------------------ listeners

const listeners = new Map<string, { close(): void }>();
let conns = 0;

function listen(proto: 'tcp' | 'udp', port: number): void {
  const key = `${proto}/${port}`;
  if (listeners.has(key)) {
    emit({ ev: 'listening', proto, port });
    return;
  }
  if (listeners.size >= MAX_LISTENERS) {
    emit({ ev: 'listen-error', proto, port, code: 'ETOOMANY' });
    return;
  }
  if (proto === 'udp') {
    const s = dgram.createSocket('udp4');
    s.once('error', (e: NodeJS.ErrnoException) =>
      emit({ ev: 'listen-error', proto, port, code: e.code ?? e.message }),
    );
    s.on('message', (m, r) => {
      if (m.length <= 1500) s.send(m, r.port, r.address, () => {});
    });
    s.bind(port, '0.0.0.0', () => {
      s.removeAllListeners('error');
      s.on('error', () => {});
      listeners.set(key, { close: () => s.close() });
      emit({ ev: 'listening', proto, port });
    });
    return;
  }
  const server = net.createServer((sock) => {
    if (conns >= MAX_CONNS) return sock.destroy();
    conns++;
    sock.setNoDelay(true);
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns--);
    sock.on('data', (d) => sock.write(d));
    sock.on('end', () => sock.end());
  });
  server.once('error', (e: NodeJS.ErrnoException) =>
    emit({ ev: 'listen-error', proto, port, code: e.code ?? e.message }),
  );
  server.listen({ port, host: '0.0.0.0', backlog: 128 }, () => {
    server.removeAllListeners('error');
    server.on('error', () => {});
    listeners.set(key, { close: () => server.close() });
    emit({ ev: 'listening', proto, port });
  });
}

// ------------------------------------------------------------------ flows

interface Flow {
  id: number;
  proto: 'icmp' | 'udp' | 'tcp';
  ip: string;
  port: number;
  intervalMs: number;
  seq: number;
  /** send slots passed (a closed tcp session skips its slots: sent counts what was written) */
  tick: number;
  startT: number;
  timer?: NodeJS.Timeout;
  tx: [number, number][];
  rx: [number, number, number][];
  udp?: dgram.Socket;
  tcp?: net.Socket;
  tcpBuf: string;
  stopped: boolean;
}

const flows = new Map<number, Flow>();
let icmp: dgram.Socket | undefined;
let icmpError = '';

function packet(f: Flow, seq: number, t: number): Buffer {
  const b = Buffer.alloc(PAYLOAD, 0x2e);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt32BE(f.id, 4);
  b.writeUInt32BE(seq, 8);
  b.writeDoubleBE(t, 12);
  return b;
}

/** [flow id, seq, sent time] of one of our packets, or undefined */
function parse(b: Buffer): [number, number, number] | undefined {
  if (b.length < 20 || b.readUInt32BE(0) !== MAGIC) return undefined;
  return [b.readUInt32BE(4), b.readUInt32BE(8), b.readDoubleBE(12)];
}

function received(id: number, seq: number, sentT: number): void {
  const f = flows.get(id);
  if (f && seq >= 1 && seq <= f.seq) f.rx.push([seq, sentT, now()]);
}

function openIcmp(done: () => void): void {
  const fd = Number(process.env.LABCTL_FLOW_ICMP_FD);
  if (!process.env.LABCTL_FLOW_ICMP_FD || !Number.isInteger(fd) || fd < 0) {
    icmpError = process.env.LABCTL_FLOW_ICMP_ERR || 'no ICMP socket (the launcher could not open one)';
    done();
    return;
  }
  const s = dgram.createSocket('udp4');
  s.once('error', (e: NodeJS.ErrnoException) => {
    icmpError = e.code ?? e.message;
    done();
  });
  s.bind({ fd }, () => {
    s.removeAllListeners('error');
    s.on('error', () => {});
    s.on('message', (m) => {
      // echo reply: type 0, 8-byte header, then our payload
      if (m.length < 8 || m[0] !== 0) return;
      const p = parse(m.subarray(8));
      if (p) received(p[0], p[1], p[2]);
    });
    icmp = s;
    done();
  });
}

function sendOne(f: Flow): void {
  f.tick++;
  if (f.proto === 'tcp' && (!f.tcp || f.tcp.destroyed)) return;
  const seq = ++f.seq;
  const t = now();
  f.tx.push([seq, t]);
  const body = packet(f, seq, t);
  if (f.proto === 'icmp') {
    const h = Buffer.alloc(8);
    h[0] = 8; // echo request; the kernel fills in the identifier and the checksum
    h.writeUInt16BE(seq & 0xffff, 6);
    // the kernel ignores the port of an ICMP socket; node insists on one
    icmp?.send(Buffer.concat([h, body]), 1, f.ip, () => {});
  } else if (f.proto === 'udp') {
    f.udp?.send(body, f.port, f.ip, () => {});
  } else if (f.tcp && !f.tcp.destroyed) {
    f.tcp.write(`${f.id} ${seq} ${t}\n`);
  }
}

function schedule(f: Flow): void {
  if (f.stopped) return;
  // absolute times: start + k·interval, so timer lateness never slows the rate down
  const due = f.startT + f.tick * f.intervalMs;
  f.timer = setTimeout(
    () => {
      if (f.stopped) return;
      try {
        sendOne(f);
      } catch (e) {
        emit({ ev: 'flow-error', id: f.id, detail: `send: ${(e as Error).message}` });
      }
      schedule(f);
    },
    Math.max(0, due - now()),
  );
}

function startFlow(m: { id: number; proto: Flow['proto']; ip: string; port?: number; rate: number }): void {
  if (flows.has(m.id) || flows.size >= MAX_FLOWS) {
    emit({ ev: 'flow-error', id: m.id, detail: 'too many flows' });
    return;
  }
  const f: Flow = {
    id: m.id,
    proto: m.proto,
    ip: m.ip,
    port: m.port ?? 0,
    intervalMs: 1000 / Math.min(1000, Math.max(0.1, m.rate)),
    seq: 0,
    tick: 0,
    startT: now(),
    tx: [],
    rx: [],
    tcpBuf: '',
    stopped: false,
  };
  if (f.proto === 'icmp' && !icmp) {
    emit({ ev: 'flow-error', id: f.id, detail: `icmp: ${icmpError || 'no socket'}` });
    return;
  }
  flows.set(f.id, f);
  if (f.proto === 'udp') {
    const s = dgram.createSocket('udp4');
    s.on('error', () => {});
    s.on('message', (msg) => {
      const p = parse(msg);
      if (p) received(p[0], p[1], p[2]);
    });
    f.udp = s;
  }
  if (f.proto === 'tcp') {
    const s = net.connect({ host: f.ip, port: f.port });
    s.setNoDelay(true);
    s.setEncoding('latin1');
    f.tcp = s;
    s.on('connect', () => emit({ ev: 'tcp', id: f.id, state: 'connected', t: now() }));
    s.on('data', (d: string) => {
      f.tcpBuf += d;
      let nl = f.tcpBuf.indexOf('\n');
      while (nl >= 0) {
        const [id, seq, t] = f.tcpBuf.slice(0, nl).split(' ').map(Number);
        if (id !== undefined && seq !== undefined && t !== undefined) received(id, seq, t);
        f.tcpBuf = f.tcpBuf.slice(nl + 1);
        nl = f.tcpBuf.indexOf('\n');
      }
      if (f.tcpBuf.length > 4096) f.tcpBuf = '';
    });
    s.on('error', (e: NodeJS.ErrnoException) =>
      emit({ ev: 'tcp', id: f.id, state: 'error', code: e.code ?? e.message, t: now() }),
    );
    s.on('end', () => emit({ ev: 'tcp', id: f.id, state: 'closed', t: now() }));
  }
  schedule(f); // the first packet is due now
}

function flushBatches(): void {
  for (const f of flows.values()) {
    if (!f.tx.length && !f.rx.length) continue;
    emit({ ev: 'batch', id: f.id, tx: f.tx, rx: f.rx });
    f.tx = [];
    f.rx = [];
  }
}

function stopFlow(id: number): void {
  const f = flows.get(id);
  if (!f || f.stopped) return;
  f.stopped = true;
  clearTimeout(f.timer);
  flushBatches();
  emit({ ev: 'stopped', id, sent: f.seq, t: now() });
}

// ------------------------------------------------------------------ control

function onLine(line: string): void {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return;
  }
  switch (m.op) {
    case 'listen':
      if ((m.proto === 'tcp' || m.proto === 'udp') && Number.isInteger(m.port))
        listen(m.proto, m.port as number);
      break;
    case 'flow':
      startFlow(m as unknown as Parameters<typeof startFlow>[0]);
      break;
    case 'target': {
      const f = flows.get(m.id as number);
      if (f && typeof m.ip === 'string' && net.isIPv4(m.ip)) f.ip = m.ip;
      break;
    }
    case 'stop':
      stopFlow(m.id as number);
      break;
    case 'exit':
      shutdown();
      break;
  }
}

function shutdown(): void {
  flushBatches();
  for (const f of flows.values()) {
    f.stopped = true;
    clearTimeout(f.timer);
    f.udp?.close();
    f.tcp?.destroy();
  }
  for (const l of listeners.values()) l.close();
  icmp?.close();
  process.stdout.write('', () => process.exit(0));
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d: string) => {
  buf += d;
  let nl = buf.indexOf('\n');
  while (nl >= 0) {
    onLine(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
    nl = buf.indexOf('\n');
  }
});
process.stdin.on('end', shutdown);
process.on('uncaughtException', (e) => {
  process.stderr.write(`flow agent: ${e.stack ?? e.message}\n`);
  shutdown();
});
setInterval(flushBatches, BATCH_MS).unref();
setTimeout(shutdown, LIFETIME_MS).unref();
// hello once the ICMP socket is bound (or known to be missing)
openIcmp(() => emit({ ev: 'hello', pid: process.pid, icmp: icmp ? 'socket' : icmpError || 'none' }));
