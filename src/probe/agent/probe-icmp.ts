/**
 * ICMP echo probes: through the datagram ICMP socket the launcher opened (node has no raw sockets), or, without one
 * (or for a probe that needs its own identifier), `ping -c 1` (local mode: the child inherits the netns; broker:
 * through nsenter).
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../protocol.js';
import { classifyErrno } from './errors.js';
import { type Ctx, clampInt, now, round } from './node.js';

// ICMP through a datagram ICMP socket: the kernel fills in the identifier and the checksum, and hands this socket
// the echo replies for its identifier. Requests are matched to probes by sequence number and payload.
// The IPv6 twin is a datagram ICMPv6 socket (socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6)): echo request type 128,
// reply 129, the same 8-byte header; the kernel fills in the checksum (over the IPv6 pseudo-header) too.
export function openIcmp(ctx: Ctx, fd: number, v6 = false): Promise<void> {
  const tag = v6 ? 'icmp6' : 'icmp';
  const replyType = v6 ? 129 : 0;
  const pendingMap = v6 ? ctx.icmp6Pending : ctx.icmpPending;
  return new Promise<void>((resolve) => {
    try {
      const s = dgram.createSocket(v6 ? 'udp6' : 'udp4');
      s.once('error', (e) => {
        ctx.errors.push(`${tag}: ${(e as NodeJS.ErrnoException).code ?? e.message}`);
        resolve();
      });
      s.bind({ fd }, () => {
        s.removeAllListeners('error');
        s.on('error', () => {});
        s.on('message', (m, r) => {
          // echo reply: type 0 (ICMPv6: 129); 8-byte header; sequence number at offset 6
          if (m.length < 8 || m[0] !== replyType) return;
          const pending = pendingMap.get(m.readUInt16BE(6));
          if (pending && m.subarray(8).equals(pending.payload)) pending.onReply(r.address);
        });
        if (v6) ctx.icmp6 = s;
        else ctx.icmp = s;
        resolve();
      });
    } catch (e) {
      ctx.errors.push(`${tag}: ${(e as Error).message}`);
      resolve();
    }
  });
}

function icmpPayload(token: string, size: number): Buffer {
  const b = Buffer.alloc(size, 0x2e);
  Buffer.from(token).copy(b, 0, 0, Math.min(size, Buffer.byteLength(token)));
  return b;
}

export function probeIcmpSocket(ctx: Ctx, s: dgram.Socket, p: ProbeSpec, v6 = false): Promise<ProbeResult> {
  const pendingMap = v6 ? ctx.icmp6Pending : ctx.icmpPending;
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
      for (const q of seqs) pendingMap.delete(q);
      resolve({ ...r, ms: round(ms), sent });
    };
    let unsent = 0;
    const timer = setTimeout(() => {
      // A send that never completed: the kernel refused it with ENOBUFS (e.g. the host's neighbour table is full),
      // which libuv retries for ever, spinning this process and holding every later send of the socket behind it.
      // Close the socket (that cancels the queue) and let this node's later ICMP probes spawn ping instead.
      if (unsent > 0 && (ctx.icmp === s || ctx.icmp6 === s)) {
        if (v6) ctx.icmp6 = undefined;
        else ctx.icmp = undefined;
        ctx.errors.push(
          `${v6 ? 'icmp6' : 'icmp'}: a send did not complete within the probe limit (ENOBUFS?): socket closed, using ping`,
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
        if (!pendingMap.has(ctx.icmpSeq)) {
          seq = ctx.icmpSeq;
          break;
        }
      }
      if (seq < 0) return finish({ outcome: 'error', detail: 'no free ICMP sequence number' });
      const pkt = Buffer.alloc(8 + size);
      pkt[0] = v6 ? 128 : 8; // echo request
      pkt.writeUInt16BE(seq, 6);
      payload.copy(pkt, 8);
      seqs.push(seq);
      pendingMap.set(seq, {
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

export function probeIcmpPing(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = now();
    const size = clampInt(p.size ?? 56, 16, 65_000);
    const wait = Math.max(1, Math.ceil(p.timeoutMs / 1000));
    const ping = [
      'ping',
      ...(net.isIPv6(p.ip) ? ['-6'] : []),
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
